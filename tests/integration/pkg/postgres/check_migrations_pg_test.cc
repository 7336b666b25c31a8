// CheckMigrations and the service start-up modes (pkg/postgres/migrations.h): the read-only view
// a service started with --migrate=off takes of its schema, the error it refuses to start with,
// the --migrate-only summary line and the --migrate / --migrate-only choice.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <random>
#include <vector>

#include "pkg/postgres/migrations.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"

namespace coffer::postgres {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::IsOkAndHolds;
using ::coffer::testing::PgTestDatabase;
using ::coffer::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::vector<Migration> ThreeMigrations() {
  return {{1, "init", "CREATE TABLE items (id bigint PRIMARY KEY);"},
          {2, "seed", "INSERT INTO items VALUES (1);"},
          {3, "note", "ALTER TABLE items ADD COLUMN note text;"}};
}

class CheckMigrationsPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COFFER_PG_TEST_DATABASE(db_);
    COFFER_ASSERT_OK_AND_ASSIGN(pool_, db_->NewPool(2));
  }

  int64_t QueryInt(const std::string& sql) {
    pqxx::connection conn(db_->dsn());
    return pqxx::nontransaction(conn).exec1(sql)[0].as<int64_t>();
  }

  std::unique_ptr<PgTestDatabase> db_;
  std::unique_ptr<ConnectionPool> pool_;
};

TEST_F(CheckMigrationsPgTest, NeverMigratedDatabaseHasEverythingPendingAndIsLeftAlone) {
  COFFER_ASSERT_OK_AND_ASSIGN(MigrationStatus status, CheckMigrations(*pool_, ThreeMigrations()));
  EXPECT_FALSE(status.table_exists);
  EXPECT_EQ(status.version, 0);
  EXPECT_EQ(status.applied, 0);
  EXPECT_THAT(status.pending, ElementsAre(1, 2, 3));
  // Checking created nothing (no migrations table).
  EXPECT_EQ(QueryInt("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);
  EXPECT_THAT(RequireNoPendingMigrations(status, ThreeMigrations(), "run the Job"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "database schema is behind this binary: never migrated (no "
                       "schema_migrations table), needs version 3 (3 pending: V001__init, "
                       "V002__seed, V003__note); run the Job"));
}

TEST_F(CheckMigrationsPgTest, PartlyMigratedDatabaseNamesWhatIsMissing) {
  std::vector<Migration> first = ThreeMigrations();
  first.resize(2);
  COFFER_ASSERT_OK_AND_ASSIGN(MigrationResult applied, ApplyMigrations(*pool_, first));
  EXPECT_EQ(applied.version, 2);
  EXPECT_EQ(DescribeMigrationResult(applied), "applied 2, now at version 2 (0 already applied)");

  COFFER_ASSERT_OK_AND_ASSIGN(MigrationStatus status, CheckMigrations(*pool_, ThreeMigrations()));
  EXPECT_TRUE(status.table_exists);
  EXPECT_EQ(status.version, 2);
  EXPECT_EQ(status.applied, 2);
  EXPECT_THAT(status.pending, ElementsAre(3));
  EXPECT_THAT(RequireNoPendingMigrations(status, ThreeMigrations(), ""),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "database schema is behind this binary: at version 2, needs version 3 (1 "
                       "pending: V003__note)"));

  COFFER_ASSERT_OK_AND_ASSIGN(applied, ApplyMigrations(*pool_, ThreeMigrations()));
  EXPECT_EQ(DescribeMigrationResult(applied), "applied 1, now at version 3 (2 already applied)");
  COFFER_ASSERT_OK_AND_ASSIGN(status, CheckMigrations(*pool_, ThreeMigrations()));
  EXPECT_THAT(status.pending, IsEmpty());
  EXPECT_THAT(RequireNoPendingMigrations(status, ThreeMigrations(), "x"), IsOk());
}

// An older binary during a rolling upgrade: newer applied versions are reported, not refused.
TEST_F(CheckMigrationsPgTest, NewerSchemaIsAccepted) {
  ASSERT_THAT(ApplyMigrations(*pool_, ThreeMigrations()).status(), IsOk());
  std::vector<Migration> older = ThreeMigrations();
  older.resize(2);
  COFFER_ASSERT_OK_AND_ASSIGN(MigrationStatus status, CheckMigrations(*pool_, older));
  EXPECT_EQ(status.version, 3);
  EXPECT_THAT(status.pending, IsEmpty());
  EXPECT_THAT(status.unknown_applied, ElementsAre(3));
  EXPECT_THAT(RequireNoPendingMigrations(status, older, "x"), IsOk());
  COFFER_ASSERT_OK_AND_ASSIGN(MigrationResult result, ApplyMigrations(*pool_, older));
  EXPECT_EQ(result.version, 3);
  EXPECT_EQ(DescribeMigrationResult(result),
            "applied 0, now at version 3 (2 already applied); versions this binary does not know "
            "are applied too: 3");
}

TEST_F(CheckMigrationsPgTest, RefusesWhatApplyWouldRefuse) {
  ASSERT_THAT(ApplyMigrations(*pool_, ThreeMigrations()).status(), IsOk());
  std::vector<Migration> edited = ThreeMigrations();
  edited[1].sql = "INSERT INTO items VALUES (2);";
  EXPECT_THAT(CheckMigrations(*pool_, edited),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("V002__seed was changed after it was applied")));
  // A migration missing below an applied one: the table knows 1 and 3 only.
  pqxx::connection conn(db_->dsn());
  pqxx::nontransaction(conn).exec("DELETE FROM schema_migrations WHERE version = 2");
  EXPECT_THAT(CheckMigrations(*pool_, ThreeMigrations()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("V002__seed is not applied but a later version (3) is")));
}

// The role a service runs as with migrations off needs SELECT on the table, nothing else.
TEST_F(CheckMigrationsPgTest, ReadOnlyRoleCanCheck) {
  ASSERT_THAT(ApplyMigrations(*pool_, ThreeMigrations()).status(), IsOk());
  std::random_device rd;
  const std::string role = "coffer_reader_" + std::to_string(rd() % 1000000000u);
  ASSERT_THAT(
      db_->Exec("CREATE ROLE " + role + " LOGIN; GRANT SELECT ON schema_migrations TO " + role),
      IsOk());
  {
    ConnectionPoolConfig config;
    config.dsn = db_->dsn() + " user=" + role;
    config.size = 1;
    COFFER_ASSERT_OK_AND_ASSIGN(auto reader, ConnectionPool::Create(config));
    COFFER_ASSERT_OK_AND_ASSIGN(MigrationStatus status,
                                CheckMigrations(*reader, ThreeMigrations()));
    EXPECT_THAT(status.pending, IsEmpty());
    // Without the grant the error says what it could not read.
    ASSERT_THAT(db_->Exec("REVOKE SELECT ON schema_migrations FROM " + role), IsOk());
    EXPECT_THAT(CheckMigrations(*reader, ThreeMigrations()),
                StatusIs(absl::StatusCode::kInternal,
                         AllOf(HasSubstr("schema_migrations"), HasSubstr("permission denied"))));
  }
  const std::string cluster = db_->cluster_dsn();
  db_.reset();
  pool_.reset();
  pqxx::connection conn(cluster);
  pqxx::nontransaction(conn).exec("DROP ROLE IF EXISTS " + role);
}

TEST(MigrateModeTest, FlagAndShorthand) {
  EXPECT_THAT(ResolveMigrateMode("auto", false), IsOkAndHolds(MigrateMode::kAuto));
  EXPECT_THAT(ResolveMigrateMode("off", false), IsOkAndHolds(MigrateMode::kOff));
  EXPECT_THAT(ResolveMigrateMode("only", false), IsOkAndHolds(MigrateMode::kOnly));
  EXPECT_THAT(ResolveMigrateMode("auto", true), IsOkAndHolds(MigrateMode::kOnly));
  EXPECT_THAT(ResolveMigrateMode("only", true), IsOkAndHolds(MigrateMode::kOnly));
  EXPECT_THAT(
      ResolveMigrateMode("off", true),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("--migrate-only (COFFER_MIGRATE_ONLY) contradicts --migrate=off")));
  EXPECT_THAT(ResolveMigrateMode("never", false),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--migrate")));
}

}  // namespace
}  // namespace coffer::postgres
