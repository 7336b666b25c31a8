// ApplyMigrations against a real server (pkg/postgres/migrations.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <latch>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <thread>
#include <vector>

#include "pkg/postgres/migrations.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"

namespace coffer::postgres {
namespace {

// Advisory locks held in this test's database only: other tests (vault processes holding their
// leader locks) share the PostgreSQL cluster and run at the same time.
constexpr char kAdvisoryLocksHere[] =
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

using ::coffer::testing::IsOk;
using ::coffer::testing::PgTestDatabase;
using ::coffer::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// V2 only works after V1 and V3 only after V2, so order matters; each writes to `journal`
// without IF NOT EXISTS / ON CONFLICT, so running one twice would fail or double a row.
std::vector<Migration> BaseMigrations() {
  return {
      {3, "add_note", "ALTER TABLE items ADD COLUMN note text; INSERT INTO journal VALUES (3);"},
      {1, "init",
       "CREATE TABLE items (id bigint PRIMARY KEY, label text NOT NULL);\n"
       "CREATE TABLE journal (version int NOT NULL);\n"
       "INSERT INTO journal VALUES (1);"},
      {2, "seed", "INSERT INTO items VALUES (1, 'one'); INSERT INTO journal VALUES (2);"},
  };
}

class MigrationsPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COFFER_PG_TEST_DATABASE(db_);
    COFFER_ASSERT_OK_AND_ASSIGN(pool_, db_->NewPool(2));
  }

  // Runs one query returning a single integer.
  int64_t QueryInt(const std::string& sql) {
    pqxx::connection conn(db_->dsn());
    return pqxx::nontransaction(conn).exec1(sql)[0].as<int64_t>();
  }

  std::unique_ptr<PgTestDatabase> db_;
  std::unique_ptr<ConnectionPool> pool_;
};

TEST_F(MigrationsPgTest, AppliesInOrderAndRecordsEach) {
  COFFER_ASSERT_OK_AND_ASSIGN(MigrationResult result, ApplyMigrations(*pool_, BaseMigrations()));
  EXPECT_THAT(result.applied, ElementsAre(1, 2, 3));
  EXPECT_EQ(result.already_applied, 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM items WHERE note IS NULL"), 1);

  pqxx::connection conn(db_->dsn());
  pqxx::nontransaction txn(conn);
  auto rows = txn.exec(
      "SELECT version, name, checksum, applied_at <= now() FROM schema_migrations ORDER BY 1");
  ASSERT_EQ(rows.size(), 3u);
  auto sorted = BaseMigrations();
  ASSERT_THAT(SortAndValidateMigrations(sorted), IsOk());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rows[i][0].as<int>(), sorted[i].version);
    EXPECT_EQ(rows[i][1].as<std::string>(), sorted[i].name);
    EXPECT_EQ(rows[i][2].as<std::string>(), MigrationChecksum(sorted[i].sql));
    EXPECT_TRUE(rows[i][3].as<bool>());
  }
  // The session advisory lock was given back before the connection returned to the pool.
  EXPECT_EQ(QueryInt(kAdvisoryLocksHere), 0);
}

TEST_F(MigrationsPgTest, RerunIsANoOpAndNewOnesApplyLater) {
  ASSERT_THAT(ApplyMigrations(*pool_, BaseMigrations()), IsOk());
  COFFER_ASSERT_OK_AND_ASSIGN(MigrationResult again, ApplyMigrations(*pool_, BaseMigrations()));
  EXPECT_THAT(again.applied, IsEmpty());
  EXPECT_EQ(again.already_applied, 3);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM journal"), 3);

  auto more = BaseMigrations();
  more.push_back({4, "more", "INSERT INTO journal VALUES (4);"});
  COFFER_ASSERT_OK_AND_ASSIGN(MigrationResult later, ApplyMigrations(*pool_, more));
  EXPECT_THAT(later.applied, ElementsAre(4));
  EXPECT_EQ(later.already_applied, 3);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM journal"), 4);
}

TEST_F(MigrationsPgTest, RefusesWhenAnAppliedMigrationChanged) {
  ASSERT_THAT(ApplyMigrations(*pool_, BaseMigrations()), IsOk());
  auto edited = BaseMigrations();
  edited[2].sql += " -- tweak";  // V2
  edited.push_back({4, "more", "INSERT INTO journal VALUES (4);"});
  EXPECT_THAT(ApplyMigrations(*pool_, edited),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(HasSubstr("V002__seed"), HasSubstr("changed"))));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM journal"), 3);  // V4 not applied either
}

TEST_F(MigrationsPgTest, FailingMigrationLeavesNoTraceAndStopsTheRun) {
  std::vector<Migration> ms = {
      {1, "init", "CREATE TABLE journal (version int NOT NULL);"},
      {2, "broken", "CREATE TABLE half (id int); INSERT INTO no_such_table VALUES (1);"},
      {3, "after", "INSERT INTO journal VALUES (3);"},
  };
  EXPECT_THAT(ApplyMigrations(*pool_, ms),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("V002__broken")));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM schema_migrations"), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM pg_tables WHERE tablename = 'half'"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM journal"), 0);
  EXPECT_EQ(QueryInt(kAdvisoryLocksHere), 0);

  ms[1].sql = "CREATE TABLE half (id int);";  // fixed before it was ever applied: allowed
  COFFER_ASSERT_OK_AND_ASSIGN(MigrationResult result, ApplyMigrations(*pool_, ms));
  EXPECT_THAT(result.applied, ElementsAre(2, 3));
}

TEST_F(MigrationsPgTest, RefusesAMissingOlderMigration) {
  auto ms = BaseMigrations();
  std::vector<Migration> without_v2 = {ms[1], ms[0]};
  without_v2[1].sql = "ALTER TABLE items ADD COLUMN note text;";
  ASSERT_THAT(ApplyMigrations(*pool_, without_v2), IsOk());
  without_v2.push_back(ms[2]);  // V2 shows up after V3 was applied
  EXPECT_THAT(ApplyMigrations(*pool_, without_v2),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("V002__seed")));
}

TEST_F(MigrationsPgTest, ToleratesVersionsAppliedByANewerBinary) {
  ASSERT_THAT(ApplyMigrations(*pool_, BaseMigrations()), IsOk());
  auto older = BaseMigrations();
  older.erase(older.begin());  // the old binary knows only V1 and V2
  COFFER_ASSERT_OK_AND_ASSIGN(MigrationResult result, ApplyMigrations(*pool_, older));
  EXPECT_THAT(result.applied, IsEmpty());
  EXPECT_THAT(result.unknown_applied, ElementsAre(3));
}

TEST_F(MigrationsPgTest, CustomTableAndRejectedTableName) {
  MigrationOptions options;
  options.table = "public.vault_migrations";
  ASSERT_THAT(ApplyMigrations(*pool_, BaseMigrations(), options), IsOk());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM vault_migrations"), 3);
  options.table = "x; DROP TABLE items";
  EXPECT_THAT(ApplyMigrations(*pool_, BaseMigrations(), options),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(MigrationsPgTest, ConcurrentRunnersApplyEachMigrationExactlyOnce) {
  constexpr int kRunners = 4;
  auto ms = BaseMigrations();
  // Widen the race window: V1 holds its transaction open for a while.
  ms[1].sql += "\nSELECT pg_sleep(0.3);";
  std::vector<std::unique_ptr<ConnectionPool>> pools;
  for (int i = 0; i < kRunners; ++i) {
    COFFER_ASSERT_OK_AND_ASSIGN(auto pool, db_->NewPool(1));
    pools.push_back(std::move(pool));
  }
  std::vector<absl::StatusOr<MigrationResult>> results(kRunners, absl::UnknownError("not run"));
  std::latch start(kRunners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRunners; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = ApplyMigrations(*pools[i], ms);
    });
  }
  for (auto& thread : threads) thread.join();
  size_t applied_total = 0;
  for (const auto& r : results) {
    ASSERT_THAT(r, IsOk());
    applied_total += r->applied.size();
    EXPECT_EQ(r->applied.size() + static_cast<size_t>(r->already_applied), 3u);
  }
  EXPECT_EQ(applied_total, 3u);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM journal"), 3);
  EXPECT_EQ(QueryInt("SELECT count(DISTINCT version) FROM journal"), 3);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM schema_migrations"), 3);
}

}  // namespace
}  // namespace coffer::postgres
