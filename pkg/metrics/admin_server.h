// The admin HTTP listener every Coffer service runs beside its gRPC port.
//
//   GET /metrics  Prometheus text format of the registry
//   GET /healthz  200 "ok" while the process can answer at all (liveness)
//   GET /readyz   200 {"status":"ready"} when every readiness check passes, otherwise 503
//                 {"status":"not ready","failed":{"<check>":"<code>"}} (readiness; the
//                 failed check's status code only, its message goes to the log)
//
// Why: orchestrators and Prometheus speak HTTP, not gRPC; keeping them on a separate port lets
// operators firewall it apart from the API. Readiness checks are the service's own (database
// ping, Kafka reachable); a failing check takes the replica out of rotation without killing it.
//
// The listener is pkg/http's (libmicrohttpd): bounded connections, no request bodies, /healthz
// answered on the event thread so a slow readiness check or a crowd of slow clients never delays
// liveness. Readiness results are reused for 1 s, so hammering /readyz costs one check run per
// second (readiness_cache).
//
// Lifecycle: construct, AddReadinessCheck (any time), Start() once, Stop() (also run by the
// destructor). Threading: /readyz and /metrics run on the server's worker threads; checks must be
// thread-safe and bounded in time (use a short timeout inside).
#pragma once

#include <prometheus/registry.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/http/server.h"

namespace coffer::metrics {

struct AdminServerOptions {
  std::string host = "0.0.0.0";
  int port = 9090;  // 0 = pick a free port (tests); Start() returns it
  // PEM files: HTTPS when both are set (probes then need scheme HTTPS).
  std::string tls_cert_file;
  std::string tls_key_file;
  // One run of the readiness checks answers /readyz for this long (0 = run on every request).
  std::chrono::milliseconds readiness_cache{1000};
};

class AdminServer {
 public:
  AdminServer(AdminServerOptions options, std::shared_ptr<prometheus::Registry> registry);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Registers (or replaces) a named check run on every /readyz request. The name appears in the
  // 503 body, so it must not contain secrets; so must the check's error message.
  void AddReadinessCheck(std::string name, std::function<absl::Status()> check);

  // Binds and starts serving in a background thread. Returns the bound port, or UNAVAILABLE if
  // the address cannot be bound, FAILED_PRECONDITION if already started.
  absl::StatusOr<int> Start();

  // Stops accepting and waits for the serving thread. Idempotent.
  void Stop();

  // Runs every readiness check now: OK, or UNAVAILABLE listing the failed checks.
  absl::Status CheckReadiness() const;

 private:
  http::HttpResponse Handle(const http::HttpRequest& request) const;
  // JSON body for /readyz and whether every check passed (cached for 1 s).
  std::pair<bool, std::string> Readiness() const;
  std::pair<bool, std::string> RunChecks() const;

  AdminServerOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<http::HttpServer> server_;
  mutable std::mutex mu_;
  std::map<std::string, std::function<absl::Status()>> checks_;  // guarded by mu_
  mutable std::mutex readiness_mu_;                              // one check run at a time
  mutable std::optional<std::chrono::steady_clock::time_point> readiness_at_;
  mutable std::pair<bool, std::string> readiness_;  // guarded by readiness_mu_
};

}  // namespace coffer::metrics
