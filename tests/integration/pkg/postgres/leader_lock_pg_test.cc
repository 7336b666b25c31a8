// LeaderLock against a real server (pkg/postgres/leader_lock.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/row>
#include <thread>

#include "pkg/postgres/leader_lock.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"

namespace coffer::postgres {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::IsOkAndHolds;
using ::coffer::testing::PgTestDatabase;
using ::coffer::testing::StatusIs;

class LeaderLockPgTest : public ::testing::Test {
 protected:
  void SetUp() override { COFFER_PG_TEST_DATABASE(db_); }

  // Terminates every session of the test database holding an advisory lock, and waits (up to
  // 60 s each) until they are gone: a backend sends its client the termination error before it
  // exits and releases its locks, so without the wait another session may still find the lock
  // taken.
  int KillLockHolders() {
    pqxx::connection admin(db_->cluster_dsn());
    pqxx::result killed = pqxx::nontransaction(admin).exec_params(
        "SELECT pg_terminate_backend(s.pid, 60000) FROM (SELECT DISTINCT l.pid FROM pg_locks l"
        " JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND l.granted"
        " AND d.datname = $1) s",
        db_->name());
    for (const pqxx::row& r : killed) EXPECT_TRUE(r[0].as<bool>()) << "a holder outlived 60 s";
    return static_cast<int>(killed.size());
  }

  std::unique_ptr<PgTestDatabase> db_;
  const int64_t key_ = AdvisoryLockKey("coffer.test.leader");
};

TEST_F(LeaderLockPgTest, OnlyOneSessionHoldsTheLock) {
  LeaderLock a(db_->dsn(), key_);
  LeaderLock b(db_->dsn(), key_);
  EXPECT_FALSE(a.IsHeld());
  EXPECT_THAT(a.TryAcquire(), IsOkAndHolds(true));
  EXPECT_THAT(b.TryAcquire(), IsOkAndHolds(false));
  EXPECT_TRUE(a.IsHeld());
  EXPECT_FALSE(b.IsHeld());
  // Acquiring again while holding is idempotent and does not stack a second hold...
  EXPECT_THAT(a.TryAcquire(), IsOkAndHolds(true));
  // ...so one Release hands leadership over.
  EXPECT_THAT(a.Release(), IsOk());
  EXPECT_FALSE(a.IsHeld());
  EXPECT_THAT(b.TryAcquire(), IsOkAndHolds(true));
  EXPECT_THAT(a.TryAcquire(), IsOkAndHolds(false));
}

TEST_F(LeaderLockPgTest, DifferentKeysAreIndependent) {
  LeaderLock a(db_->dsn(), key_);
  LeaderLock b(db_->dsn(), AdvisoryLockKey("coffer.test.other"));
  EXPECT_THAT(a.TryAcquire(), IsOkAndHolds(true));
  EXPECT_THAT(b.TryAcquire(), IsOkAndHolds(true));
}

TEST_F(LeaderLockPgTest, TakeoverWhenTheHolderCloses) {
  auto a = std::make_unique<LeaderLock>(db_->dsn(), key_);
  LeaderLock b(db_->dsn(), key_);
  ASSERT_THAT(a->TryAcquire(), IsOkAndHolds(true));
  ASSERT_THAT(b.TryAcquire(), IsOkAndHolds(false));
  a.reset();  // process exit or shutdown: the session closes
  // The server releases the lock when the closed session's backend has exited, a moment after
  // the client closed the socket: retry as the relay and consumer do (every second there).
  bool acquired = false;
  for (auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       !acquired && std::chrono::steady_clock::now() < give_up;) {
    absl::StatusOr<bool> got = b.TryAcquire();
    ASSERT_TRUE(got.ok()) << got.status();
    acquired = *got;
    if (!acquired) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(acquired) << "the lock was not released within 60 s of the holder closing";
  EXPECT_TRUE(b.IsHeld());
}

TEST_F(LeaderLockPgTest, TakeoverWhenTheHoldersSessionDies) {
  LeaderLock a(db_->dsn(), key_);
  LeaderLock b(db_->dsn(), key_);
  ASSERT_THAT(a.TryAcquire(), IsOkAndHolds(true));
  ASSERT_EQ(KillLockHolders(), 1);
  EXPECT_FALSE(a.IsHeld());  // the old leader notices it lost leadership
  EXPECT_THAT(b.TryAcquire(), IsOkAndHolds(true));
  EXPECT_THAT(a.TryAcquire(), IsOkAndHolds(false));  // reconnects, but b leads now
}

TEST_F(LeaderLockPgTest, UnreachableServerIsUnavailable) {
  LeaderLock lock("host=127.0.0.1 port=1 user=postgres dbname=postgres", key_,
                  std::chrono::seconds(2));
  EXPECT_THAT(lock.TryAcquire(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(lock.IsHeld());
  EXPECT_THAT(lock.Release(), IsOk());
}

}  // namespace
}  // namespace coffer::postgres
