#include "pkg/testing/pg_test_database.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <sstream>
#include <string_view>

#include "absl/strings/cord.h"
#include "pkg/postgres/errors.h"

namespace coffer::testing {
namespace {

constexpr char kSkipPayloadUrl[] = "coffer.testing/pg-skip";

// The repository root, for scripts/testpg. CMake passes it; otherwise derive it from this file.
std::string RepoRoot() {
#ifdef COFFER_SOURCE_DIR
  return COFFER_SOURCE_DIR;
#else
  std::string file = __FILE__;
  const std::string suffix = "/pkg/testing/pg_test_database.cc";
  return file.substr(0, file.size() - suffix.size());
#endif
}

bool PgRequired() {
  const char* ci = std::getenv("CI");
  const char* require = std::getenv("COFFER_REQUIRE_PG");
  return (ci != nullptr && std::string_view(ci) == "true") ||
         (require != nullptr && std::string_view(require) == "1");
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Set once, when this process started its own cluster; stopped at exit.
std::string* private_cluster_dir = nullptr;

void StopPrivateCluster() {
  if (private_cluster_dir == nullptr) return;
  const std::string& dir = *private_cluster_dir;
  std::string cmd = ShellQuote(RepoRoot() + "/scripts/testpg") + " stop " + ShellQuote(dir) +
                    " >/dev/null 2>&1; rm -rf " + ShellQuote(dir);
  if (std::system(cmd.c_str()) != 0) {
    // Nothing more to do at exit; the directory lives under /tmp.
  }
}

// The path of the info file: from COFFER_TEST_PG_INFO, or of a private cluster started now.
absl::StatusOr<std::string> InfoFile() {
  const char* env = std::getenv("COFFER_TEST_PG_INFO");
  if (env != nullptr && *env != '\0') return std::string(env);
  static std::once_flag once;
  static absl::Status start_status;
  std::call_once(once, [] {
    char tmpl[] = "/tmp/coffer-testpg-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      start_status = absl::InternalError("mkdtemp failed for the private PostgreSQL cluster");
      return;
    }
    private_cluster_dir = new std::string(tmpl);
    std::atexit(StopPrivateCluster);
    std::string cmd = ShellQuote(RepoRoot() + "/scripts/testpg") + " start " +
                      ShellQuote(*private_cluster_dir) + " 1>&2";
    if (std::system(cmd.c_str()) != 0) {
      start_status = absl::FailedPreconditionError(
          "scripts/testpg could not start a private PostgreSQL cluster in " + *private_cluster_dir);
    }
  });
  if (!start_status.ok()) return start_status;
  return *private_cluster_dir + "/info";
}

// The cluster's DSN, read once per process.
absl::StatusOr<std::string> ClusterDsn() {
  auto file = InfoFile();
  if (!file.ok()) return file.status();
  std::ifstream in(*file);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return absl::FailedPreconditionError("cannot read PostgreSQL test info file " + *file +
                                         " (COFFER_TEST_PG_INFO)");
  }
  const std::string unavailable = "unavailable:";
  if (line.rfind(unavailable, 0) == 0) {
    std::string reason = "PostgreSQL " + line;
    if (PgRequired()) {
      return absl::FailedPreconditionError(reason + " (required: CI=true or COFFER_REQUIRE_PG=1)");
    }
    absl::Status skip = absl::UnavailableError(reason);
    skip.SetPayload(kSkipPayloadUrl, absl::Cord("1"));
    return skip;
  }
  return line;
}

// A database name unique per process and test: coffer_t_<pid>_<n>_<suite>_<test>, at most 63
// bytes (PostgreSQL's identifier limit), lower case so it needs no quoting surprises.
std::string UniqueName() {
  static std::atomic<int> counter{0};
  std::string name =
      "coffer_t_" + std::to_string(getpid()) + "_" + std::to_string(counter.fetch_add(1));
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    name += "_" + std::string(info->test_suite_name()) + "_" + info->name();
  }
  std::string out;
  for (char c : name) {
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
               : '_';
  }
  return out.substr(0, 63);
}

// Replaces the dbname of a keyword/value DSN (the form scripts/testpg writes).
std::string WithDbName(const std::string& dsn, const std::string& db) {
  std::istringstream in(dsn);
  std::string token;
  std::string out;
  while (in >> token) {
    if (token.rfind("dbname=", 0) == 0) continue;
    out += token + " ";
  }
  return out + "dbname=" + db;
}

absl::Status ExecOn(const std::string& dsn, const std::string& sql) {
  return postgres::CatchPqxx([&] {
    pqxx::connection conn(dsn);
    pqxx::nontransaction txn(conn);
    txn.exec(sql);
    return absl::OkStatus();
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgTestDatabase>> PgTestDatabase::Create() {
  auto cluster = ClusterDsn();
  if (!cluster.ok()) return cluster.status();
  const std::string name = UniqueName();
  absl::Status created = ExecOn(*cluster, "CREATE DATABASE " + name + " TEMPLATE template0");
  if (!created.ok()) {
    return absl::Status(created.code(),
                        "creating test database " + name + ": " + std::string(created.message()));
  }
  return std::unique_ptr<PgTestDatabase>(
      new PgTestDatabase(*cluster, name, WithDbName(*cluster, name)));
}

bool PgTestDatabase::IsSkip(const absl::Status& status) {
  return status.GetPayload(kSkipPayloadUrl).has_value();
}

PgTestDatabase::PgTestDatabase(std::string cluster_dsn, std::string name, std::string dsn)
    : cluster_dsn_(std::move(cluster_dsn)), name_(std::move(name)), dsn_(std::move(dsn)) {}

PgTestDatabase::~PgTestDatabase() {
  absl::Status dropped = ExecOn(cluster_dsn_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  if (!dropped.ok()) ADD_FAILURE() << "dropping test database " << name_ << ": " << dropped;
}

absl::StatusOr<std::unique_ptr<postgres::ConnectionPool>> PgTestDatabase::NewPool(int size) const {
  postgres::ConnectionPoolConfig config;
  config.dsn = dsn_;
  config.size = size;
  config.connect_timeout = std::chrono::seconds(5);
  config.acquire_timeout = std::chrono::milliseconds(10000);
  return postgres::ConnectionPool::Create(std::move(config));
}

absl::Status PgTestDatabase::Exec(const std::string& sql) const { return ExecOn(dsn_, sql); }

}  // namespace coffer::testing
