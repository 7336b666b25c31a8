// A fixed-size pool of PostgreSQL connections shared by every repository of a service.
//
// Why: opening a PostgreSQL connection costs a fork on the server and several round trips, and
// the server's max_connections is shared by every replica, so each replica keeps a bounded set
// and lends them out for one transaction at a time.
//
// Lifecycle: Create() validates the configuration but does not connect; connections are opened
// lazily on demand, up to `size`. A connection that broke (or that its borrower marked broken)
// is closed when returned and replaced by a fresh one on a later Acquire, so the pool recovers
// from a database restart by itself. The pool must outlive every Lease it handed out.
//
// Threading: every method is thread-safe. A Lease (and its pqxx::connection) belongs to one
// thread at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/postgres/dsn.h"

namespace coffer::postgres {

// What Create() takes. Every field but `dsn` has a working default.
struct ConnectionPoolConfig {
  // libpq connection string (keyword/value or URI). May contain a password: never log it
  // (use RedactDsn).
  std::string dsn;
  // Maximum number of open connections.
  int size = 8;
  // Passed to libpq as connect_timeout unless the DSN sets it (libpq's minimum is 2 s).
  std::chrono::seconds connect_timeout{5};
  // How long Acquire() without an explicit deadline waits for a free connection.
  std::chrono::milliseconds acquire_timeout{5000};
  // TCP keepalives, tcp_user_timeout, statement_timeout and idle_in_transaction_session_timeout
  // of every connection (dsn.h); a value the DSN sets itself wins.
  SessionSettings session;
};

namespace internal {
struct PooledConnection;
}  // namespace internal

// The pool (see the file comment): one per service, built with Create() and shared by reference.
class ConnectionPool {
 public:
  // The clock of Acquire()'s deadline.
  using Clock = std::chrono::steady_clock;

  // A borrowed connection, returned to the pool when the Lease is destroyed (RAII). Move-only.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    pqxx::connection& operator*() const { return get(); }
    pqxx::connection* operator->() const { return &get(); }
    // The borrowed connection; valid only while this Lease holds it (not after a move).
    pqxx::connection& get() const;

    // Tells the pool to close this connection instead of reusing it (for example when its session
    // state could not be reset). Broken connections are detected without this call.
    void MarkBroken() { broken_ = true; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<internal::PooledConnection> conn);
    void Release();

    ConnectionPool* pool_ = nullptr;
    std::unique_ptr<internal::PooledConnection> conn_;
    bool broken_ = false;
  };

  struct Stats {
    int size = 0;     // configured maximum
    int open = 0;     // open connections, idle or lent out
    int idle = 0;     // open and waiting in the pool
    int in_use = 0;   // lent out
    int waiting = 0;  // Acquire calls waiting for a connection to be returned, right now
  };

  // INVALID_ARGUMENT for an empty DSN or a size < 1. Does not connect.
  static absl::StatusOr<std::unique_ptr<ConnectionPool>> Create(ConnectionPoolConfig config);

  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;
  ~ConnectionPool();

  // Borrows a connection, waiting up to config.acquire_timeout for one to be free.
  absl::StatusOr<Lease> Acquire();
  // Borrows a connection, waiting until `deadline` at most. UNAVAILABLE when every connection
  // stayed in use until the deadline or when a new connection could not be opened.
  absl::StatusOr<Lease> Acquire(Clock::time_point deadline);

  // Readiness probe (/readyz): borrows a connection and runs `SELECT 1`.
  absl::Status Ping();

  // The counters of Stats, read together under the pool's lock (so they agree).
  Stats GetStats() const;
  const ConnectionPoolConfig& config() const { return config_; }

 private:
  explicit ConnectionPool(ConnectionPoolConfig config);
  absl::StatusOr<std::unique_ptr<internal::PooledConnection>> Open() const;
  void Return(std::unique_ptr<internal::PooledConnection> conn, bool broken);

  const ConnectionPoolConfig config_;
  const std::string dsn_;  // config_.dsn with connect_timeout and the session settings added
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<internal::PooledConnection>> idle_;  // LIFO: hot connections first
  int open_ = 0;
  int waiting_ = 0;  // Acquire calls blocked on cv_
};

// Opens one standalone connection (for example the LeaderLock's dedicated session), adding
// connect_timeout and `session` (keepalives, timeouts) to the DSN where it does not set them.
// UNAVAILABLE when the server cannot be reached.
absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& dsn,
                                                          std::chrono::seconds connect_timeout,
                                                          const SessionSettings& session = {});

}  // namespace coffer::postgres
