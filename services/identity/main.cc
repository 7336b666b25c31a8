// coffer-identity: parse config -> build the app -> run until SIGTERM/SIGINT -> graceful stop
// (or, with --migrate-only, apply the schema migrations and exit).
#include <cstdlib>
#include <iostream>

#include "absl/synchronization/mutex.h"
#include "pkg/config/config.h"
#include "pkg/grpcx/signals.h"
#include "pkg/log/log.h"
#include "pkg/postgres/migrations.h"
#include "services/identity/app/identity_app.h"
#include "services/identity/app/identity_config.h"

int main(int argc, char** argv) {
  coffer::grpcx::BlockShutdownSignals();  // before any thread exists
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock detector on: a
  // lock-order graph update on every contended lock. Tests keep it on; the service does not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  coffer::identity::IdentityConfig config;
  coffer::config::ConfigParser parser(
      "coffer-identity", "Coffer identity service: accounts, login, tokens, JWKS, introspection");
  coffer::identity::DeclareIdentityOptions(parser, &config);
  parser.ParseOrExit(argc, argv);

  auto level = coffer::log::ParseLevel(config.log_level);
  coffer::log::Init({"identity", level.ok() ? *level : coffer::log::Level::kInfo});

  absl::StatusOr<coffer::postgres::MigrateMode> mode =
      coffer::identity::IdentityMigrateMode(config);
  if (!mode.ok()) {
    std::cerr << "coffer-identity: " << mode.status().message() << "\n";
    return 2;
  }
  if (*mode == coffer::postgres::MigrateMode::kOnly) {
    // A one-shot step (the chart's migration Job): one line on success, one on failure.
    auto migrated = coffer::identity::MigrateIdentityDatabase(config);
    if (!migrated.ok()) {
      std::cerr << "coffer-identity --migrate-only failed: " << migrated.status().ToString()
                << "\n";
      return EXIT_FAILURE;
    }
    std::cout << "coffer-identity --migrate-only: "
              << coffer::postgres::DescribeMigrationResult(*migrated) << std::endl;
    return EXIT_SUCCESS;
  }
  auto app = coffer::identity::IdentityApp::Start(config);
  if (!app.ok()) {
    coffer::log::Error("identity service failed to start", {{"status", app.status()}});
    return EXIT_FAILURE;
  }
  const int signal = coffer::grpcx::WaitForShutdownSignal();
  coffer::log::Info("shutting down", {{"signal", signal}});
  (*app)->Shutdown();
  coffer::log::Info("stopped");
  return EXIT_SUCCESS;
}
