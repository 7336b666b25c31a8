// VaultApp: the composition root of coffer-vault — the only place concrete classes are created
// and wired (STYLE.md). main.cc parses the config, builds a VaultApp, starts it and waits for a
// signal; integration tests build one in-process with injected token keys and clock.
//
// Start(): per --migrate, applies migrations (auto: advisory-locked, so replicas may start
// together; over --migration-db-dsn when set) or checks that none is pending (off), starts the
// change notifier and, with --kafka-bootstrap, the outbox relay and the change consumer (each
// leader-elected per shard, sync/), the gRPC server (RecordService, SpaceService, AdminService,
// SyncService, FileService; health and reflection from pkg/grpcx)
// and the admin HTTP server (/metrics, /healthz, /readyz = database and, when configured, Kafka
// reachable), and with --rest-addr the REST gateway (pkg/restgw, calling the gRPC server
// in-process), then logs one JSON line with "grpc_port" and "admin_port".
// Shutdown(): stop the REST gateway, health NOT_SERVING, drain in-flight calls (shutdown grace),
// stop admin, relay, consumer and notifier (releasing leadership).
//
// Lifecycle: Create -> Start -> Shutdown (also by the destructor). Threading: Start and Shutdown
// from one thread; everything it wires is thread-safe.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "pkg/auth/clock.h"
#include "pkg/auth/jwks_source.h"
#include "pkg/postgres/migrations.h"
#include "services/vault/app/vault_config.h"

namespace coffer::vault::app {

// --migrate-only: applies the vault's migrations over a connection of its own to
// --migration-db-dsn (else --db-dsn) and returns what was applied. Needs no other setting (no
// KEK, no identity, no Kafka).
absl::StatusOr<postgres::MigrationResult> MigrateVaultDatabase(const VaultConfig& config);

class VaultApp {
 public:
  // Test seams. Null members mean "the production choice from the config".
  struct Overrides {
    auth::JwksSource* jwks = nullptr;  // instead of identity GetJwks / the JWKS URL
    const auth::Clock* clock = nullptr;
  };

  // Validates the config and builds every component (no I/O yet).
  static absl::StatusOr<std::unique_ptr<VaultApp>> Create(const VaultConfig& config,
                                                          Overrides overrides);
  // The production wiring (no overrides).
  static absl::StatusOr<std::unique_ptr<VaultApp>> Create(const VaultConfig& config) {
    return Create(config, Overrides{nullptr, nullptr});
  }
  ~VaultApp();

  // Start-up as in the file comment, once. After an error do not call it again: destroy the app.
  absl::Status Start();
  // Stops what Start() started, in the order above. Idempotent; a no-op before a successful Start.
  void Shutdown();

  // The bound ports, known after Start().
  int grpc_port() const;
  int admin_port() const;
  int rest_port() const;  // 0 when --rest-addr is empty

 private:
  struct Impl;
  explicit VaultApp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace coffer::vault::app
