// coffer-vault: records, spaces and history of one shard. Thin: parse config -> build app -> run
// (or, with --migrate-only, apply the schema migrations and exit).
#include <iostream>

#include "absl/synchronization/mutex.h"
#include "pkg/config/config.h"
#include "pkg/grpcx/signals.h"
#include "pkg/log/log.h"
#include "pkg/postgres/migrations.h"
#include "services/vault/app/vault_app.h"

int main(int argc, char** argv) {
  coffer::grpcx::BlockShutdownSignals();  // before any thread starts
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock detector on: a
  // lock-order graph update on every contended lock (gRPC's and ours; seen in the profile).
  // Tests keep it on; the service binaries do not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  coffer::vault::app::VaultConfig config;
  coffer::config::ConfigParser parser("coffer-vault", "Coffer vault service (one shard)");
  coffer::vault::app::RegisterVaultConfig(parser, &config);
  parser.ParseOrExit(argc, argv);

  coffer::log::Init(
      {"vault", coffer::log::ParseLevel(config.log_level).value_or(coffer::log::Level::kInfo)});
  absl::StatusOr<coffer::postgres::MigrateMode> mode = coffer::vault::app::VaultMigrateMode(config);
  if (!mode.ok()) {
    std::cerr << "coffer-vault: " << mode.status().message() << "\n";
    return 2;
  }
  if (*mode == coffer::postgres::MigrateMode::kOnly) {
    // A one-shot step (the chart's migration Job): one line on success, one on failure.
    auto migrated = coffer::vault::app::MigrateVaultDatabase(config);
    if (!migrated.ok()) {
      std::cerr << "coffer-vault --migrate-only failed: " << migrated.status().ToString() << "\n";
      return 1;
    }
    std::cout << "coffer-vault --migrate-only: "
              << coffer::postgres::DescribeMigrationResult(*migrated) << std::endl;
    return 0;
  }
  auto app = coffer::vault::app::VaultApp::Create(config);
  if (!app.ok()) {
    coffer::log::Error("vault failed to start", {{"status", app.status()}});
    return 1;
  }
  if (absl::Status started = (*app)->Start(); !started.ok()) {
    coffer::log::Error("vault failed to start", {{"status", started}});
    return 1;
  }
  int sig = coffer::grpcx::WaitForShutdownSignal();
  coffer::log::Info("shutdown signal received", {{"signal", sig}});
  (*app)->Shutdown();
  return 0;
}
