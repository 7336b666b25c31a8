// ConnectionPool against a real server (pkg/postgres/connection_pool.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <thread>
#include <vector>

#include "pkg/postgres/connection_pool.h"
#include "pkg/postgres/transaction.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"

namespace coffer::postgres {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::PgTestDatabase;
using ::coffer::testing::StatusIs;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

class PoolPgTest : public ::testing::Test {
 protected:
  void SetUp() override { COFFER_PG_TEST_DATABASE(db_); }

  void Terminate(int pid) {
    pqxx::connection admin(db_->cluster_dsn());
    pqxx::nontransaction(admin).exec_params("SELECT pg_terminate_backend($1)", pid);
  }

  std::unique_ptr<PgTestDatabase> db_;
};

TEST_F(PoolPgTest, CreateValidatesConfig) {
  EXPECT_THAT(ConnectionPool::Create({}), StatusIs(absl::StatusCode::kInvalidArgument));
  ConnectionPoolConfig zero;
  zero.dsn = db_->dsn();
  zero.size = 0;
  EXPECT_THAT(ConnectionPool::Create(zero), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(PoolPgTest, PingAndLazyConnections) {
  COFFER_ASSERT_OK_AND_ASSIGN(auto pool, db_->NewPool(3));
  EXPECT_EQ(pool->GetStats().open, 0);  // nothing opened before first use
  EXPECT_THAT(pool->Ping(), IsOk());
  auto stats = pool->GetStats();
  EXPECT_EQ(stats.open, 1);
  EXPECT_EQ(stats.idle, 1);
  EXPECT_EQ(stats.in_use, 0);
}

TEST_F(PoolPgTest, PingOfUnreachableServerIsUnavailable) {
  ConnectionPoolConfig config;
  config.dsn = "host=127.0.0.1 port=1 user=postgres dbname=postgres";
  config.connect_timeout = std::chrono::seconds(2);
  COFFER_ASSERT_OK_AND_ASSIGN(auto pool, ConnectionPool::Create(config));
  EXPECT_THAT(pool->Ping(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(pool->GetStats().open, 0);  // the failed slot is given back
}

TEST_F(PoolPgTest, ExhaustedPoolIsUnavailableAfterTheDeadline) {
  COFFER_ASSERT_OK_AND_ASSIGN(auto pool, db_->NewPool(1));
  COFFER_ASSERT_OK_AND_ASSIGN(auto held, pool->Acquire());
  const auto start = Clock::now();
  auto second = pool->Acquire(start + std::chrono::milliseconds(300));
  const auto waited = Clock::now() - start;
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("exhausted")));
  EXPECT_GE(waited, std::chrono::milliseconds(300));
  // It gave up at its deadline rather than waiting for the held lease (never returned here);
  // the bound only has to tell those apart, so it is generous for a loaded machine.
  EXPECT_LT(waited, std::chrono::seconds(30));
  EXPECT_EQ(pool->GetStats().waiting, 0);
}

TEST_F(PoolPgTest, WaiterGetsTheReturnedConnection) {
  COFFER_ASSERT_OK_AND_ASSIGN(auto pool, db_->NewPool(1));
  COFFER_ASSERT_OK_AND_ASSIGN(auto held, pool->Acquire());
  const int pid = held->backendpid();
  std::thread waiter([&] {
    absl::StatusOr<ConnectionPool::Lease> next =
        pool->Acquire(Clock::now() + std::chrono::seconds(60));
    ASSERT_THAT(next, IsOk());
    EXPECT_EQ(next->get().backendpid(), pid);  // reused, not reopened
  });
  // Return the connection only once the waiter really waits for it (else it would just find it
  // idle, and the hand-over to a waiter would not be tested).
  const auto give_up = Clock::now() + std::chrono::seconds(60);
  while (pool->GetStats().waiting < 1 && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(pool->GetStats().waiting, 1);
  { ConnectionPool::Lease gone = std::move(held); }  // returned when `gone` dies
  waiter.join();
  EXPECT_EQ(pool->GetStats().waiting, 0);
}

TEST_F(PoolPgTest, NeverLendsMoreThanSize) {
  COFFER_ASSERT_OK_AND_ASSIGN(auto pool, db_->NewPool(3));
  std::atomic<int> in_use{0};
  std::atomic<int> max_in_use{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto lease = pool->Acquire(Clock::now() + std::chrono::seconds(20));
        if (!lease.ok()) {
          ++failures;
          continue;
        }
        const int now = ++in_use;
        int prev = max_in_use.load();
        while (now > prev && !max_in_use.compare_exchange_weak(prev, now)) {
        }
        // Hold the connection a little, so that leases really overlap even on a loaded machine.
        pqxx::nontransaction(lease->get()).exec("SELECT pg_sleep(0.01)");
        --in_use;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_LE(max_in_use, 3);
  EXPECT_GE(max_in_use, 2);  // there really was contention
  EXPECT_LE(pool->GetStats().open, 3);
}

TEST_F(PoolPgTest, BrokenConnectionIsReplaced) {
  COFFER_ASSERT_OK_AND_ASSIGN(auto pool, db_->NewPool(1));
  int old_pid = 0;
  {
    COFFER_ASSERT_OK_AND_ASSIGN(auto lease, pool->Acquire());
    old_pid = lease->backendpid();
    Terminate(old_pid);
    EXPECT_ANY_THROW(pqxx::nontransaction(lease.get()).exec("SELECT 1"));
  }  // returned broken: closed, slot freed
  EXPECT_EQ(pool->GetStats().open, 0);
  COFFER_ASSERT_OK_AND_ASSIGN(auto lease, pool->Acquire());
  EXPECT_NE(lease->backendpid(), old_pid);
  EXPECT_NO_THROW(pqxx::nontransaction(lease.get()).exec("SELECT 1"));
}

TEST_F(PoolPgTest, ConnectionKilledWhileIdleIsRecoveredByTheTransactionRunner) {
  COFFER_ASSERT_OK_AND_ASSIGN(auto pool, db_->NewPool(1));
  ASSERT_THAT(pool->Ping(), IsOk());
  int idle_pid = 0;
  {
    COFFER_ASSERT_OK_AND_ASSIGN(auto lease, pool->Acquire());
    idle_pid = lease->backendpid();
  }
  Terminate(idle_pid);  // e.g. a database restart while the pool sat idle
  int seen_pid = 0;
  EXPECT_THAT(RunInTransaction(*pool, IsolationLevel::kReadCommitted,
                               [&](pqxx::transaction_base& txn) {
                                 seen_pid = txn.exec1("SELECT pg_backend_pid()")[0].as<int>();
                                 return absl::OkStatus();
                               }),
              IsOk());
  EXPECT_NE(seen_pid, idle_pid);
  EXPECT_NE(seen_pid, 0);
}

}  // namespace
}  // namespace coffer::postgres
