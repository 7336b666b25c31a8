// SyncService handlers (proto/coffer/vault/v1/sync.proto, docs/architecture.md §5) over
// service::ChangeFeed.
//
// Watch runs on gRPC's async API (WatchCall, watch_call.h; register the service with
// GrpcServer::RegisterAsyncService(service, service->WatchHooks())): an idle stream holds no
// thread; the streams' blocking steps run on this service's WorkPool of `watch_threads` threads,
// gRPC's events on two completion-queue threads. Each Watch
// holds a slot of `watch_streams` (StreamLimiter: per user and per replica) for its whole life;
// past either cap it is refused at once with RESOURCE_EXHAUSTED and a retry hint.
//
// Lifecycle: borrows its collaborators. Threading: gRPC calls handlers concurrently.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>

#include "coffer/vault/v1/sync.grpc.pb.h"
#include "services/vault/service/change_feed.h"
#include "services/vault/sync/change_notifier.h"
#include "services/vault/transport/authenticator.h"
#include "services/vault/transport/stream_limiter.h"
#include "services/vault/transport/watch_call.h"

namespace coffer::vault::transport {

// Sync on the sync API, Watch on the async API (the generated mixin).
class SyncGrpcService final
    : public v1::SyncService::WithAsyncMethod_Watch<v1::SyncService::Service> {
 public:
  // `heartbeat_interval`: how long a caught-up Watch stream stays silent before it sends a
  // heartbeat. `watch_threads`: the size of the WorkPool this service owns for the streams'
  // blocking steps.
  SyncGrpcService(Authenticator& auth, service::ChangeFeed& feed, sync::ChangeNotifier& notifier,
                  std::chrono::milliseconds heartbeat_interval, StreamLimiter& watch_streams,
                  int watch_threads = 4)
      : auth_(auth),
        feed_(feed),
        pool_(std::make_unique<grpcx::WorkPool>(
            grpcx::WorkPool::Options{.threads = watch_threads, .name = "watch"})),
        // Membership results live at most half a heartbeat: a heartbeat re-checks it afresh.
        members_(
            std::min<std::chrono::milliseconds>(std::chrono::seconds(5), heartbeat_interval / 2)),
        watch_{auth, feed, notifier, watch_streams, *pool_, heartbeat_interval, pages_, members_},
        calls_(watch_) {}
  // Stops the pool: the gRPC server's Shutdown (before this) has ended every stream.
  ~SyncGrpcService() override { pool_->Stop(); }

  // How GrpcServer runs Watch (RegisterAsyncService).
  grpcx::AsyncServiceHooks WatchHooks();
  // Watch calls alive (tests).
  size_t watch_calls_alive() { return calls_.alive(); }

  // One page of the space's changes after the request's cursor (service::ChangeFeed).
  grpc::Status Sync(grpc::ServerContext* ctx, const v1::SyncRequest* req,
                    v1::SyncResponse* resp) override;

 private:
  Authenticator& auth_;
  service::ChangeFeed& feed_;
  // Stopped after the streams: the gRPC server (shut down before this service is destroyed)
  // ends every stream first.
  std::unique_ptr<grpcx::WorkPool> pool_;
  GenerationMemo<service::FeedPage> pages_;
  GenerationMemo<std::string> members_;
  const WatchDeps watch_;
  WatchCalls calls_;
};

}  // namespace coffer::vault::transport
