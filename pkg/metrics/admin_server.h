// The admin HTTP listener every Coffer service runs beside its gRPC port.
//
//   GET /metrics  Prometheus text format of the registry
//   GET /healthz  200 "ok" while the process can answer at all (liveness)
//   GET /readyz   200 {"status":"ready"} when every readiness check passes, otherwise 503
//                 {"status":"not ready","failed":{"<check>":"<code>"}} (readiness; the
//                 failed check's status code only, its message goes to the log)
//   GET <path>    a status endpoint a service adds (AddStatusCheck, e.g. the vault's
//                 /replicationz): 200 {"status":"ok"} or 503 {"status":"failing","failed":{...}},
//                 optionally mirrored in a 0/1 gauge; it never affects /readyz
//
// Why: orchestrators and Prometheus speak HTTP, not gRPC; keeping them on a separate port lets
// operators firewall it apart from the API. Readiness checks are what serving the API needs
// (database ping); a failing check takes the replica out of rotation without killing it.
// Conditions every replica shares that do not stop it serving (the vault's Kafka link) are
// status checks instead: taking every replica out of its Service would turn them into an outage,
// so they are alerted on (gauge), not made un-readiness.
//
// The listener is pkg/http's (libmicrohttpd): bounded connections, no request bodies, /healthz
// answered on the event thread so a slow readiness check or a crowd of slow clients never delays
// liveness. Readiness results are reused for 1 s, so hammering /readyz costs one check run per
// second (readiness_cache); status endpoints alike.
//
// Lifecycle: construct, AddReadinessCheck (any time), Start() once, Stop() (also run by the
// destructor). Threading: /readyz and /metrics run on the server's worker threads; checks must be
// thread-safe and bounded in time (use a short timeout inside).
#pragma once

#include <prometheus/gauge.h>
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

// Where the admin port listens, and how long a readiness result is reused.
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
  // `registry` is what /metrics serves; the server keeps a share of it. Does not bind.
  AdminServer(AdminServerOptions options, std::shared_ptr<prometheus::Registry> registry);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Registers (or replaces) a named check run on every /readyz request. The name appears in the
  // 503 body, so it must not contain secrets; so must the check's error message.
  void AddReadinessCheck(std::string name, std::function<absl::Status()> check);

  // Registers (or replaces) a named check of the status endpoint `path` ("/replicationz"; not
  // /healthz, /readyz or /metrics, which keep their meaning). Same rules as readiness checks,
  // but a failure answers 503 on `path` only: /readyz does not look at these checks.
  void AddStatusCheck(const std::string& path, std::string name,
                      std::function<absl::Status()> check);

  // Mirrors the status endpoint `path` in `gauge`: 1 while every check passes, else 0. Set on
  // each /metrics scrape (before the registry is collected) and each request of `path`. The
  // gauge (owned by a registry) must outlive this server.
  void SetStatusGauge(const std::string& path, prometheus::Gauge* gauge);

  // Binds and starts serving in a background thread. Returns the bound port, or UNAVAILABLE if
  // the address cannot be bound, FAILED_PRECONDITION if already started.
  absl::StatusOr<int> Start();

  // Stops accepting and waits for the serving thread. Idempotent.
  void Stop();

  // Runs every readiness check now: OK, or UNAVAILABLE listing the failed checks.
  absl::Status CheckReadiness() const;

  // Runs the checks of status endpoint `path` now: OK, UNAVAILABLE listing the failed checks,
  // or NOT_FOUND when no check was added for `path`.
  absl::Status CheckStatus(const std::string& path) const;

 private:
  // The checks behind one endpoint (/readyz or a status path) and their cached last run.
  struct CheckGroup {
    std::string ok_text;                                          // "status" of a passing run
    std::string fail_text;                                        // "status" of a failing run
    std::string failure_log;                                      // log message of a failed check
    std::map<std::string, std::function<absl::Status()>> checks;  // guarded by mu_
    prometheus::Gauge* gauge = nullptr;                           // guarded by mu_
    std::mutex run_mu;                                            // one check run at a time
    std::optional<std::chrono::steady_clock::time_point> at;      // guarded by run_mu
    std::pair<bool, std::string> result;                          // guarded by run_mu
  };

  http::HttpResponse Handle(const http::HttpRequest& request) const;
  // The group of `path` (readiness for /readyz), or null; groups are never removed.
  CheckGroup* FindGroup(const std::string& path) const;
  CheckGroup& GroupFor(const std::string& path);
  void AddCheck(CheckGroup& group, std::string name, std::function<absl::Status()> check);
  // JSON body of the group's endpoint and whether every check passed (cached for
  // options_.readiness_cache); sets the group's gauge.
  std::pair<bool, std::string> Evaluate(CheckGroup& group) const;
  std::pair<bool, std::string> RunChecks(const CheckGroup& group) const;

  AdminServerOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<http::HttpServer> server_;
  mutable std::mutex mu_;
  std::unique_ptr<CheckGroup> readiness_;
  std::map<std::string, std::unique_ptr<CheckGroup>> status_;  // guarded by mu_
};

}  // namespace coffer::metrics
