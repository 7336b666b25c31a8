#include "pkg/postgres/leader_lock.h"

#include <pqxx/nontransaction>
#include <utility>

#include "pkg/postgres/connection_pool.h"
#include "pkg/postgres/dsn.h"
#include "pkg/postgres/errors.h"

namespace coffer::postgres {
namespace {

// The server shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits),
// with objsubid = 1.
constexpr const char* kHeldSql =
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND objsubid = 1"
    " AND ((classid::bigint << 32) | objid::bigint) = $1)";

}  // namespace

int64_t AdvisoryLockKey(std::string_view name) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : name) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return static_cast<int64_t>(hash);
}

LeaderLock::LeaderLock(const std::string& dsn, int64_t key, std::chrono::seconds connect_timeout)
    // Bound how long a leader on a dead network blocks in IsHeld(): TCP keepalives and a user
    // timeout make the client notice a lost server within seconds (ignored on Unix sockets).
    : dsn_(WithConnParam(
          WithConnParam(WithConnParam(dsn, "keepalives_idle", "5"), "keepalives_interval", "2"),
          "tcp_user_timeout", "10000")),
      key_(key),
      connect_timeout_(connect_timeout) {}

LeaderLock::~LeaderLock() {
  std::lock_guard<std::mutex> lock(mu_);
  DropConnectionLocked();
}

void LeaderLock::DropConnectionLocked() {
  conn_.reset();  // closing the session releases its advisory locks on the server
  held_ = false;
}

bool LeaderLock::HeldOnServerLocked() {
  if (conn_ == nullptr || !conn_->is_open()) return false;
  try {
    pqxx::nontransaction txn(*conn_);
    return txn.exec_params1(kHeldSql, key_)[0].as<bool>();
  } catch (...) {
    DropConnectionLocked();
    return false;
  }
}

absl::StatusOr<bool> LeaderLock::TryAcquire() {
  std::lock_guard<std::mutex> lock(mu_);
  if (held_) {
    // pg_try_advisory_lock is reentrant; never stack a second hold, just confirm the first.
    if (HeldOnServerLocked()) return true;
    DropConnectionLocked();
  }
  if (conn_ == nullptr || !conn_->is_open()) {
    auto conn = Connect(dsn_, connect_timeout_);
    if (!conn.ok()) return conn.status();
    conn_ = std::move(conn).value();
  }
  try {
    pqxx::nontransaction txn(*conn_);
    held_ = txn.exec_params1("SELECT pg_try_advisory_lock($1)", key_)[0].as<bool>();
    return held_;
  } catch (...) {
    absl::Status status = StatusFromCurrentException("leader lock");
    DropConnectionLocked();
    return status;
  }
}

bool LeaderLock::IsHeld() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!held_) return false;
  if (HeldOnServerLocked()) return true;
  DropConnectionLocked();
  return false;
}

absl::Status LeaderLock::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!held_) return absl::OkStatus();
  try {
    pqxx::nontransaction txn(*conn_);
    if (txn.exec_params1("SELECT pg_advisory_unlock($1)", key_)[0].as<bool>()) {
      held_ = false;
      return absl::OkStatus();
    }
  } catch (...) {
  }
  DropConnectionLocked();  // unlock unconfirmed: closing the session releases it for sure
  return absl::OkStatus();
}

}  // namespace coffer::postgres
