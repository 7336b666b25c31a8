// PgWriteBatcher: group commit for local writes (docs/architecture.md §3b). Concurrent writes of
// any users on one replica share ONE PostgreSQL transaction, so PostgreSQL pays one commit and one
// WAL flush for many writes, as etcd batches its proposals.
//
// How: a write queues itself; while fewer than `max_leaders` batches are in flight, the writing
// thread becomes a leader, takes up to `max_batch` queued writes (its own or older ones) and runs
// them in one READ COMMITTED transaction, one statement each, in queue order; the others wait.
// Each write keeps its own check-and-set (a statement whose state moved on returns no row, as
// alone) and gets its own result. The transaction first takes the commit-order locks of every
// space in the batch in key order (sql::kLockSpaces, as merge batches do), so batches, merges and
// the writes' own per-statement locks never wait for each other in a cycle.
//
// Failure: a batch that fails applies nothing (one transaction) and each of its writes fails with
// the batch's error; a connection lost before the commit is UNAVAILABLE (retryable; the runner
// also retries such a batch and one PostgreSQL aborted, per `retry`); a connection lost during
// COMMIT is UNKNOWN, as for a single statement. When a batch of several writes fails for another
// reason (an error of one statement), every write of it is run again alone, so one bad write fails
// only its own call.
//
// max_batch 1 turns batching off: every write is one autocommit statement (the default; see
// docs/benchmarks.md "Group commit" for what batching measured).
//
// Lifecycle: borrows the pool. Threading: thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <pqxx/result>
#include <pqxx/transaction_base>
#include <string>

#include "absl/status/statusor.h"
#include "pkg/postgres/connection_pool.h"
#include "pkg/postgres/transaction.h"

namespace coffer::vault::repository {

struct WriteBatcherConfig {
  // Writes per transaction at most; 1 = no batching.
  int max_batch = 1;
  // Batches in flight at once (each holds a pooled connection while it runs).
  int max_leaders = 4;
  // Retries of a whole batch that PostgreSQL aborted or whose connection broke before COMMIT.
  postgres::RetryPolicy retry;
  // Test hook: runs inside each batch's transaction after its statements, before COMMIT.
  std::function<void(pqxx::transaction_base&)> before_commit_for_test;
};

class PgWriteBatcher {
 public:
  // One write: exactly one statement; it may run more than once (per attempt), so it only
  // returns what the statement returned.
  using Statement = std::function<pqxx::result(pqxx::transaction_base&)>;

  PgWriteBatcher(postgres::ConnectionPool& pool, WriteBatcherConfig config)
      : pool_(pool), config_(std::move(config)) {}

  // Runs `statement`, a write to space `space_id`, and returns its rows once its transaction
  // committed (or the batch's error).
  absl::StatusOr<pqxx::result> Run(const std::string& space_id, const Statement& statement);

  struct Stats {
    int64_t batches = 0;  // transactions committed that held batched writes
    int64_t writes = 0;   // writes in them
    int64_t largest = 0;  // most writes in one of them
    int64_t queued = 0;   // writes waiting for a batch right now
  };
  Stats stats() const;

 private:
  struct Pending {
    const std::string* space_id;
    const Statement* statement;
    bool done = false;
    absl::StatusOr<pqxx::result> result = absl::UnknownError("not run");
  };
  // Runs `batch` in one transaction and completes each of its writes.
  void RunBatch(const std::vector<Pending*>& batch);
  // The transaction of `batch`; fills `results` (one per write) when OK.
  absl::Status RunTransaction(const std::vector<Pending*>& batch,
                              std::vector<pqxx::result>& results);

  postgres::ConnectionPool& pool_;
  const WriteBatcherConfig config_;
  mutable std::mutex mu_;  // guards what follows and every queued Pending
  std::condition_variable done_cv_;
  std::deque<Pending*> queue_;
  int leaders_ = 0;
  Stats stats_;
};

}  // namespace coffer::vault::repository
