// coffer-vault: records, spaces and history of one shard. Thin: parse config -> build app -> run.
#include <iostream>

#include "pkg/config/config.h"
#include "pkg/grpcx/signals.h"
#include "pkg/log/log.h"
#include "services/vault/app/vault_app.h"

int main(int argc, char** argv) {
  coffer::grpcx::BlockShutdownSignals();  // before any thread starts
  coffer::vault::app::VaultConfig config;
  coffer::config::ConfigParser parser("coffer-vault", "Coffer vault service (one shard)");
  coffer::vault::app::RegisterVaultConfig(parser, &config);
  parser.ParseOrExit(argc, argv);

  coffer::log::Init(
      {"vault", coffer::log::ParseLevel(config.log_level).value_or(coffer::log::Level::kInfo)});
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
