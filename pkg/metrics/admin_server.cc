#include "pkg/metrics/admin_server.h"

#include <prometheus/text_serializer.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "pkg/log/log.h"

namespace coffer::metrics {

AdminServer::AdminServer(AdminServerOptions options, std::shared_ptr<prometheus::Registry> registry)
    : options_(std::move(options)), registry_(std::move(registry)) {}

http::HttpResponse AdminServer::Handle(const http::HttpRequest& request) const {
  http::HttpResponse res;
  if (request.method != "GET" && request.method != "HEAD") {
    res.status = 405;
    res.content_type = "text/plain";
    res.headers.emplace_back("Allow", "GET, HEAD");
    res.body = "method not allowed";
    return res;
  }
  if (request.path == "/healthz") {
    res.content_type = "text/plain";
    res.body = "ok";
  } else if (request.path == "/readyz") {
    auto [ready, body] = Readiness();
    res.status = ready ? 200 : 503;
    res.body = std::move(body);
  } else if (request.path == "/metrics") {
    prometheus::TextSerializer serializer;
    res.content_type = "text/plain; version=0.0.4";
    res.body = serializer.Serialize(registry_->Collect());
  } else {
    res.status = 404;
    res.content_type = "text/plain";
    res.body = "not found";
  }
  return res;
}

AdminServer::~AdminServer() { Stop(); }

void AdminServer::AddReadinessCheck(std::string name, std::function<absl::Status()> check) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    checks_[std::move(name)] = std::move(check);
  }
  // Not under mu_: Readiness() holds readiness_mu_ while RunChecks() takes mu_.
  std::lock_guard<std::mutex> run_lock(readiness_mu_);
  readiness_at_.reset();  // the next /readyz runs the new set
}

std::pair<bool, std::string> AdminServer::Readiness() const {
  // Probes (and anyone who can reach the port) may ask often; the checks do I/O and log their
  // failures, so one run answers every request for options_.readiness_cache.
  std::lock_guard<std::mutex> run_lock(readiness_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (readiness_at_.has_value() && now - *readiness_at_ < options_.readiness_cache) {
    return readiness_;
  }
  readiness_ = RunChecks();
  readiness_at_ = now;
  return readiness_;
}

std::pair<bool, std::string> AdminServer::RunChecks() const {
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
  auto [ready, body] = RunChecks();
  if (ready) return absl::OkStatus();
  return absl::UnavailableError(body);
}

absl::StatusOr<int> AdminServer::Start() {
  if (server_ != nullptr) return absl::FailedPreconditionError("admin server already started");
  // /healthz answers on the event thread, so a slow /readyz or /metrics never delays liveness.
  server_ = std::make_unique<http::HttpServer>(
      http::HttpServerOptions{.host = options_.host,
                              .port = options_.port,
                              .event_threads = 1,
                              .worker_threads = 2,
                              .max_queued_requests = 64,
                              .max_body_bytes = 0,
                              .max_header_bytes = 16 * 1024,
                              .max_connections = 1024,
                              .max_connections_per_address = 256,
                              .idle_timeout = std::chrono::seconds(15),
                              .inline_paths = {"/healthz"},
                              .tls_cert_file = options_.tls_cert_file,
                              .tls_key_file = options_.tls_key_file,
                              .name = "admin"},
      [this](const http::HttpRequest& request) { return Handle(request); });
  absl::StatusOr<int> port = server_->Start();
  if (!port.ok()) server_.reset();
  return port;
}

void AdminServer::Stop() {
  if (server_ == nullptr) return;
  server_->Stop();
  server_.reset();
}

}  // namespace coffer::metrics
