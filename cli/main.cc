// coffer: the command-line client. Thin: parse the command line, dispatch to cli/ commands.
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>

#include "cli/health.h"
#include "pkg/version/version.h"

int main(int argc, char** argv) {
  CLI::App app{"coffer: private records kept in sync across shards"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(coffer::version::VersionLine("coffer")));

  app.add_subcommand("version", "Print version, git commit and build date")->callback([] {
    std::cout << coffer::version::VersionLine("coffer") << "\n";
  });

  std::string addr = "127.0.0.1:7100";
  std::string service;
  int timeout_ms = 2000;
  int exit_code = 0;
  auto* health = app.add_subcommand("health", "Check a server's grpc.health.v1 status; exit 0 when SERVING");
  health->add_option("--addr", addr, "gRPC address host:port")->envname("COFFER_ADDR")->capture_default_str();
  health->add_option("--service", service, "Service name (empty = whole server)");
  health->add_option("--timeout-ms", timeout_ms, "Deadline in milliseconds")->capture_default_str();
  health->callback([&] {
    auto st = coffer::cli::CheckHealth(addr, service, std::chrono::milliseconds(timeout_ms));
    if (!st.ok()) {
      std::cerr << "coffer: " << addr << " unreachable: " << st.status().message()
                << " (is the server running?)\n";
      exit_code = 3;
      return;
    }
    std::cout << *st << "\n";
    exit_code = *st == "SERVING" ? 0 : 4;
  });

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
