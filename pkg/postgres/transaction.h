// Runs a unit of work in one PostgreSQL transaction, retrying it when PostgreSQL aborted it for a
// concurrency reason.
//
// Why: under REPEATABLE READ / SERIALIZABLE, PostgreSQL resolves conflicts by aborting one
// transaction (serialization_failure, deadlock_detected); the correct reaction is to run the
// whole transaction again from the start. Doing that in one place keeps repositories simple.
//
// Usage, one round trip per write (DESIGN §9): put the whole write into ONE statement, using
// data-modifying CTEs, e.g.
//
//   absl::Status s = RunInTransaction(pool, IsolationLevel::kSerializable,
//       [&](pqxx::transaction_base& txn) -> absl::Status {
//         pqxx::result r = txn.exec_params(sql::kUpsertRecordWithOutbox, id, version, ...);
//         if (r.empty()) return absl::FailedPreconditionError("version mismatch");
//         return absl::OkStatus();
//       });
//
// Each extra statement costs a round trip while the transaction holds its locks and snapshot;
// measured throughput drops to about half with four round trips instead of one.
//
// Contract for `fn`:
//   * it may run several times (once per attempt), so it must not have side effects outside the
//     transaction other than assigning its results to captured variables;
//   * it may let libpqxx exceptions escape: the runner translates them (StatusFromException);
//   * returning a non-OK Status rolls the transaction back; returning ABORTED also retries.
// Retried: ABORTED (serialization failure, deadlock, lock timeout) and UNAVAILABLE from a
// connection that broke during the attempt (libpqxx reports a break during COMMIT as
// in_doubt_error, i.e. UNKNOWN, which is never retried, so a retried attempt never committed).
// Also retried, on a fresh connection: a prepared statement the session lost (SQLSTATE 26000,
// e.g. after DEALLOCATE ALL), which never ran (pkg/postgres/prepared.h).
// Not retried: everything else, including failing to borrow a connection (pool exhausted or
// server unreachable), which already waited for the pool's acquire timeout.
//
// Threading: thread-safe (each attempt borrows its own connection from the pool).
#pragma once

#include <chrono>
#include <functional>
#include <pqxx/transaction_base>
#include <random>

#include "absl/status/status.h"
#include "pkg/postgres/connection_pool.h"

namespace coffer::postgres {

// The isolation level each attempt's BEGIN asks for. Under kRepeatableRead and kSerializable a
// conflict aborts the transaction (ABORTED), and the runners below retry it.
enum class IsolationLevel { kReadCommitted, kRepeatableRead, kSerializable };

// How often and how far apart the runners below repeat an attempt that may be retried.
struct RetryPolicy {
  // Total attempts, the first one included. 1 disables retries.
  int max_attempts = 5;
  // Backoff before retry n (n = 1, 2, ...) is uniform in [0, min(max, initial * multiplier^(n-1))]
  // ("full jitter"), so conflicting transactions spread out instead of colliding again.
  std::chrono::milliseconds initial_backoff{2};
  std::chrono::milliseconds max_backoff{100};
  double multiplier = 2.0;
};

// The unit of work. The transaction is a pqxx::transaction<isolation, read_write|read_only>,
// passed as its common base so one lambda type serves every isolation level.
using TransactionFn = std::function<absl::Status(pqxx::transaction_base&)>;

// Runs `fn` in a read-write transaction at `isolation` and commits it when `fn` returns OK.
// Returns fn's error, the translated database error, or ABORTED after policy.max_attempts
// conflicting attempts.
absl::Status RunInTransaction(ConnectionPool& pool, IsolationLevel isolation,
                              const TransactionFn& fn, const RetryPolicy& policy = {});

// Same for a READ ONLY transaction: writes fail with INTERNAL (SQLSTATE 25006). Use
// kRepeatableRead when several reads must see one snapshot.
absl::Status RunInReadOnlyTransaction(ConnectionPool& pool, IsolationLevel isolation,
                                      const TransactionFn& fn, const RetryPolicy& policy = {});

// Whether running a single autocommit statement twice has the same effect as once; decides
// whether it may be retried after its connection was lost mid-statement.
enum class Statement { kIdempotent, kNotIdempotent };

// Runs `fn`, which must issue exactly ONE statement, in autocommit mode (pqxx::nontransaction):
// PostgreSQL runs that statement as a transaction of its own (READ COMMITTED), so it costs one
// round trip instead of three (BEGIN, statement, COMMIT) — DESIGN §9. Deferred constraint
// triggers still fire at the statement's implicit commit. Retried like RunInTransaction on
// ABORTED. A connection lost during a kNotIdempotent statement is UNKNOWN (in doubt: it may have
// committed) and never retried; a kIdempotent one (a read, an upsert) is retried. `fn` returning
// non-OK cannot undo what the statement did, so it should only report what the statement
// returned.
absl::Status RunSingleStatement(ConnectionPool& pool, Statement kind, const TransactionFn& fn,
                                const RetryPolicy& policy = {});

// For a transaction that legitimately outlasts the pool's limits (ConnectionPoolConfig::session),
// e.g. a snapshot streamed to a slow peer: sets statement_timeout and
// idle_in_transaction_session_timeout for the rest of `txn` only (SET LOCAL; 0 = none), in one
// round trip. The connection's own values return at commit or rollback.
void SetLocalTimeouts(pqxx::transaction_base& txn, std::chrono::milliseconds statement_timeout,
                      std::chrono::milliseconds idle_in_transaction_timeout);

// The backoff to sleep before retry `retry` (1-based) under `policy`, drawn from `rng`. Exposed
// for tests.
std::chrono::microseconds RetryBackoff(const RetryPolicy& policy, int retry, std::mt19937_64& rng);

}  // namespace coffer::postgres
