#include "pkg/metrics/admin_server.h"

#include <prometheus/text_serializer.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "pkg/log/log.h"

namespace coffer::metrics {

AdminServer::AdminServer(AdminServerOptions options, std::shared_ptr<prometheus::Registry> registry)
    : options_(std::move(options)),
      registry_(std::move(registry)),
      readiness_(std::make_unique<CheckGroup>()) {
  readiness_->ok_text = "ready";
  readiness_->fail_text = "not ready";
  readiness_->failure_log = "readiness check failed";
}

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
    auto [ready, body] = Evaluate(*readiness_);
    res.status = ready ? 200 : 503;
    res.body = std::move(body);
  } else if (request.path == "/metrics") {
    // Status gauges first, so the scrape carries their state as of now.
    std::vector<CheckGroup*> gauged;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [path, group] : status_) {
        if (group->gauge != nullptr) gauged.push_back(group.get());
      }
    }
    for (CheckGroup* group : gauged) Evaluate(*group);
    prometheus::TextSerializer serializer;
    res.content_type = "text/plain; version=0.0.4";
    res.body = serializer.Serialize(registry_->Collect());
  } else if (CheckGroup* group = FindGroup(request.path); group != nullptr) {
    auto [ok, body] = Evaluate(*group);
    res.status = ok ? 200 : 503;
    res.body = std::move(body);
  } else {
    res.status = 404;
    res.content_type = "text/plain";
    res.body = "not found";
  }
  return res;
}

AdminServer::~AdminServer() { Stop(); }

void AdminServer::AddReadinessCheck(std::string name, std::function<absl::Status()> check) {
  AddCheck(*readiness_, std::move(name), std::move(check));
}

void AdminServer::AddStatusCheck(const std::string& path, std::string name,
                                 std::function<absl::Status()> check) {
  AddCheck(GroupFor(path), std::move(name), std::move(check));
}

void AdminServer::SetStatusGauge(const std::string& path, prometheus::Gauge* gauge) {
  CheckGroup& group = GroupFor(path);
  {
    std::lock_guard<std::mutex> lock(mu_);
    group.gauge = gauge;
  }
  std::lock_guard<std::mutex> run_lock(group.run_mu);
  group.at.reset();  // the next scrape sets the gauge
}

AdminServer::CheckGroup* AdminServer::FindGroup(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = status_.find(path);
  return it == status_.end() ? nullptr : it->second.get();
}

AdminServer::CheckGroup& AdminServer::GroupFor(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<CheckGroup>& group = status_[path];
  if (group == nullptr) {
    group = std::make_unique<CheckGroup>();
    group->ok_text = "ok";
    group->fail_text = "failing";
    group->failure_log = "status check failed (" + path + ")";
  }
  return *group;
}

void AdminServer::AddCheck(CheckGroup& group, std::string name,
                           std::function<absl::Status()> check) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    group.checks[std::move(name)] = std::move(check);
  }
  // Not under mu_: Evaluate() holds run_mu while RunChecks() takes mu_.
  std::lock_guard<std::mutex> run_lock(group.run_mu);
  group.at.reset();  // the next request runs the new set
}

std::pair<bool, std::string> AdminServer::Evaluate(CheckGroup& group) const {
  // Probes (and anyone who can reach the port) may ask often; the checks do I/O and log their
  // failures, so one run answers every request for options_.readiness_cache.
  std::lock_guard<std::mutex> run_lock(group.run_mu);
  const auto now = std::chrono::steady_clock::now();
  if (group.at.has_value() && now - *group.at < options_.readiness_cache) {
    return group.result;
  }
  group.result = RunChecks(group);
  group.at = now;
  prometheus::Gauge* gauge = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gauge = group.gauge;
  }
  if (gauge != nullptr) gauge->Set(group.result.first ? 1 : 0);
  return group.result;
}

std::pair<bool, std::string> AdminServer::RunChecks(const CheckGroup& group) const {
  std::map<std::string, std::function<absl::Status()>> checks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    checks = group.checks;
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
    log::Warn(group.failure_log, {{"check", name}, {"status", status}});
  }
  nlohmann::ordered_json body;
  if (failed.empty()) {
    body["status"] = group.ok_text;
    return {true, body.dump()};
  }
  body["status"] = group.fail_text;
  body["failed"] = failed;
  return {false, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

absl::Status AdminServer::CheckReadiness() const {
  auto [ready, body] = RunChecks(*readiness_);
  if (ready) return absl::OkStatus();
  return absl::UnavailableError(body);
}

absl::Status AdminServer::CheckStatus(const std::string& path) const {
  const CheckGroup* group = FindGroup(path);
  if (group == nullptr) return absl::NotFoundError("no status checks for " + path);
  auto [ok, body] = RunChecks(*group);
  if (ok) return absl::OkStatus();
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
