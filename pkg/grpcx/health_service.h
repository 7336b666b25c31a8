// HealthService: the standard grpc.health.v1.Health service (Check and Watch) of GrpcServer.
//
// Why not gRPC's built-in one (grpc::EnableDefaultHealthCheckService): in gRPC 1.51 it runs on
// the callback API, and a process with any callback-API service gets gRPC's fallback callback
// queue, whose two "nexting" threads sleep 100 ms after every idle second while they hold the
// process's polling: every sync call of the server then stalled ~100 ms once a second (p99 of
// every RPC; docs/benchmarks.md, "The lag regression"). Here Check runs on the sync API and
// Watch on the async API (GrpcServer::RegisterAsyncService with Hooks()): a watcher holds no
// thread, only its call.
//
// Check answers the status of "" (the whole server) or of a service name made known by Set;
// other names are NOT_FOUND (the name is never echoed). Watch sends the current status
// (SERVICE_UNKNOWN for an unknown name) and then each change (the latest status when several
// come during one write), until the client cancels or the server cancels it at shutdown. At most
// kMaxWatchers at once and kMaxWatchersPerPeer from one client address (RESOURCE_EXHAUSTED
// beyond), so one client cannot take every place.
//
// Threading: every function from any thread.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"
#include "pkg/grpcx/server.h"

namespace coffer::grpcx {

class HealthService final
    : public grpc::health::v1::Health::WithAsyncMethod_Watch<grpc::health::v1::Health::Service> {
 public:
  static constexpr int kMaxWatchers = 1024;
  static constexpr int kMaxWatchersPerPeer = 16;

  HealthService() = default;
  ~HealthService() override;

  // The status of `service` ("" = the whole server); makes the name known.
  void Set(const std::string& service, bool serving);
  // The status of "" and of every known name.
  void SetAll(bool serving);

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;

  // How GrpcServer runs Watch.
  AsyncServiceHooks Hooks();
  // Watchers being served (tests).
  int watchers();

 private:
  class Watcher;
  friend class Watcher;

  grpc::health::v1::HealthCheckResponse::ServingStatus StatusLocked(const std::string& service);
  // Sends every watcher its service's status if it changed (mu_ held).
  void NotifyLocked();
  void RequestNext();

  std::mutex mu_;
  std::map<std::string, bool> serving_;  // known names
  grpc::ServerCompletionQueue* cq_ = nullptr;
  std::set<std::shared_ptr<Watcher>> watchers_;  // admitted, not yet ended
  std::map<std::string, int> watchers_by_peer_;  // client address (no port) -> watchers
  int alive_ = 0;                                // Watcher objects, the pending request included
  std::condition_variable none_alive_;
};

}  // namespace coffer::grpcx
