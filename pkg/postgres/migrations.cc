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

  struct Applied {
    std::string name;
    std::string checksum;
  };
  std::map<int, Applied> applied;
  try {
    pqxx::nontransaction txn(lease.get());
    txn.exec("CREATE TABLE IF NOT EXISTS " + table +
             " (version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
             " applied_at timestamptz NOT NULL DEFAULT now())");
    for (const auto& row : txn.exec("SELECT version, name, checksum FROM " + table)) {
      applied[row[0].as<int>()] = Applied{row[1].as<std::string>(), row[2].as<std::string>()};
    }
  } catch (...) {
    return StatusFromCurrentException("migrations: reading " + table);
  }

  MigrationResult result;
  const int max_applied = applied.empty() ? 0 : applied.rbegin()->first;
  std::vector<const Migration*> pending;
  std::map<int, bool> known;
  for (const Migration& m : migrations) {
    known[m.version] = true;
    auto it = applied.find(m.version);
    if (it == applied.end()) {
      if (m.version < max_applied) {
        return absl::FailedPreconditionError(
            "migration " + m.Label() + " is not applied but a later version (" +
            std::to_string(max_applied) + ") is; add new migrations with higher versions");
      }
      pending.push_back(&m);
      continue;
    }
    if (it->second.checksum != MigrationChecksum(m.sql)) {
      return absl::FailedPreconditionError("migration " + m.Label() +
                                           " was changed after it was applied (checksum "
                                           "mismatch); add a new migration instead");
    }
    ++result.already_applied;
  }
  for (const auto& [version, unused] : applied) {
    if (known.count(version) == 0) result.unknown_applied.push_back(version);
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
  }
  return result;
}

}  // namespace coffer::postgres
