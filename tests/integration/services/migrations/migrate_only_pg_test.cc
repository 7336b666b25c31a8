// The schema step of both service binaries against a real PostgreSQL (README "Migrations",
// helm/README.md "Database migrations"): `--migrate-only` migrates an empty database, prints its
// one-line summary and exits 0, and a second run applies nothing; `--migrate=off` refuses to
// start on a database that is behind, with an error saying what to run; a schema owner migrates
// with --migration-db-dsn while a runtime role holding only the GRANTs helm/README.md lists
// serves with --migrate=off. The binaries run as processes (pkg/testing/process.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <ostream>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <random>
#include <string>
#include <vector>

#include "pkg/postgres/migrations.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/process.h"
#include "pkg/testing/status_matchers.h"

namespace coffer {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kKek[] = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

struct Service {
  std::string name;                       // "vault" / "identity"
  std::string binary;                     // path of the built binary
  std::string migrations;                 // source directory of its migrations
  std::vector<std::string> migrate_args;  // what --migrate-only needs besides the database
  std::vector<std::string> start_args;    // what a normal start needs besides the database
};

void PrintTo(const Service& service, std::ostream* os) { *os << service.name; }

Service Vault() {
  return {"vault",
          COFFER_VAULT_BIN,
          COFFER_SOURCE_DIR "/services/vault/migrations",
          {"--shard-id", "shard-m"},
          {"--shard-id", "shard-m", "--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
           "--kek", kKek,
           // Never fetched before the schema step; a failed fetch only warns.
           "--jwks-url", "http://127.0.0.1:1/jwks"}};
}

Service Identity() {
  return {"identity",
          COFFER_IDENTITY_BIN,
          COFFER_SOURCE_DIR "/services/identity/migrations",
          {},
          {"--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--http-addr",
           "127.0.0.1:0", "--kek", kKek, "--argon2-ops-limit", "1", "--argon2-memory-kib", "8192"}};
}

std::string RandomSuffix() {
  std::random_device rd;
  return std::to_string(rd() % 1000000000u);
}

// The highest version among a service's migration files, and how many there are.
std::pair<int, int> LatestVersion(const Service& s) {
  auto migrations = postgres::LoadMigrationsFromDirectory(s.migrations);
  EXPECT_TRUE(migrations.ok()) << migrations.status();
  if (!migrations.ok() || migrations->empty()) return {0, 0};
  return {migrations->back().version, static_cast<int>(migrations->size())};
}

class MigrateOnlyPgTest : public ::testing::TestWithParam<Service> {
 protected:
  void SetUp() override {
    COFFER_PG_TEST_DATABASE(db_);
    char tmpl[] = "/tmp/coffer-migrate-only-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }

  void TearDown() override {
    for (auto& p : processes_) p->Stop();
    processes_.clear();
    db_.reset();  // drops the database, and with it what the roles below own there
    for (const std::string& role : roles_) {
      pqxx::connection conn(cluster_dsn_);
      pqxx::nontransaction(conn).exec("DROP ROLE IF EXISTS " + role);
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Runs the binary to its exit (60 s at most); its exit code (-1 when it did not exit) and
  // its stdout + stderr.
  std::pair<int, std::string> Run(const std::vector<std::string>& args) {
    auto p = Spawn(args);
    std::optional<int> status = p->WaitExit(std::chrono::seconds(60));
    if (!status) {
      p->Kill();
      return {-1, p->Log()};
    }
    return {WIFEXITED(*status) ? WEXITSTATUS(*status) : -1, p->Log()};
  }

  std::unique_ptr<testing::ChildProcess> Spawn(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {GetParam().binary};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = std::make_unique<testing::ChildProcess>(
        GetParam().name,
        testing::ChildProcess::Options{
            argv, dir_ + "/" + GetParam().name + "-" + std::to_string(runs_++) + ".log"});
    EXPECT_TRUE(p->Start());
    return p;
  }

  // A normal start (flags the service needs plus `args`).
  std::vector<std::string> StartArgs(std::vector<std::string> args) const {
    std::vector<std::string> all = GetParam().start_args;
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }

  // A migration run (flags the service needs plus `args`).
  std::vector<std::string> MigrateArgs(std::vector<std::string> args) const {
    std::vector<std::string> all = GetParam().migrate_args;
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }

  // Creates a login role (dropped in TearDown); returns the test database's DSN as that role
  // (libpq takes the last of repeated keywords; the test cluster trusts loopback logins).
  std::string CreateRole(const std::string& prefix) {
    const std::string role = prefix + "_" + RandomSuffix();
    cluster_dsn_ = db_->cluster_dsn();
    EXPECT_THAT(db_->Exec("CREATE ROLE " + role + " LOGIN"), testing::IsOk());
    roles_.push_back(role);
    return db_->dsn() + " user=" + role;
  }

  int64_t QueryInt(const std::string& sql) {
    pqxx::connection conn(db_->dsn());
    return pqxx::nontransaction(conn).exec1(sql)[0].as<int64_t>();
  }

  std::unique_ptr<testing::PgTestDatabase> db_;
  std::string dir_;
  std::string cluster_dsn_;
  std::vector<std::string> roles_;
  std::vector<std::unique_ptr<testing::ChildProcess>> processes_;
  int runs_ = 0;
};

TEST_P(MigrateOnlyPgTest, MigratesAnEmptyDatabaseThenFindsNothingLeft) {
  const auto [latest, count] = LatestVersion(GetParam());
  ASSERT_GT(latest, 0);
  const std::string prefix = "coffer-" + GetParam().name + " --migrate-only: ";

  auto [code, out] = Run(MigrateArgs({"--migrate-only", "--db-dsn", db_->dsn()}));
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr(prefix + "applied " + std::to_string(count) + ", now at version " +
                             std::to_string(latest) + " (0 already applied)"));
  EXPECT_EQ(QueryInt("SELECT max(version) FROM schema_migrations"), latest);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM schema_migrations"), count);

  // --migrate=only is the same, and from the environment as a Job would set it.
  std::tie(code, out) = Run(MigrateArgs({"--migrate=only", "--db-dsn", db_->dsn()}));
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr(prefix + "applied 0, now at version " + std::to_string(latest) + " (" +
                             std::to_string(count) + " already applied)"));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM schema_migrations"), count);

  // A migrated database starts with migrations off.
  auto p = Spawn(StartArgs({"--migrate=off", "--db-dsn", db_->dsn()}));
  EXPECT_GT(p->WaitForLogInt("grpc_port"), 0) << p->Log();
  EXPECT_THAT(p->Log(), HasSubstr("schema is current (migrations off)"));
  processes_.push_back(std::move(p));
}

TEST_P(MigrateOnlyPgTest, MigrationsOffRefusesADatabaseThatIsBehind) {
  const auto [latest, count] = LatestVersion(GetParam());
  auto [code, out] = Run(StartArgs({"--migrate=off", "--db-dsn", db_->dsn()}));
  EXPECT_NE(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("database schema is behind this binary: never migrated (no "
                             "schema_migrations table), needs version " +
                             std::to_string(latest) + " (" + std::to_string(count) +
                             " pending: V001__init"));
  EXPECT_THAT(out, HasSubstr("--migrate=off applies none: run `coffer-" + GetParam().name +
                             " --migrate-only` first"));
  EXPECT_THAT(out, Not(HasSubstr("grpc_port")));
  // Nothing was created.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);

  // Part-way: only the first migration applied (an older binary's Job ran).
  auto first = postgres::LoadMigrationsFromDirectory(GetParam().migrations);
  ASSERT_TRUE(first.ok());
  first->resize(1);
  COFFER_ASSERT_OK_AND_ASSIGN(auto pool, db_->NewPool(1));
  ASSERT_THAT(postgres::ApplyMigrations(*pool, *first).status(), testing::IsOk());
  std::tie(code, out) = Run(StartArgs({"--migrate=off", "--db-dsn", db_->dsn()}));
  EXPECT_NE(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("database schema is behind this binary: at version " +
                             std::to_string(first->front().version) + ", needs version " +
                             std::to_string(latest)));
}

TEST_P(MigrateOnlyPgTest, FailuresAreClearAndNonZero) {
  // Unreachable server: one line on stderr, exit 1.
  auto [code, out] = Run(MigrateArgs(
      {"--migrate-only", "--db-dsn", "host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2"}));
  EXPECT_EQ(code, 1) << out;
  EXPECT_THAT(out, HasSubstr("coffer-" + GetParam().name + " --migrate-only failed: "));
  EXPECT_THAT(out, HasSubstr("applying migrations"));
  // Contradicting choices are refused before anything runs.
  std::tie(code, out) =
      Run(MigrateArgs({"--migrate-only", "--migrate=off", "--db-dsn", db_->dsn()}));
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("--migrate-only (COFFER_MIGRATE_ONLY) contradicts --migrate=off"));
  std::tie(code, out) = Run(MigrateArgs({"--migrate=later", "--db-dsn", db_->dsn()}));
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("--migrate"));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);
}

// The deployment the chart documents: the schema owner migrates (the Job, --migration-db-dsn),
// the runtime role has only DML (helm/README.md "Database roles") and serves with migrations off.
TEST_P(MigrateOnlyPgTest, OwnerMigratesRuntimeRoleWithDmlGrantsServes) {
  const std::string owner_dsn = CreateRole("coffer_owner");
  const std::string owner = roles_.back();
  const std::string app_dsn = CreateRole("coffer_app");
  const std::string app = roles_.back();
  // What helm/README.md tells the operator to run once per database, before the first Job.
  ASSERT_THAT(db_->Exec("ALTER DATABASE " + db_->name() + " OWNER TO " + owner), testing::IsOk());
  ASSERT_THAT(db_->Exec("GRANT CONNECT ON DATABASE " + db_->name() + " TO " + app + ";" +
                        "GRANT USAGE ON SCHEMA public TO " + app + ";" +
                        "ALTER DEFAULT PRIVILEGES FOR ROLE " + owner +
                        " IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " +
                        app + ";" + "ALTER DEFAULT PRIVILEGES FOR ROLE " + owner +
                        " IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO " + app + ";"),
              testing::IsOk());

  // The Job: the runtime DSN is not needed, the owner's is given as the migration DSN.
  auto [code, out] =
      Run(MigrateArgs({"--migrate-only", "--db-dsn", app_dsn, "--migration-db-dsn", owner_dsn}));
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(QueryInt("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner "
                     "<> '" +
                     owner + "'"),
            0);
  // The runtime role may read and write every table and use every sequence, and create nothing.
  // (has_table_privilege with a list is true when ANY is held, so one call per privilege.)
  for (const char* privilege : {"SELECT", "INSERT", "UPDATE", "DELETE"}) {
    EXPECT_EQ(QueryInt("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND NOT "
                       "has_table_privilege('" +
                       app + "', schemaname || '.' || tablename, '" + privilege + "')"),
              0)
        << privilege;
  }
  EXPECT_EQ(QueryInt("SELECT count(*) FROM pg_sequences WHERE schemaname = 'public' AND NOT "
                     "has_sequence_privilege('" +
                     app +
                     "', schemaname || '.' || sequencename, "
                     "'USAGE')"),
            0);
  EXPECT_EQ(QueryInt("SELECT has_schema_privilege('" + app + "', 'public', 'CREATE')::int"), 0);

  // Serving as the runtime role with migrations off.
  auto p = Spawn(StartArgs({"--migrate=off", "--db-dsn", app_dsn}));
  EXPECT_GT(p->WaitForLogInt("grpc_port"), 0) << p->Log();
  p->Stop();
  // At start the runtime role cannot migrate (no CREATE), but with the owner's DSN as the
  // migration DSN a start with --migrate=auto does, then serves as the runtime role.
  p = Spawn(StartArgs({"--migrate=auto", "--db-dsn", app_dsn, "--migration-db-dsn", owner_dsn}));
  EXPECT_GT(p->WaitForLogInt("grpc_port"), 0) << p->Log();
  EXPECT_THAT(p->Log(), HasSubstr("\"applied\":0"));
  processes_.push_back(std::move(p));
}

std::string ParamName(const ::testing::TestParamInfo<Service>& param) {
  return param.param.name == "vault" ? "Vault" : "Identity";
}

INSTANTIATE_TEST_SUITE_P(Binaries, MigrateOnlyPgTest, ::testing::Values(Vault(), Identity()),
                         ParamName);

}  // namespace
}  // namespace coffer
