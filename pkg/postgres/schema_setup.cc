#include "pkg/postgres/schema_setup.h"

#include <memory>

#include "pkg/status/status.h"

namespace coffer::postgres {
namespace {

// Applies `migrations` over a one-connection pool to `dsn`, closed afterwards.
absl::StatusOr<MigrationResult> ApplyOver(const std::string& dsn,
                                          const std::vector<Migration>& migrations) {
  ConnectionPoolConfig pool_config;
  pool_config.dsn = dsn;
  pool_config.size = 1;
  COFFER_ASSIGN_OR_RETURN(std::unique_ptr<ConnectionPool> pool,
                          ConnectionPool::Create(pool_config));
  return ApplyMigrations(*pool, migrations);
}

// What a start with --migrate=off says when the schema is behind.
std::string MigrateOffRemedy(const std::string& binary) {
  return "--migrate=off applies none: run `" + binary +
         " --migrate-only` first (the chart's migration Job) as a role allowed to run DDL "
         "(--migration-db-dsn), or start with --migrate=auto";
}

}  // namespace

absl::StatusOr<MigrationResult> MigrateDatabase(const SchemaSetup& setup) {
  const std::string& dsn = setup.migration_db_dsn.empty() ? setup.db_dsn : setup.migration_db_dsn;
  absl::StatusOr<MigrationResult> result = ApplyOver(dsn, setup.migrations);
  if (!result.ok()) return status::Annotate(result.status(), "applying migrations");
  return result;
}

absl::Status PrepareSchema(const SchemaSetup& setup, MigrateMode mode, ConnectionPool& pool) {
  if (mode == MigrateMode::kOnly) {
    return absl::InvalidArgumentError("--migrate=only: use " + setup.migrate_only_entry +
                                      ", not Start");
  }
  if (mode == MigrateMode::kOff) {
    absl::StatusOr<MigrationStatus> schema = CheckMigrations(pool, setup.migrations);
    if (!schema.ok()) {
      return status::Annotate(schema.status(),
                              "--migrate=off: checking the schema (the runtime role needs SELECT "
                              "on schema_migrations)");
    }
    COFFER_RETURN_IF_ERROR(
        RequireNoPendingMigrations(*schema, setup.migrations, MigrateOffRemedy(setup.binary)));
    setup.logger.Info(setup.log_prefix + "schema is current (migrations off)",
                      {{"version", static_cast<int64_t>(schema->version)}});
    return absl::OkStatus();
  }
  absl::StatusOr<MigrationResult> migrated =
      setup.migration_db_dsn.empty() ? ApplyMigrations(pool, setup.migrations)
                                     : ApplyOver(setup.migration_db_dsn, setup.migrations);
  if (!migrated.ok()) return status::Annotate(migrated.status(), "applying migrations");
  setup.logger.Info(setup.log_prefix + "migrations applied",
                    {{"applied", static_cast<int64_t>(migrated->applied.size())},
                     {"already_applied", static_cast<int64_t>(migrated->already_applied)},
                     {"version", static_cast<int64_t>(migrated->version)}});
  return absl::OkStatus();
}

}  // namespace coffer::postgres
