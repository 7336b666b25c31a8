// Leadership for work that must run once per shard (outbox relay, Kafka consumer), decided by a
// PostgreSQL session-level advisory lock held on a dedicated connection.
//
// Why a session lock on its own connection: the lock lives exactly as long as the session, so
// when the leader's process dies or its connection breaks, PostgreSQL releases the lock and a
// standby's next TryAcquire() wins. Pooled connections are reused by other code, so they must
// never hold session locks.
//
// Typical loop in a replica:
//   LeaderLock lock(dsn, AdvisoryLockKey("coffer.vault.outbox_relay"));
//   while (running) {
//     if (lock.IsHeld() || lock.TryAcquire().value_or(false)) RelayOneBatch(); else Sleep(1s);
//   }
// IsHeld() costs one round trip and notices a lost session; a leader should check it before each
// batch so that at most one batch overlaps with a new leader after a connection loss.
//
// Lifecycle: connects lazily on the first TryAcquire(); Release() unlocks and keeps the session;
// destruction closes the session (releasing the lock). Threading: all methods are thread-safe
// (serialized by an internal mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace coffer::postgres {

// A stable 64-bit advisory lock key for a name (FNV-1a), so call sites use readable names such
// as "coffer.vault.outbox_relay". Advisory locks are per database.
int64_t AdvisoryLockKey(std::string_view name);

// One named leadership on its own session (see the file comment).
class LeaderLock {
 public:
  // `dsn` may contain a password; it is never logged. Does not connect.
  LeaderLock(const std::string& dsn, int64_t key,
             std::chrono::seconds connect_timeout = std::chrono::seconds(5));
  LeaderLock(const LeaderLock&) = delete;
  LeaderLock& operator=(const LeaderLock&) = delete;
  ~LeaderLock();

  // Tries to take the lock without waiting. true: this instance holds it (also when it already
  // did); false: another session holds it. UNAVAILABLE when the database cannot be reached.
  absl::StatusOr<bool> TryAcquire();

  // true only if the session is alive and the server confirms this session holds the lock (one
  // round trip). A broken session is closed and reported as false.
  bool IsHeld();

  // Gives the lock up (no-op when not held). If the unlock cannot be confirmed the session is
  // closed, which releases the lock anyway.
  absl::Status Release();

  int64_t key() const { return key_; }

 private:
  bool HeldOnServerLocked();
  void DropConnectionLocked();

  const std::string dsn_;
  const int64_t key_;
  const std::chrono::seconds connect_timeout_;
  std::mutex mu_;
  std::unique_ptr<pqxx::connection> conn_;
  bool held_ = false;
};

}  // namespace coffer::postgres
