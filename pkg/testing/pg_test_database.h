// A fresh PostgreSQL database per test (STYLE habit 9: hermetic tests).
//
// Where the server comes from:
//   * env COFFER_TEST_PG_INFO names a file written by scripts/testpg (CTest's coffer_pg fixture
//     does this): its one line is a libpq DSN to the cluster's `postgres` database, or
//     "unavailable: <reason>";
//   * when the variable is unset, the first Create() in the process starts a private cluster with
//     `<repo>/scripts/testpg start <tmpdir>` and stops it at process exit.
// When the server is unavailable, tests skip with the reason, except when env CI=true or
// COFFER_REQUIRE_PG=1, where they fail.
//
// Each PgTestDatabase creates an empty database with a name unique per process and test, and
// drops it (WITH (FORCE), so leftover sessions do not block) when destroyed.
//
// Usage in a fixture:
//   class RecordRepositoryPgTest : public ::testing::Test {
//    protected:
//     void SetUp() override { COFFER_PG_TEST_DATABASE(db_); }
//     std::unique_ptr<coffer::testing::PgTestDatabase> db_;
//   };
// Threading: Create() is thread-safe; an instance is used by one test.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/postgres/connection_pool.h"

namespace coffer::testing {

class PgTestDatabase {
 public:
  // Creates a fresh database. On failure, IsSkip(status) tells whether the test should skip
  // (server unavailable and not required) rather than fail.
  static absl::StatusOr<std::unique_ptr<PgTestDatabase>> Create();

  // True for a Create() error that means "no PostgreSQL here, skip".
  static bool IsSkip(const absl::Status& status);

  PgTestDatabase(const PgTestDatabase&) = delete;
  PgTestDatabase& operator=(const PgTestDatabase&) = delete;
  ~PgTestDatabase();

  // libpq DSN of this test's database.
  const std::string& dsn() const { return dsn_; }
  const std::string& name() const { return name_; }
  // DSN of the cluster's maintenance database (`postgres`), e.g. to terminate backends.
  const std::string& cluster_dsn() const { return cluster_dsn_; }

  // A connection pool to this database (connect timeout 5 s, acquire timeout 10 s).
  absl::StatusOr<std::unique_ptr<postgres::ConnectionPool>> NewPool(int size = 4) const;

  // Runs `sql` (one or more statements) in autocommit mode on a new connection; for test setup.
  absl::Status Exec(const std::string& sql) const;

 private:
  PgTestDatabase(std::string cluster_dsn, std::string name, std::string dsn);

  const std::string cluster_dsn_;
  const std::string name_;
  const std::string dsn_;
};

}  // namespace coffer::testing

// Creates a fresh database into `db` (a std::unique_ptr<PgTestDatabase>), or skips / fails the
// current test. Use in SetUp() or a TEST body (it returns from the enclosing void function).
#define COFFER_PG_TEST_DATABASE(db)                                            \
  do {                                                                         \
    auto coffer_pg_db_ = ::coffer::testing::PgTestDatabase::Create();          \
    if (!coffer_pg_db_.ok()) {                                                 \
      if (::coffer::testing::PgTestDatabase::IsSkip(coffer_pg_db_.status())) { \
        GTEST_SKIP() << coffer_pg_db_.status().message();                      \
      }                                                                        \
      FAIL() << "PostgreSQL test database: " << coffer_pg_db_.status();        \
    }                                                                          \
    (db) = std::move(coffer_pg_db_).value();                                   \
  } while (false)
