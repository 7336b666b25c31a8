#include "pkg/postgres/migrations.h"

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>
#include <regex>
#include <sstream>

#include "pkg/postgres/errors.h"
#include "pkg/status/status.h"

namespace coffer::postgres {
namespace {

const std::regex& FileNamePattern() {
  static const std::regex kPattern("^V([0-9]+)__([A-Za-z0-9_]+)\\.sql$");
  return kPattern;
}

// Table names are spliced into SQL, so only plain (optionally schema-qualified) identifiers.
bool IsPlainTableName(const std::string& table) {
  static const std::regex kPattern("^[a-z_][a-z0-9_]*(\\.[a-z_][a-z0-9_]*)?$");
  return std::regex_match(table, kPattern);
}

// Holds the session advisory lock of a migration run and releases it on every exit path. A
// pooled connection must never go back to the pool still holding it, so if the unlock fails
// the connection is closed instead (which releases the lock on the server).
class SessionLockGuard {
 public:
  SessionLockGuard(ConnectionPool::Lease& lease, int64_t key) : lease_(lease), key_(key) {}
  SessionLockGuard(const SessionLockGuard&) = delete;
  SessionLockGuard& operator=(const SessionLockGuard&) = delete;
  ~SessionLockGuard() {
    try {
      pqxx::nontransaction txn(lease_.get());
      const bool unlocked = txn.exec_params1("SELECT pg_advisory_unlock($1)", key_)[0].as<bool>();
      // Back to the connection's own statement_timeout before the pool lends it out again.
      txn.exec("RESET statement_timeout");
      if (unlocked) return;
    } catch (...) {
    }
    lease_.MarkBroken();
  }

 private:
  ConnectionPool::Lease& lease_;
  const int64_t key_;
};

struct AppliedMigration {
  std::string name;
  std::string checksum;
};

// Fills `applied` from the migrations table (which must exist).
void ReadApplied(pqxx::transaction_base& txn, const std::string& table,
                 std::map<int, AppliedMigration>& applied) {
  for (const auto& row : txn.exec("SELECT version, name, checksum FROM " + table)) {
    applied[row[0].as<int>()] =
        AppliedMigration{row[1].as<std::string>(), row[2].as<std::string>()};
  }
}

// Compares what is applied with `migrations` (sorted): FAILED_PRECONDITION for a changed applied
// migration or a pending one below the highest applied version. table_exists is left false.
absl::StatusOr<MigrationStatus> Compare(const std::map<int, AppliedMigration>& applied,
                                        const std::vector<Migration>& migrations) {
  MigrationStatus status;
  status.version = applied.empty() ? 0 : applied.rbegin()->first;
  std::map<int, bool> known;
  for (const Migration& m : migrations) {
    known[m.version] = true;
    auto it = applied.find(m.version);
    if (it == applied.end()) {
      if (m.version < status.version) {
        return absl::FailedPreconditionError(
            "migration " + m.Label() + " is not applied but a later version (" +
            std::to_string(status.version) + ") is; add new migrations with higher versions");
      }
      status.pending.push_back(m.version);
      continue;
    }
    if (it->second.checksum != MigrationChecksum(m.sql)) {
      return absl::FailedPreconditionError("migration " + m.Label() +
                                           " was changed after it was applied (checksum "
                                           "mismatch); add a new migration instead");
    }
    ++status.applied;
  }
  for (const auto& [version, unused] : applied) {
    if (known.count(version) == 0) status.unknown_applied.push_back(version);
  }
  return status;
}

}  // namespace

std::string Migration::Label() const {
  char version_text[16];
  std::snprintf(version_text, sizeof(version_text), "V%03d", version);
  return std::string(version_text) + "__" + name;
}

absl::StatusOr<Migration> ParseMigrationFileName(const std::string& file_name) {
  std::smatch match;
  if (!std::regex_match(file_name, match, FileNamePattern())) {
    return absl::InvalidArgumentError("migration file name \"" + file_name +
                                      "\" does not match V<version>__<name>.sql");
  }
  const std::string digits = match[1].str();
  if (digits.size() > 9) {
    return absl::InvalidArgumentError("migration version too large in \"" + file_name + "\"");
  }
  Migration migration;
  migration.version = std::stoi(digits);
  migration.name = match[2].str();
  if (migration.version <= 0) {
    return absl::InvalidArgumentError("migration version must be > 0 in \"" + file_name + "\"");
  }
  return migration;
}

absl::Status SortAndValidateMigrations(std::vector<Migration>& migrations) {
  std::sort(migrations.begin(), migrations.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 0; i < migrations.size(); ++i) {
    const Migration& m = migrations[i];
    if (m.version <= 0) {
      return absl::InvalidArgumentError("migration " + m.Label() + ": version must be > 0");
    }
    if (m.name.empty()) {
      return absl::InvalidArgumentError("migration version " + std::to_string(m.version) +
                                        " has an empty name");
    }
    if (i > 0 && migrations[i - 1].version == m.version) {
      return absl::InvalidArgumentError("duplicate migration version " + std::to_string(m.version) +
                                        ": " + migrations[i - 1].Label() + " and " + m.Label());
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Migration>> LoadMigrationsFromDirectory(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError("migrations directory not found: " + dir);
  }
  std::vector<Migration> migrations;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".sql") continue;
    COFFER_ASSIGN_OR_RETURN(Migration migration,
                            ParseMigrationFileName(entry.path().filename().string()));
    std::ifstream in(entry.path(), std::ios::binary);
    if (!in) return absl::InternalError("cannot read " + entry.path().string());
    std::ostringstream text;
    text << in.rdbuf();
    migration.sql = text.str();
    migrations.push_back(std::move(migration));
  }
  if (ec) return absl::InternalError("listing " + dir + ": " + ec.message());
  COFFER_RETURN_IF_ERROR(SortAndValidateMigrations(migrations));
  return migrations;
}

std::string MigrationChecksum(const std::string& sql) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(sql.data(), sql.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

absl::StatusOr<MigrationResult> ApplyMigrations(ConnectionPool& pool,
                                                std::vector<Migration> migrations,
                                                const MigrationOptions& options) {
  COFFER_RETURN_IF_ERROR(SortAndValidateMigrations(migrations));
  if (!IsPlainTableName(options.table)) {
    return absl::InvalidArgumentError("invalid migrations table name \"" + options.table + "\"");
  }
  const std::string& table = options.table;

  COFFER_ASSIGN_OR_RETURN(ConnectionPool::Lease lease, pool.Acquire());
  try {
    pqxx::nontransaction txn(lease.get());
    // Waiting for another replica's run and a migration itself may outlast the pool's
    // statement_timeout; the guard below restores it (or the connection is dropped).
    txn.exec_params("SELECT set_config('statement_timeout', $1, false)",
                    std::to_string(options.statement_timeout.count()));
    txn.exec_params("SELECT pg_advisory_lock($1)", options.lock_key);
  } catch (...) {
    lease.MarkBroken();
    return StatusFromCurrentException("migrations: taking the advisory lock");
  }
  SessionLockGuard guard(lease, options.lock_key);

  std::map<int, AppliedMigration> applied;
  try {
    pqxx::nontransaction txn(lease.get());
    txn.exec("CREATE TABLE IF NOT EXISTS " + table +
             " (version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
             " applied_at timestamptz NOT NULL DEFAULT now())");
    ReadApplied(txn, table, applied);
  } catch (...) {
    return StatusFromCurrentException("migrations: reading " + table);
  }

  COFFER_ASSIGN_OR_RETURN(MigrationStatus state, Compare(applied, migrations));
  MigrationResult result;
  result.already_applied = state.applied;
  result.unknown_applied = state.unknown_applied;
  result.version = state.version;
  std::vector<const Migration*> pending;
  for (const Migration& m : migrations) {
    if (applied.count(m.version) == 0) pending.push_back(&m);
  }

  for (const Migration* m : pending) {
    try {
      pqxx::work txn(lease.get());
      txn.exec(m->sql);
      txn.exec_params("INSERT INTO " + table + " (version, name, checksum) VALUES ($1, $2, $3)",
                      m->version, m->name, MigrationChecksum(m->sql));
      txn.commit();
    } catch (...) {
      return StatusFromCurrentException("applying migration " + m->Label());
    }
    result.applied.push_back(m->version);
    result.version = std::max(result.version, m->version);
  }
  return result;
}

absl::StatusOr<MigrationStatus> CheckMigrations(ConnectionPool& pool,
                                                std::vector<Migration> migrations,
                                                const MigrationOptions& options) {
  COFFER_RETURN_IF_ERROR(SortAndValidateMigrations(migrations));
  if (!IsPlainTableName(options.table)) {
    return absl::InvalidArgumentError("invalid migrations table name \"" + options.table + "\"");
  }
  std::map<int, AppliedMigration> applied;
  bool table_exists = false;
  COFFER_ASSIGN_OR_RETURN(ConnectionPool::Lease lease, pool.Acquire());
  try {
    pqxx::nontransaction txn(lease.get());
    // to_regclass resolves the name like the queries do (search_path) and is NULL when absent.
    table_exists =
        txn.exec_params1("SELECT to_regclass($1) IS NOT NULL", options.table)[0].as<bool>();
    if (table_exists) ReadApplied(txn, options.table, applied);
  } catch (...) {
    return StatusFromCurrentException("migrations: reading " + options.table);
  }
  COFFER_ASSIGN_OR_RETURN(MigrationStatus status, Compare(applied, migrations));
  status.table_exists = table_exists;
  return status;
}

absl::Status RequireNoPendingMigrations(const MigrationStatus& status,
                                        const std::vector<Migration>& migrations,
                                        std::string_view remedy) {
  if (status.pending.empty()) return absl::OkStatus();
  std::map<int, std::string> labels;
  int needed = 0;
  for (const Migration& m : migrations) {
    labels[m.version] = m.Label();
    needed = std::max(needed, m.version);
  }
  std::string message = "database schema is behind this binary: ";
  message += status.table_exists ? "at version " + std::to_string(status.version)
                                 : std::string("never migrated (no schema_migrations table)");
  message += ", needs version " + std::to_string(needed) + " (" +
             std::to_string(status.pending.size()) + " pending: ";
  constexpr size_t kListed = 5;
  for (size_t i = 0; i < status.pending.size() && i < kListed; ++i) {
    if (i > 0) message += ", ";
    message += labels[status.pending[i]];
  }
  if (status.pending.size() > kListed) message += ", ...";
  message += ")";
  if (!remedy.empty()) message += "; " + std::string(remedy);
  return absl::FailedPreconditionError(message);
}

std::string DescribeMigrationResult(const MigrationResult& result) {
  std::string text = "applied " + std::to_string(result.applied.size()) + ", now at version " +
                     std::to_string(result.version) + " (" +
                     std::to_string(result.already_applied) + " already applied)";
  if (!result.unknown_applied.empty()) {
    text += "; versions this binary does not know are applied too:";
    for (int v : result.unknown_applied) text += " " + std::to_string(v);
  }
  return text;
}

absl::StatusOr<MigrateMode> ResolveMigrateMode(std::string_view migrate, bool migrate_only) {
  MigrateMode mode;
  if (migrate == "auto") {
    mode = MigrateMode::kAuto;
  } else if (migrate == "off") {
    mode = MigrateMode::kOff;
  } else if (migrate == "only") {
    mode = MigrateMode::kOnly;
  } else {
    return absl::InvalidArgumentError("--migrate must be auto, off or only");
  }
  if (!migrate_only) return mode;
  if (mode == MigrateMode::kOff) {
    return absl::InvalidArgumentError(
        "--migrate-only (COFFER_MIGRATE_ONLY) contradicts --migrate=off (COFFER_MIGRATE)");
  }
  return MigrateMode::kOnly;
}

}  // namespace coffer::postgres
