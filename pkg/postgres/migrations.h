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
// CheckMigrations reads the same state without changing anything (no lock, no CREATE), for a
// service started with migrations off (--migrate=off): its runtime role needs only SELECT on the
// table, and the service refuses to start while a migration it knows is not applied.
// A migration file may hold several statements; it runs inside a transaction, so statements
// that refuse transactions (CREATE INDEX CONCURRENTLY, VACUUM) are not supported.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
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
  int version = 0;                   // highest applied version after the run (0 = none)
};

// Applies the pending migrations (see the file comment). Borrows one connection from `pool` for
// the whole run. Thread-safe; concurrent runs (threads or processes) serialize on the lock.
absl::StatusOr<MigrationResult> ApplyMigrations(ConnectionPool& pool,
                                                std::vector<Migration> migrations,
                                                const MigrationOptions& options = {});

// The schema's state against a list of migrations, as CheckMigrations reads it.
struct MigrationStatus {
  bool table_exists = false;         // false: nothing was ever applied
  int version = 0;                   // highest applied version, unknown ones included (0 = none)
  int applied = 0;                   // known versions applied
  std::vector<int> pending;          // known versions not applied, in order
  std::vector<int> unknown_applied;  // applied versions missing from the given list
};

// Reads the migrations table (if it exists) without locking or creating anything.
// FAILED_PRECONDITION for what ApplyMigrations would refuse too: an applied migration whose SQL
// changed, or a pending migration below an applied version. Errors reading the table (e.g. a role
// without SELECT on it) come back as StatusFromCurrentException's mapping.
absl::StatusOr<MigrationStatus> CheckMigrations(ConnectionPool& pool,
                                                std::vector<Migration> migrations,
                                                const MigrationOptions& options = {});

// OK when `status` has nothing pending, else FAILED_PRECONDITION naming the schema's version,
// the version `migrations` reach and the pending labels, followed by `remedy` (what the operator
// runs to migrate), e.g. "database schema is behind this binary: at version 8, needs 10 (2
// pending: V009__a, V010__b); <remedy>".
absl::Status RequireNoPendingMigrations(const MigrationStatus& status,
                                        const std::vector<Migration>& migrations,
                                        std::string_view remedy);

// "applied 2, now at version 10 (8 already applied)" (+ the unknown versions, if any): the
// one-line summary of a run, for --migrate-only and start-up logs.
std::string DescribeMigrationResult(const MigrationResult& result);

// What a service binary does with its migrations (its --migrate and --migrate-only options):
//   kAuto  apply the pending ones at start (ApplyMigrations), then serve (the default);
//   kOff   apply none; refuse to start while one is pending (CheckMigrations), for deployments
//          that migrate in a separate step (a Kubernetes Job) with a role allowed to run DDL;
//   kOnly  apply them, print DescribeMigrationResult and exit: that separate step.
enum class MigrateMode { kAuto, kOff, kOnly };

// `migrate` is the --migrate value ("auto", "off", "only"); `migrate_only` the --migrate-only
// flag, short for --migrate=only. INVALID_ARGUMENT for an unknown value and for --migrate-only
// together with --migrate=off.
absl::StatusOr<MigrateMode> ResolveMigrateMode(std::string_view migrate, bool migrate_only);

}  // namespace coffer::postgres
