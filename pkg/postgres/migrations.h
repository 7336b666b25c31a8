// Schema migrations: numbered SQL files applied once each, in order, recorded in a table.
//
// Files are named `V<version>__<name>.sql` (version: decimal digits, > 0, e.g. V001__init.sql;
// name: letters, digits, underscores). Services embed them in their binary at build time with
// the CMake function coffer_embed_migrations (pkg/postgres/CMakeLists.txt), so one binary ships
// its schema; LoadMigrationsFromDirectory reads the same files at run time (tools, tests).
//
// ApplyMigrations, run by every replica at start-up:
//   * takes a session advisory lock for the whole run, so replicas starting together apply
//     each migration exactly once (the others wait, then find nothing left to do);
//   * creates `schema_migrations(version, name, checksum, applied_at)` if missing;
//   * refuses (FAILED_PRECONDITION) when an applied migration's SQL changed (SHA-256 checksum),
//     or when a not-yet-applied migration has a lower version than one already applied;
//   * applies each pending migration and its record row in its own transaction, so a failing
//     migration leaves no trace and stops the run (later ones are not attempted);
//   * tolerates applied versions the binary does not know (an older binary during a rolling
//     upgrade), reporting them in MigrationResult.
// A migration file may hold several statements; it runs inside a transaction, so statements
// that refuse transactions (CREATE INDEX CONCURRENTLY, VACUUM) are not supported.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/postgres/connection_pool.h"

namespace coffer::postgres {

struct Migration {
  int version = 0;
  std::string name;  // from the file name, without version and extension
  std::string sql;

  // "V003__add_index", for messages.
  std::string Label() const;
};

// Parses "V003__add_index.sql" into {3, "add_index", ""}. INVALID_ARGUMENT otherwise (also for
// paths: pass the bare file name).
absl::StatusOr<Migration> ParseMigrationFileName(const std::string& file_name);

// Sorts by version; INVALID_ARGUMENT on a duplicate version, a version <= 0 or an empty name.
absl::Status SortAndValidateMigrations(std::vector<Migration>& migrations);

// Reads every `*.sql` file of `dir` (not recursive; other files are ignored), sorted and
// validated. INVALID_ARGUMENT for a .sql file whose name does not parse (a typo would otherwise
// silently skip a migration); NOT_FOUND when `dir` does not exist.
absl::StatusOr<std::vector<Migration>> LoadMigrationsFromDirectory(const std::string& dir);

// Lower-case hex SHA-256 of the SQL text, stored to detect edits of applied migrations.
std::string MigrationChecksum(const std::string& sql);

struct MigrationOptions {
  // Table recording applied migrations (may be schema-qualified, e.g. "vault.schema_migrations").
  std::string table = "schema_migrations";
  // Advisory lock serializing concurrent runs; advisory locks are per database.
  int64_t lock_key = 0x636f66666572;  // "coffer"
  // statement_timeout of the run (waiting for another replica's run, then each migration), in
  // place of the pool's (ConnectionPoolConfig::session); 0 = none. Restored afterwards.
  std::chrono::milliseconds statement_timeout{0};
};

struct MigrationResult {
  std::vector<int> applied;          // versions applied by this run, in order
  int already_applied = 0;           // known versions found applied before this run
  std::vector<int> unknown_applied;  // applied versions missing from the given list
};

// Applies the pending migrations (see the file comment). Borrows one connection from `pool` for
// the whole run. Thread-safe; concurrent runs (threads or processes) serialize on the lock.
absl::StatusOr<MigrationResult> ApplyMigrations(ConnectionPool& pool,
                                                std::vector<Migration> migrations,
                                                const MigrationOptions& options = {});

}  // namespace coffer::postgres
