// postgres::PrepareSchema and MigrateDatabase without a database: what each --migrate mode
// refuses and how a failure to reach the schema is reported. The modes against a real
// PostgreSQL, through both service binaries, are in
// tests/integration/services/migrations/migrate_only_pg_test.cc.
#include "pkg/postgres/schema_setup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "pkg/testing/status_matchers.h"

namespace coffer::postgres {
namespace {

using ::coffer::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Nothing listens on port 1 of the loopback: every connection is refused at once.
constexpr char kNoServer[] = "host=127.0.0.1 port=1 dbname=none user=none connect_timeout=2";
constexpr char kOtherNoServer[] = "host=127.0.0.1 port=2 dbname=none user=none connect_timeout=2";

SchemaSetup TestSchema() {
  SchemaSetup setup;
  setup.binary = "coffer-test";
  setup.migrations = {Migration{1, "init", "CREATE TABLE t (id int)"}};
  setup.db_dsn = kNoServer;
  setup.log_prefix = "test ";
  setup.migrate_only_entry = "MigrateTestDatabase";
  return setup;
}

std::unique_ptr<ConnectionPool> Pool(const std::string& dsn) {
  ConnectionPoolConfig config;
  config.dsn = dsn;
  config.size = 1;
  absl::StatusOr<std::unique_ptr<ConnectionPool>> pool = ConnectionPool::Create(config);
  EXPECT_TRUE(pool.ok()) << pool.status();
  return pool.ok() ? *std::move(pool) : nullptr;
}

TEST(PrepareSchemaTest, OnlyIsNotAStartUpModeAndTouchesNoDatabase) {
  std::unique_ptr<ConnectionPool> pool = Pool(kNoServer);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(PrepareSchema(TestSchema(), MigrateMode::kOnly, *pool),
            absl::InvalidArgumentError("--migrate=only: use MigrateTestDatabase, not Start"));
  EXPECT_EQ(pool->GetStats().open, 0);
}

TEST(PrepareSchemaTest, OffReportsAnUnreadableSchemaAsTheCheckThatFailed) {
  std::unique_ptr<ConnectionPool> pool = Pool(kNoServer);
  ASSERT_NE(pool, nullptr);
  absl::Status s = PrepareSchema(TestSchema(), MigrateMode::kOff, *pool);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              StartsWith("--migrate=off: checking the schema (the runtime role needs SELECT on "
                         "schema_migrations): "));
}

TEST(PrepareSchemaTest, AutoMigratesOverTheRuntimePoolWithoutAMigrationDsn) {
  std::unique_ptr<ConnectionPool> pool = Pool(kNoServer);
  ASSERT_NE(pool, nullptr);
  absl::Status s = PrepareSchema(TestSchema(), MigrateMode::kAuto, *pool);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), StartsWith("applying migrations: "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("port 1"));
}

TEST(PrepareSchemaTest, AutoMigratesOverTheMigrationDsnWhenSet) {
  SchemaSetup setup = TestSchema();
  setup.migration_db_dsn = kOtherNoServer;
  std::unique_ptr<ConnectionPool> pool = Pool(kNoServer);
  ASSERT_NE(pool, nullptr);
  absl::Status s = PrepareSchema(setup, MigrateMode::kAuto, *pool);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), StartsWith("applying migrations: "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("port 2"));
}

TEST(MigrateDatabaseTest, UsesTheMigrationDsnWhenSetElseTheRuntimeOne) {
  absl::StatusOr<MigrationResult> runtime = MigrateDatabase(TestSchema());
  ASSERT_FALSE(runtime.ok());
  EXPECT_THAT(std::string(runtime.status().message()), StartsWith("applying migrations: "));
  EXPECT_THAT(std::string(runtime.status().message()), HasSubstr("port 1"));

  SchemaSetup setup = TestSchema();
  setup.migration_db_dsn = kOtherNoServer;
  absl::StatusOr<MigrationResult> owner = MigrateDatabase(setup);
  ASSERT_FALSE(owner.ok());
  EXPECT_THAT(std::string(owner.status().message()), StartsWith("applying migrations: "));
  EXPECT_THAT(std::string(owner.status().message()), HasSubstr("port 2"));
}

}  // namespace
}  // namespace coffer::postgres
