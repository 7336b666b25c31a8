#include "pkg/metrics/admin_server.h"

#include <httplib.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <vector>

#include "pkg/log/log.h"

namespace coffer::metrics {

AdminServer::AdminServer(AdminServerOptions options, std::shared_ptr<prometheus::Registry> registry)
    : options_(std::move(options)),
      registry_(std::move(registry)),
      server_(std::make_unique<httplib::Server>()) {
  // httplib's default also sets SO_REUSEPORT, which lets a second process bind the same port
  // silently; a clash must fail Start() instead.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    prometheus::TextSerializer serializer;
    res.set_content(serializer.Serialize(registry_->Collect()), "text/plain; version=0.0.4");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    auto [ready, body] = Readiness();
    res.status = ready ? 200 : 503;
    res.set_content(body, "application/json");
  });
}

AdminServer::~AdminServer() { Stop(); }

void AdminServer::AddReadinessCheck(std::string name, std::function<absl::Status()> check) {
  std::lock_guard<std::mutex> lock(mu_);
  checks_[std::move(name)] = std::move(check);
}

std::pair<bool, std::string> AdminServer::Readiness() const {
  std::map<std::string, std::function<absl::Status()>> checks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    checks = checks_;
  }
  // Checks run outside the lock: they do I/O and must not block registration or each other's
  // callers.
  nlohmann::ordered_json failed = nlohmann::ordered_json::object();
  for (const auto& [name, check] : checks) {
    absl::Status status = check();
    if (status.ok()) continue;
    // The probe answers which check failed and its code only: the admin port is reachable by
    // whatever can reach the pod, and error texts (database, broker) describe the inside. The
    // whole status goes to the log.
    failed[name] = std::string(absl::StatusCodeToString(status.code()));
    log::Warn("readiness check failed", {{"check", name}, {"status", status}});
  }
  nlohmann::ordered_json body;
  if (failed.empty()) {
    body["status"] = "ready";
    return {true, body.dump()};
  }
  body["status"] = "not ready";
  body["failed"] = failed;
  return {false, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

absl::Status AdminServer::CheckReadiness() const {
  auto [ready, body] = Readiness();
  if (ready) return absl::OkStatus();
  return absl::UnavailableError(body);
}

absl::StatusOr<int> AdminServer::Start() {
  if (started_) return absl::FailedPreconditionError("admin server already started");
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
    if (port <= 0) {
      return absl::UnavailableError("admin server: cannot bind " + options_.host + ":0");
    }
  } else if (!server_->bind_to_port(options_.host, port)) {
    return absl::UnavailableError("admin server: cannot bind " + options_.host + ":" +
                                  std::to_string(port));
  }
  started_ = true;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // httplib's stop() is a no-op until the accept loop runs; wait for it so Stop() always works.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return port;
}

void AdminServer::Stop() {
  if (!started_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  started_ = false;
}

}  // namespace coffer::metrics
