// Session limits against a real server (pkg/postgres dsn.h SessionSettings, security audit M8):
// pooled and standalone connections carry the configured statement_timeout,
// idle_in_transaction_session_timeout, TCP keepalives and tcp_user_timeout (read back from the
// server and from the socket itself); a statement past its timeout is DEADLINE_EXCEEDED; the
// DSN's own values win; migrations and SetLocalTimeouts lift the statement timeout for what
// legitimately runs long, and the connection gets its own value back afterwards.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <string>
#include <thread>

#include "pkg/postgres/connection_pool.h"
#include "pkg/postgres/errors.h"
#include "pkg/postgres/migrations.h"
#include "pkg/postgres/transaction.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"

namespace coffer::postgres {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::PgTestDatabase;
using ::coffer::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// A server setting in its base unit (ms for the timeouts), as the session sees it.
std::string Setting(pqxx::connection& conn, const std::string& name) {
  pqxx::nontransaction txn(conn);
  return txn.exec_params1("SELECT setting FROM pg_settings WHERE name = $1", name)[0]
      .as<std::string>();
}

int SockOpt(pqxx::connection& conn, int level, int option) {
  int value = -1;
  socklen_t length = sizeof(value);
  EXPECT_EQ(getsockopt(conn.sock(), level, option, &value, &length), 0) << "option " << option;
  return value;
}

class SessionSettingsPgTest : public ::testing::Test {
 protected:
  void SetUp() override { COFFER_PG_TEST_DATABASE(db_); }

  std::unique_ptr<ConnectionPool> Pool(SessionSettings session, std::string dsn = "",
                                       int size = 2) {
    ConnectionPoolConfig config;
    config.dsn = dsn.empty() ? db_->dsn() : dsn;
    config.size = size;
    config.acquire_timeout = 10s;
    config.session = session;
    auto pool = ConnectionPool::Create(config);
    EXPECT_TRUE(pool.ok()) << pool.status();
    return pool.ok() ? *std::move(pool) : nullptr;
  }

  std::unique_ptr<PgTestDatabase> db_;
};

TEST_F(SessionSettingsPgTest, PooledConnectionCarriesTheConfiguredLimits) {
  SessionSettings s;
  s.keepalives_idle = 17s;
  s.keepalives_interval = 4s;
  s.keepalives_count = 5;
  s.tcp_user_timeout = 12345ms;
  s.statement_timeout = 4321ms;
  s.idle_in_transaction_timeout = 54321ms;
  auto pool = Pool(s);
  ASSERT_NE(pool, nullptr);
  COFFER_ASSERT_OK_AND_ASSIGN(ConnectionPool::Lease lease, pool->Acquire());
  EXPECT_EQ(Setting(*lease, "statement_timeout"), "4321");
  EXPECT_EQ(Setting(*lease, "idle_in_transaction_session_timeout"), "54321");
  {
    pqxx::nontransaction txn(*lease);
    EXPECT_EQ(txn.exec1("SHOW statement_timeout")[0].as<std::string>(), "4321ms");
  }
  // The client's socket (the test server listens on TCP loopback).
  EXPECT_EQ(SockOpt(*lease, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(SockOpt(*lease, IPPROTO_TCP, TCP_KEEPIDLE), 17);
  EXPECT_EQ(SockOpt(*lease, IPPROTO_TCP, TCP_KEEPINTVL), 4);
  EXPECT_EQ(SockOpt(*lease, IPPROTO_TCP, TCP_KEEPCNT), 5);
  EXPECT_EQ(SockOpt(*lease, IPPROTO_TCP, TCP_USER_TIMEOUT), 12345);
}

TEST_F(SessionSettingsPgTest, DefaultsApplyToPoolsAndStandaloneConnections) {
  auto pool = Pool(SessionSettings{});
  ASSERT_NE(pool, nullptr);
  COFFER_ASSERT_OK_AND_ASSIGN(ConnectionPool::Lease lease, pool->Acquire());
  EXPECT_EQ(Setting(*lease, "statement_timeout"), "30000");
  EXPECT_EQ(Setting(*lease, "idle_in_transaction_session_timeout"), "60000");
  EXPECT_EQ(SockOpt(*lease, IPPROTO_TCP, TCP_KEEPIDLE), 30);

  // Connect() (leader locks, the vault's LISTEN session) gets them too.
  COFFER_ASSERT_OK_AND_ASSIGN(auto conn, Connect(db_->dsn(), 5s));
  EXPECT_EQ(Setting(*conn, "statement_timeout"), "30000");
  EXPECT_EQ(SockOpt(*conn, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(SockOpt(*conn, IPPROTO_TCP, TCP_USER_TIMEOUT), 30000);
}

TEST_F(SessionSettingsPgTest, StatementPastItsTimeoutIsDeadlineExceeded) {
  SessionSettings s;
  s.statement_timeout = 200ms;
  auto pool = Pool(s, "", 1);
  ASSERT_NE(pool, nullptr);
  absl::Status slept = RunSingleStatement(*pool, Statement::kIdempotent,
                                          [](pqxx::transaction_base& txn) -> absl::Status {
                                            txn.exec("SELECT pg_sleep(30)");
                                            return absl::OkStatus();
                                          });
  EXPECT_THAT(slept, StatusIs(absl::StatusCode::kDeadlineExceeded,
                              HasSubstr("canceling statement due to statement timeout")));
  EXPECT_THAT(std::string(slept.message()), Not(HasSubstr("pg_sleep")));  // no SQL text
  // Inside a transaction too; and the connection serves the next statement.
  absl::Status in_txn = RunInTransaction(*pool, IsolationLevel::kReadCommitted,
                                         [](pqxx::transaction_base& txn) -> absl::Status {
                                           txn.exec("SELECT pg_sleep(30)");
                                           return absl::OkStatus();
                                         });
  EXPECT_THAT(in_txn, StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(pool->Ping(), IsOk());
  EXPECT_EQ(pool->GetStats().open, 1);
}

TEST_F(SessionSettingsPgTest, TheDsnsOwnValuesWin) {
  auto pool = Pool(SessionSettings{},
                   db_->dsn() + " keepalives_idle=77 options='-c statement_timeout=1234'");
  ASSERT_NE(pool, nullptr);
  COFFER_ASSERT_OK_AND_ASSIGN(ConnectionPool::Lease lease, pool->Acquire());
  EXPECT_EQ(Setting(*lease, "statement_timeout"), "1234");
  // What the DSN does not set still gets the default.
  EXPECT_EQ(Setting(*lease, "idle_in_transaction_session_timeout"), "60000");
  EXPECT_EQ(SockOpt(*lease, IPPROTO_TCP, TCP_KEEPIDLE), 77);
  EXPECT_EQ(SockOpt(*lease, IPPROTO_TCP, TCP_KEEPINTVL), 10);
}

// A transaction left idle past idle_in_transaction_session_timeout: the server ends the session
// by itself (seen from another session), and the next statement fails UNAVAILABLE.
TEST_F(SessionSettingsPgTest, IdleTransactionSessionIsEndedByTheServer) {
  SessionSettings s;
  s.idle_in_transaction_timeout = 300ms;
  auto pool = Pool(s, "", 1);
  ASSERT_NE(pool, nullptr);
  COFFER_ASSERT_OK_AND_ASSIGN(ConnectionPool::Lease lease, pool->Acquire());
  pqxx::work txn(*lease);
  const int pid = txn.exec1("SELECT pg_backend_pid()")[0].as<int>();
  pqxx::connection observer(db_->dsn());
  bool gone = false;
  for (auto give_up = std::chrono::steady_clock::now() + 30s;
       !gone && std::chrono::steady_clock::now() < give_up;) {
    pqxx::nontransaction look(observer);
    gone = look.exec_params1("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)[0]
               .as<int>() == 0;
    if (!gone) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(gone) << "the server kept the idle transaction's session";
  absl::Status next = CatchPqxx([&] {
    txn.exec("SELECT 1");
    return absl::OkStatus();
  });
  EXPECT_THAT(next, StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(SessionSettingsPgTest, MigrationsRunWithoutThePoolsStatementTimeoutAndRestoreIt) {
  SessionSettings s;
  s.statement_timeout = 200ms;
  auto pool = Pool(s, "", 1);  // one connection: the migration's is the one checked after
  ASSERT_NE(pool, nullptr);
  std::vector<Migration> migrations = {
      {1, "slow", "CREATE TABLE t (id int); SELECT pg_sleep(0.6);"}};
  EXPECT_THAT(ApplyMigrations(*pool, migrations).status(), IsOk());
  {
    COFFER_ASSERT_OK_AND_ASSIGN(ConnectionPool::Lease lease, pool->Acquire());
    EXPECT_EQ(Setting(*lease, "statement_timeout"), "200");
  }
  MigrationOptions bounded;
  bounded.statement_timeout = 200ms;  // a run may have a bound of its own
  std::vector<Migration> more = migrations;
  more.push_back({2, "too_slow", "SELECT pg_sleep(5);"});
  EXPECT_THAT(ApplyMigrations(*pool, more, bounded).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(SessionSettingsPgTest, SetLocalTimeoutsLiftsTheLimitsForOneTransaction) {
  SessionSettings s;
  s.statement_timeout = 200ms;
  auto pool = Pool(s, "", 1);
  ASSERT_NE(pool, nullptr);
  absl::Status long_one = RunInTransaction(*pool, IsolationLevel::kRepeatableRead,
                                           [](pqxx::transaction_base& txn) -> absl::Status {
                                             SetLocalTimeouts(txn, 0ms, 0ms);
                                             txn.exec("SELECT pg_sleep(0.6)");
                                             return absl::OkStatus();
                                           });
  EXPECT_THAT(long_one, IsOk());
  COFFER_ASSERT_OK_AND_ASSIGN(ConnectionPool::Lease lease, pool->Acquire());
  EXPECT_EQ(Setting(*lease, "statement_timeout"), "200");
}

}  // namespace
}  // namespace coffer::postgres
