#include "services/vault/transport/sync_grpc_service.h"

#include "pkg/status/status.h"
#include "services/vault/transport/proto_mapping.h"

namespace coffer::vault::transport {
grpc::Status SyncGrpcService::Sync(grpc::ServerContext* ctx, const v1::SyncRequest* req,
                                   v1::SyncResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const service::Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(std::string space, feed_.ResolveSpace(caller, req->space_id()));
    COFFER_ASSIGN_OR_RETURN(service::FeedPage page,
                            feed_.Page(space, req->cursor(), req->page_size()));
    if (page.reset != service::FeedReset::kNone) {
      resp->set_reset(true);
      resp->set_reset_reason(FeedResetToProto(page.reset));
      return absl::OkStatus();
    }
    for (const service::FeedChange& c : page.changes)
      RevisionToProto(c.record, resp->add_changes());
    resp->set_next_cursor(page.next_cursor);
    resp->set_has_more(page.has_more);
    return absl::OkStatus();
  });
}

grpcx::AsyncServiceHooks SyncGrpcService::WatchHooks() {
  return {
      .threads = 2,
      .start =
          [this](grpc::ServerCompletionQueue* cq) {
            calls_.Start([this, cq](grpc::ServerContext* ctx, v1::WatchRequest* req,
                                    grpc::ServerAsyncWriter<v1::WatchResponse>* writer,
                                    void* tag) { RequestWatch(ctx, req, writer, cq, cq, tag); });
          },
      .drain = [this] { calls_.Drain(); }};
}

}  // namespace coffer::vault::transport
