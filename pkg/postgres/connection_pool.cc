#include "pkg/postgres/connection_pool.h"

#include <pqxx/errorhandler>
#include <pqxx/nontransaction>
#include <utility>

#include "pkg/postgres/dsn.h"
#include "pkg/postgres/errors.h"

namespace coffer::postgres {
namespace internal {

// A pooled connection and the handler that keeps server notices ("relation already exists,
// skipping") off stderr. The handler is declared last so it is unregistered before the
// connection is destroyed.
struct PooledConnection {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<pqxx::quiet_errorhandler> quiet;
};

}  // namespace internal

namespace {

std::string FullDsn(const std::string& dsn, std::chrono::seconds timeout,
                    const SessionSettings& session) {
  return WithSessionSettings(WithConnParam(dsn, "connect_timeout", std::to_string(timeout.count())),
                             session);
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> ConnectRaw(const std::string& full_dsn) {
  try {
    return std::make_unique<pqxx::connection>(full_dsn);
  } catch (...) {
    // libpq's connection errors name host and port, never the password.
    return StatusFromCurrentException("connecting to PostgreSQL");
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& dsn,
                                                          std::chrono::seconds connect_timeout,
                                                          const SessionSettings& session) {
  return ConnectRaw(FullDsn(dsn, connect_timeout, session));
}

// ---- Lease ----

ConnectionPool::Lease::Lease(ConnectionPool* pool, std::unique_ptr<internal::PooledConnection> conn)
    : pool_(pool), conn_(std::move(conn)) {}

ConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      conn_(std::move(other.conn_)),
      broken_(other.broken_) {}

ConnectionPool::Lease& ConnectionPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = std::exchange(other.pool_, nullptr);
    conn_ = std::move(other.conn_);
    broken_ = other.broken_;
  }
  return *this;
}

ConnectionPool::Lease::~Lease() { Release(); }

pqxx::connection& ConnectionPool::Lease::get() const { return *conn_->conn; }

void ConnectionPool::Lease::Release() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->Return(std::move(conn_), broken_);
  pool_ = nullptr;
  conn_.reset();
}

// ---- ConnectionPool ----

absl::StatusOr<std::unique_ptr<ConnectionPool>> ConnectionPool::Create(
    ConnectionPoolConfig config) {
  if (config.dsn.empty()) return absl::InvalidArgumentError("postgres pool: empty DSN");
  if (config.size < 1) return absl::InvalidArgumentError("postgres pool: size must be >= 1");
  if (config.connect_timeout.count() < 1) {
    return absl::InvalidArgumentError("postgres pool: connect timeout must be >= 1s");
  }
  const SessionSettings& s = config.session;
  if (s.keepalives_idle.count() < 0 || s.keepalives_interval.count() < 0 ||
      s.keepalives_count < 0 || s.tcp_user_timeout.count() < 0 || s.statement_timeout.count() < 0 ||
      s.idle_in_transaction_timeout.count() < 0) {
    return absl::InvalidArgumentError(
        "postgres pool: keepalive and timeout settings must be >= 0 (0 = server default)");
  }
  return std::unique_ptr<ConnectionPool>(new ConnectionPool(std::move(config)));
}

ConnectionPool::ConnectionPool(ConnectionPoolConfig config)
    : config_(std::move(config)),
      dsn_(FullDsn(config_.dsn, config_.connect_timeout, config_.session)) {}

ConnectionPool::~ConnectionPool() {
  std::vector<std::unique_ptr<internal::PooledConnection>> idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle.swap(idle_);
  }
  // Leases must not outlive the pool: their connections would be returned to freed memory.
}

absl::StatusOr<std::unique_ptr<internal::PooledConnection>> ConnectionPool::Open() const {
  auto conn = ConnectRaw(dsn_);
  if (!conn.ok()) return conn.status();
  auto pooled = std::make_unique<internal::PooledConnection>();
  pooled->conn = std::move(conn).value();
  pooled->quiet = std::make_unique<pqxx::quiet_errorhandler>(*pooled->conn);
  return pooled;
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire() {
  return Acquire(Clock::now() + config_.acquire_timeout);
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    while (!idle_.empty()) {
      std::unique_ptr<internal::PooledConnection> conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->conn->is_open()) return Lease(this, std::move(conn));
      // Broke while idle (PQstatus is local, no I/O): drop it and try the next one.
      --open_;
      lock.unlock();
      conn.reset();
      lock.lock();
    }
    if (open_ < config_.size) {
      ++open_;  // reserve the slot, connect without holding the lock
      lock.unlock();
      auto conn = Open();
      if (!conn.ok()) {
        lock.lock();
        --open_;
        cv_.notify_one();
        return conn.status();
      }
      return Lease(this, std::move(conn).value());
    }
    ++waiting_;
    const std::cv_status waited = cv_.wait_until(lock, deadline);
    --waiting_;
    if (waited == std::cv_status::timeout && idle_.empty() && open_ >= config_.size) {
      return absl::UnavailableError("postgres pool exhausted: all " + std::to_string(config_.size) +
                                    " connections stayed in use until the deadline");
    }
  }
}

void ConnectionPool::Return(std::unique_ptr<internal::PooledConnection> conn, bool broken) {
  if (broken || !conn->conn->is_open()) {
    conn.reset();  // closes the session outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
  } else {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

absl::Status ConnectionPool::Ping() {
  auto lease = Acquire();
  if (!lease.ok()) return lease.status();
  try {
    pqxx::nontransaction txn(lease->get());
    txn.exec("SELECT 1");
    return absl::OkStatus();
  } catch (...) {
    lease->MarkBroken();
    return StatusFromCurrentException("postgres ping");
  }
}

ConnectionPool::Stats ConnectionPool::GetStats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats stats;
  stats.size = config_.size;
  stats.open = open_;
  stats.idle = static_cast<int>(idle_.size());
  stats.in_use = open_ - stats.idle;
  stats.waiting = waiting_;
  return stats;
}

}  // namespace coffer::postgres
