// HealthService: the standard grpc.health.v1.Health service (Check and Watch) of GrpcServer.
//
// Why not gRPC's built-in one (grpc::EnableDefaultHealthCheckService): in gRPC 1.51 it runs on
// the callback API, and a process with any callback-API service gets gRPC's fallback callback
// queue, whose two "nexting" threads sleep 100 ms after every idle second while they hold the
// process's polling: every sync call of the server then stalled ~100 ms once a second (p99 of
// every RPC; docs/benchmarks.md, "Replication"). This one runs on the sync API.
//
// Check answers the status of "" (the whole server) or of a service name made known by Set;
// other names are NOT_FOUND. Watch sends the current status (SERVICE_UNKNOWN for an unknown
// name) and then every change, until the client cancels or the server cancels it at shutdown.
// Each watcher holds a sync thread, so there are at most kMaxWatchers at once and
// kMaxWatchersPerPeer from one client address (RESOURCE_EXHAUSTED beyond): one client cannot
// take every place, nor many of the server's threads. (Nothing of ours watches: probes and
// `coffer health` use Check. A Watch on the async API would hold no thread.)
//
// Threading: every function from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"

namespace coffer::grpcx {

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  static constexpr int kMaxWatchers = 64;
  static constexpr int kMaxWatchersPerPeer = 4;

  explicit HealthService(std::chrono::milliseconds cancel_check = std::chrono::milliseconds(200))
      : cancel_check_(cancel_check) {}

  // The status of `service` ("" = the whole server); makes the name known.
  void Set(const std::string& service, bool serving);
  // The status of "" and of every known name.
  void SetAll(bool serving);

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  grpc::health::v1::HealthCheckResponse::ServingStatus StatusLocked(const std::string& service);

  // How often a waiting Watch looks whether its call was cancelled (the sync API has no
  // cancellation callback).
  const std::chrono::milliseconds cancel_check_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, bool> serving_;  // known names
  uint64_t version_ = 0;                 // moves with every Set / SetAll
  int watchers_ = 0;
  std::map<std::string, int> watchers_by_peer_;  // client address (no port) -> watchers
};

}  // namespace coffer::grpcx
