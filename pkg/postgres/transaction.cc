#include "pkg/postgres/transaction.h"

#include <algorithm>
#include <cmath>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <thread>

#include "pkg/postgres/errors.h"

namespace coffer::postgres {
namespace {

template <pqxx::isolation_level kLevel, pqxx::readwrite_policy kRw>
absl::Status AttemptAt(pqxx::connection& conn, const TransactionFn& fn) {
  // The isolation level and access mode travel with BEGIN in the same round trip.
  pqxx::transaction<kLevel, kRw> txn(conn);
  absl::Status status = fn(txn);
  if (!status.ok()) {
    txn.abort();
    return status;
  }
  txn.commit();
  return absl::OkStatus();
}

template <pqxx::readwrite_policy kRw>
absl::Status Attempt(pqxx::connection& conn, IsolationLevel isolation, const TransactionFn& fn) {
  switch (isolation) {
    case IsolationLevel::kReadCommitted:
      return AttemptAt<pqxx::read_committed, kRw>(conn, fn);
    case IsolationLevel::kRepeatableRead:
      return AttemptAt<pqxx::repeatable_read, kRw>(conn, fn);
    case IsolationLevel::kSerializable:
      return AttemptAt<pqxx::serializable, kRw>(conn, fn);
  }
  return absl::InvalidArgumentError("unknown isolation level");
}

std::mt19937_64& ThreadRng() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng;
}

enum class Mode { kReadWrite, kReadOnly, kAutocommitRead, kAutocommitWrite };

absl::Status Attempt(pqxx::connection& conn, IsolationLevel isolation, Mode mode,
                     const TransactionFn& fn) {
  switch (mode) {
    case Mode::kReadWrite:
      return Attempt<pqxx::read_write>(conn, isolation, fn);
    case Mode::kReadOnly:
      return Attempt<pqxx::read_only>(conn, isolation, fn);
    case Mode::kAutocommitRead:
    case Mode::kAutocommitWrite: {
      pqxx::nontransaction txn(conn);  // sends nothing: no BEGIN, no COMMIT
      return fn(txn);
    }
  }
  return absl::InvalidArgumentError("unknown transaction mode");
}

absl::Status Run(ConnectionPool& pool, IsolationLevel isolation, Mode mode, const TransactionFn& fn,
                 const RetryPolicy& policy) {
  const int max_attempts = std::max(1, policy.max_attempts);
  absl::Status last;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(RetryBackoff(policy, attempt - 1, ThreadRng()));
    auto lease = pool.Acquire();
    if (!lease.ok()) return lease.status();
    bool from_exception = false;
    bool lost_prepared = false;
    try {
      last = Attempt(lease->get(), isolation, mode, fn);
    } catch (const pqxx::sql_error& e) {
      last = StatusFromCurrentException();
      from_exception = true;
      // 26000 invalid_sql_statement_name: the session lost a statement libpqxx believes is
      // prepared (DEALLOCATE ALL / DISCARD ALL on it, or a pooler that moved us to another
      // backend). Nothing ran, so even a write is safe to retry, on a fresh connection.
      lost_prepared = e.sqlstate() == "26000";
    } catch (...) {
      last = StatusFromCurrentException();
      from_exception = true;
    }
    if (last.ok()) return last;
    if (!lease->get().is_open()) lease->MarkBroken();
    if (lost_prepared) {
      lease->MarkBroken();
      continue;
    }
    // In autocommit a non-idempotent statement may have committed before its connection broke.
    if (mode == Mode::kAutocommitWrite && from_exception &&
        last.code() == absl::StatusCode::kUnavailable) {
      lease->MarkBroken();
      return absl::UnknownError("connection lost during a write; it may have committed: " +
                                std::string(last.message()));
    }
    const bool retryable = last.code() == absl::StatusCode::kAborted ||
                           (from_exception && last.code() == absl::StatusCode::kUnavailable);
    if (!retryable) return last;
  }
  return absl::Status(last.code(), "transaction gave up after " + std::to_string(max_attempts) +
                                       " attempts: " + std::string(last.message()));
}

}  // namespace

void SetLocalTimeouts(pqxx::transaction_base& txn, std::chrono::milliseconds statement_timeout,
                      std::chrono::milliseconds idle_in_transaction_timeout) {
  txn.exec_params(
      "SELECT set_config('statement_timeout', $1, true),"
      " set_config('idle_in_transaction_session_timeout', $2, true)",
      std::to_string(statement_timeout.count()),
      std::to_string(idle_in_transaction_timeout.count()));
}

std::chrono::microseconds RetryBackoff(const RetryPolicy& policy, int retry, std::mt19937_64& rng) {
  const double initial_us =
      std::chrono::duration_cast<std::chrono::microseconds>(policy.initial_backoff).count();
  const double max_us =
      std::chrono::duration_cast<std::chrono::microseconds>(policy.max_backoff).count();
  const double cap =
      std::min(max_us, initial_us * std::pow(std::max(1.0, policy.multiplier), retry - 1));
  if (cap <= 0) return std::chrono::microseconds(0);
  std::uniform_real_distribution<double> dist(0, cap);
  return std::chrono::microseconds(static_cast<int64_t>(dist(rng)));
}

absl::Status RunInTransaction(ConnectionPool& pool, IsolationLevel isolation,
                              const TransactionFn& fn, const RetryPolicy& policy) {
  return Run(pool, isolation, Mode::kReadWrite, fn, policy);
}

absl::Status RunInReadOnlyTransaction(ConnectionPool& pool, IsolationLevel isolation,
                                      const TransactionFn& fn, const RetryPolicy& policy) {
  return Run(pool, isolation, Mode::kReadOnly, fn, policy);
}

absl::Status RunSingleStatement(ConnectionPool& pool, Statement kind, const TransactionFn& fn,
                                const RetryPolicy& policy) {
  return Run(pool, IsolationLevel::kReadCommitted,
             kind == Statement::kIdempotent ? Mode::kAutocommitRead : Mode::kAutocommitWrite, fn,
             policy);
}

}  // namespace coffer::postgres
