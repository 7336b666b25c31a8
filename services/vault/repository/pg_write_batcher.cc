#include "services/vault/repository/pg_write_batcher.h"

#include <algorithm>
#include <set>

#include "pkg/postgres/prepared.h"
#include "pkg/status/status.h"
#include "services/vault/repository/sql.h"

namespace coffer::vault::repository {
namespace {

// Errors one statement of a batch causes by itself (its data or its rows), after which the other
// writes deserve their own try. Not: a lost connection, a conflict, a timeout or an exhausted
// server, which would only repeat once per write.
bool RerunAlone(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kInternal:
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::StatusOr<pqxx::result> PgWriteBatcher::Run(const std::string& space_id,
                                                 const Statement& statement) {
  if (config_.max_batch <= 1) {
    pqxx::result rows;
    // One statement (a CTE): autocommit makes it one round trip (DESIGN §9).
    COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
        pool_, postgres::Statement::kNotIdempotent,
        [&](pqxx::transaction_base& txn) -> absl::Status {
          rows = statement(txn);
          return absl::OkStatus();
        },
        config_.retry));
    return rows;
  }
  Pending mine{&space_id, &statement};
  std::unique_lock lock(mu_);
  queue_.push_back(&mine);
  while (!mine.done) {
    if (leaders_ < config_.max_leaders && !queue_.empty()) {
      ++leaders_;
      const size_t n = std::min(queue_.size(), static_cast<size_t>(config_.max_batch));
      std::vector<Pending*> batch(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
      lock.unlock();
      try {
        RunBatch(batch);
      } catch (const std::exception& e) {
        // Outside the transaction (allocation): complete the batch, never leave a waiter behind.
        std::lock_guard guard(mu_);
        for (Pending* p : batch) {
          if (p->done) continue;
          p->result = absl::InternalError(std::string("write batch failed: ") + e.what());
          p->done = true;
        }
      }
      lock.lock();
      --leaders_;
      done_cv_.notify_all();
    } else {
      done_cv_.wait(lock);
    }
  }
  return std::move(mine.result);
}

absl::Status PgWriteBatcher::RunTransaction(const std::vector<Pending*>& batch,
                                            std::vector<pqxx::result>& results) {
  std::set<std::string> spaces;
  for (const Pending* p : batch) spaces.insert(*p->space_id);
  const std::string space_array = postgres::ArrayLiteral(spaces);
  return postgres::RunInTransaction(
      pool_, postgres::IsolationLevel::kReadCommitted,
      [&](pqxx::transaction_base& txn) -> absl::Status {
        results.assign(batch.size(), pqxx::result());
        postgres::ExecPrepared(txn, sql::kLockSpaces, space_array);
        for (size_t i = 0; i < batch.size(); ++i) results[i] = (*batch[i]->statement)(txn);
        if (config_.before_commit_for_test) config_.before_commit_for_test(txn);
        return absl::OkStatus();
      },
      config_.retry);
}

void PgWriteBatcher::RunBatch(const std::vector<Pending*>& batch) {
  std::vector<pqxx::result> results;
  absl::Status status = RunTransaction(batch, results);
  std::vector<absl::StatusOr<pqxx::result>> outcomes;
  if (status.ok()) {
    for (pqxx::result& r : results) outcomes.emplace_back(std::move(r));
  } else if (batch.size() > 1 && RerunAlone(status)) {
    // Not the connection nor a conflict: one of the statements failed. Run each alone, so only
    // that write fails.
    for (Pending* p : batch) {
      std::vector<pqxx::result> alone;
      absl::Status s = RunTransaction({p}, alone);
      if (s.ok()) {
        outcomes.emplace_back(std::move(alone.front()));
      } else {
        outcomes.emplace_back(s);
      }
    }
  } else {
    for (size_t i = 0; i < batch.size(); ++i) outcomes.emplace_back(status);
  }
  std::lock_guard lock(mu_);
  if (status.ok()) {
    ++stats_.batches;
    stats_.writes += static_cast<int64_t>(batch.size());
    stats_.largest = std::max(stats_.largest, static_cast<int64_t>(batch.size()));
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i]->result = std::move(outcomes[i]);
    batch[i]->done = true;
  }
}

PgWriteBatcher::Stats PgWriteBatcher::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.queued = static_cast<int64_t>(queue_.size());
  return s;
}

}  // namespace coffer::vault::repository
