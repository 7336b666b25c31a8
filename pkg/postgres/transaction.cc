#include "pkg/postgres/transaction.h"

#include <algorithm>
#include <cmath>
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

absl::Status Run(ConnectionPool& pool, IsolationLevel isolation, bool read_only,
                 const TransactionFn& fn, const RetryPolicy& policy) {
  const int max_attempts = std::max(1, policy.max_attempts);
  absl::Status last;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(RetryBackoff(policy, attempt - 1, ThreadRng()));
    auto lease = pool.Acquire();
    if (!lease.ok()) return lease.status();
    bool from_exception = false;
    try {
      last = read_only ? Attempt<pqxx::read_only>(lease->get(), isolation, fn)
                       : Attempt<pqxx::read_write>(lease->get(), isolation, fn);
    } catch (...) {
      last = StatusFromCurrentException();
      from_exception = true;
    }
    if (last.ok()) return last;
    if (!lease->get().is_open()) lease->MarkBroken();
    const bool retryable = last.code() == absl::StatusCode::kAborted ||
                           (from_exception && last.code() == absl::StatusCode::kUnavailable);
    if (!retryable) return last;
  }
  return absl::Status(last.code(), "transaction gave up after " + std::to_string(max_attempts) +
                                       " attempts: " + std::string(last.message()));
}

}  // namespace

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
  return Run(pool, isolation, /*read_only=*/false, fn, policy);
}

absl::Status RunInReadOnlyTransaction(ConnectionPool& pool, IsolationLevel isolation,
                                      const TransactionFn& fn, const RetryPolicy& policy) {
  return Run(pool, isolation, /*read_only=*/true, fn, policy);
}

}  // namespace coffer::postgres
