// The schema step of a service binary, per its --migrate mode (MigrateMode in migrations.h), in
// one place for every service (coffer-vault, coffer-identity):
//   * MigrateDatabase is --migrate-only's step (kOnly): apply the pending migrations and return
//     the run's result (the binary prints DescribeMigrationResult and exits);
//   * PrepareSchema is the step of a start-up (kAuto, kOff) over the service's runtime pool.
// Migrations run as the role of --migration-db-dsn when set (a role allowed to run DDL, the
// chart's migration Job), else as the runtime role of --db-dsn.
//
// Thread-safe as ApplyMigrations and CheckMigrations are; meant for start-up, on one thread.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/log/log.h"
#include "pkg/postgres/connection_pool.h"
#include "pkg/postgres/migrations.h"

namespace coffer::postgres {

struct SchemaSetup {
  // The binary's name, e.g. "coffer-vault": the remedy of a refused --migrate=off start names
  // `<binary> --migrate-only`.
  std::string binary;
  // The binary's migrations (embedded with coffer_embed_migrations).
  std::vector<Migration> migrations;
  // The runtime role's connection string (--db-dsn). May hold a password: never logged.
  std::string db_dsn;
  // --migration-db-dsn: the role that applies migrations; empty: db_dsn's. Never logged.
  std::string migration_db_dsn;
  // Where PrepareSchema logs its one line, and what the line's message starts with (e.g.
  // "vault " for "vault migrations applied"; empty for "migrations applied").
  log::Logger logger;
  std::string log_prefix;
  // The caller's --migrate-only function (e.g. "MigrateVaultDatabase"), named when
  // PrepareSchema is given kOnly.
  std::string migrate_only_entry;
};

// --migrate-only: applies the pending migrations over a one-connection pool to
// migration_db_dsn (db_dsn when empty), closed afterwards. Errors are annotated "applying
// migrations".
absl::StatusOr<MigrationResult> MigrateDatabase(const SchemaSetup& setup);

// The schema step of a start-up, before serving; `pool` is the runtime pool (to db_dsn):
//   kAuto  applies the pending migrations over migration_db_dsn when set (as MigrateDatabase),
//          else over `pool`; logs "<log_prefix>migrations applied" with the counts;
//   kOff   applies none: reads the schema's state over `pool` (the runtime role needs SELECT on
//          schema_migrations) and refuses with FAILED_PRECONDITION while a migration is pending
//          (RequireNoPendingMigrations, with the remedy naming `<binary> --migrate-only`); logs
//          "<log_prefix>schema is current (migrations off)";
//   kOnly  INVALID_ARGUMENT "--migrate=only: use <migrate_only_entry>, not Start": that mode
//          is MigrateDatabase's, which exits rather than starts.
absl::Status PrepareSchema(const SchemaSetup& setup, MigrateMode mode, ConnectionPool& pool);

}  // namespace coffer::postgres
