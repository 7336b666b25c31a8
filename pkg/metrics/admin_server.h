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
// Lifecycle: construct, AddReadinessCheck (any time), Start() once, Stop() (also run by the
// destructor). Threading: requests are served on cpp-httplib's worker threads; readiness checks
// run on them, so checks must be thread-safe and bounded in time (use a short timeout inside).
#pragma once

#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace coffer::metrics {

struct AdminServerOptions {
  std::string host = "0.0.0.0";
  int port = 9090;  // 0 = pick a free port (tests); Start() returns it
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
  // JSON body for /readyz and whether every check passed.
  std::pair<bool, std::string> Readiness() const;

  AdminServerOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<std::string, std::function<absl::Status()>> checks_;  // guarded by mu_
  bool started_ = false;
};

}  // namespace coffer::metrics
