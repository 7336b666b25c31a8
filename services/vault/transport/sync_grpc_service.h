// SyncService handlers (proto/coffer/vault/v1/sync.proto, docs/architecture.md §5) over
// service::ChangeFeed.
//
// Watch: catches up from the cursor page by page, sends a heartbeat (end of catch-up), then
// waits on the ChangeNotifier (LISTEN/NOTIFY, so changes committed by any replica wake it) and
// pushes each change with its own cursor; an idle stream gets a heartbeat every
// `heartbeat_interval` (and re-queries then, in case a notification was lost). The handler ends
// when the client cancels, the server shuts down, or the cursor needs a reset (WatchReset, last
// message).
//
// Each Watch holds a slot of `watch_streams` (StreamLimiter: per user and per replica) for its
// whole life; past either cap it is refused at once with RESOURCE_EXHAUSTED and a retry hint.
//
// Lifecycle: borrows its collaborators. Threading: gRPC calls handlers concurrently.
#pragma once

#include <chrono>

#include "coffer/vault/v1/sync.grpc.pb.h"
#include "services/vault/service/change_feed.h"
#include "services/vault/sync/change_notifier.h"
#include "services/vault/transport/authenticator.h"
#include "services/vault/transport/stream_limiter.h"

namespace coffer::vault::transport {

class SyncGrpcService final : public v1::SyncService::Service {
 public:
  SyncGrpcService(Authenticator& auth, service::ChangeFeed& feed, sync::ChangeNotifier& notifier,
                  std::chrono::milliseconds heartbeat_interval, StreamLimiter& watch_streams)
      : auth_(auth),
        feed_(feed),
        notifier_(notifier),
        heartbeat_(heartbeat_interval),
        watch_streams_(watch_streams) {}

  grpc::Status Sync(grpc::ServerContext* ctx, const v1::SyncRequest* req,
                    v1::SyncResponse* resp) override;
  grpc::Status Watch(grpc::ServerContext* ctx, const v1::WatchRequest* req,
                     grpc::ServerWriter<v1::WatchResponse>* writer) override;

 private:
  Authenticator& auth_;
  service::ChangeFeed& feed_;
  sync::ChangeNotifier& notifier_;
  const std::chrono::milliseconds heartbeat_;
  StreamLimiter& watch_streams_;
};

}  // namespace coffer::vault::transport
