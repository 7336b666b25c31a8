#include "services/vault/transport/sync_grpc_service.h"

#include "pkg/status/status.h"
#include "services/vault/transport/proto_mapping.h"
#include "services/vault/transport/retry_info.h"

namespace coffer::vault::transport {
namespace {

v1::ResetReason ReasonToProto(service::FeedReset reset) {
  switch (reset) {
    case service::FeedReset::kForeignShard:
      return v1::RESET_REASON_FOREIGN_SHARD;
    case service::FeedReset::kExpired:
      return v1::RESET_REASON_EXPIRED;
    case service::FeedReset::kNone:
      break;
  }
  return v1::RESET_REASON_UNSPECIFIED;
}

void Heartbeat(const std::string& cursor, v1::WatchResponse* out) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto* hb = out->mutable_heartbeat();
  hb->mutable_server_time()->set_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(now).count());
  hb->set_cursor(cursor);
}

}  // namespace

grpc::Status SyncGrpcService::Sync(grpc::ServerContext* ctx, const v1::SyncRequest* req,
                                   v1::SyncResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const service::Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(std::string space, feed_.ResolveSpace(caller, req->space_id()));
    COFFER_ASSIGN_OR_RETURN(service::FeedPage page,
                            feed_.Page(space, req->cursor(), req->page_size()));
    if (page.reset != service::FeedReset::kNone) {
      resp->set_reset(true);
      resp->set_reset_reason(ReasonToProto(page.reset));
      return absl::OkStatus();
    }
    for (const service::FeedChange& c : page.changes)
      RevisionToProto(c.record, resp->add_changes());
    resp->set_next_cursor(page.next_cursor);
    resp->set_has_more(page.has_more);
    return absl::OkStatus();
  });
}

grpc::Status SyncGrpcService::Watch(grpc::ServerContext* ctx, const v1::WatchRequest* req,
                                    grpc::ServerWriter<v1::WatchResponse>* writer) {
  return RunAuthenticatedWithRetryInfo(
      auth_, ctx, [&](const service::Caller& caller) -> absl::Status {
        // Before anything else (no database work for a refused stream); freed when the stream ends.
        COFFER_ASSIGN_OR_RETURN(StreamLimiter::Slot slot, watch_streams_.Acquire(caller.subject));
        COFFER_ASSIGN_OR_RETURN(std::string space, feed_.ResolveSpace(caller, req->space_id()));
        std::string cursor = req->cursor();
        bool caught_up = false;
        auto last_sent = std::chrono::steady_clock::now();
        while (!ctx->IsCancelled()) {
          // Read the generation before querying, so a change committed meanwhile wakes us again.
          uint64_t generation = notifier_.Generation(space);
          // The token is checked on every wake-up (at least every heartbeat): a stream ends with
          // UNAUTHENTICATED once its token expired or was revoked (security audit H1).
          if (absl::Status token = auth_.Reverify(caller); !token.ok()) return token;
          // Membership is checked on every wake-up (a membership change wakes the space too): a
          // member removed here or on another shard stops receiving at once.
          if (absl::Status still = feed_.ResolveSpace(caller, space).status(); !still.ok()) {
            if (absl::IsNotFound(still)) {
              return absl::PermissionDeniedError("you are no longer a member of this space");
            }
            return still;
          }
          bool sent = false;
          for (;;) {
            // Also before every page of a long catch-up (a slow reader stays in this loop).
            if (absl::Status token = auth_.Reverify(caller); !token.ok()) return token;
            COFFER_ASSIGN_OR_RETURN(service::FeedPage page, feed_.Page(space, cursor, 0));
            if (page.reset != service::FeedReset::kNone) {
              v1::WatchResponse out;
              out.mutable_reset()->set_reason(ReasonToProto(page.reset));
              writer->Write(out);
              return absl::OkStatus();
            }
            for (const service::FeedChange& c : page.changes) {
              v1::WatchResponse out;
              RevisionToProto(c.record, out.mutable_change()->mutable_record());
              out.mutable_change()->set_cursor(c.cursor);
              if (!writer->Write(out)) return absl::OkStatus();  // client gone
              sent = true;
            }
            cursor = page.next_cursor;
            if (!page.has_more) break;
          }
          auto now = std::chrono::steady_clock::now();
          if (!caught_up || (!sent && now - last_sent >= heartbeat_)) {
            caught_up = true;
            v1::WatchResponse out;
            Heartbeat(cursor, &out);
            if (!writer->Write(out)) return absl::OkStatus();
            sent = true;
          }
          if (sent) last_sent = now;
          // Wake on a change, a heartbeat deadline, or (every 200 ms) to notice cancellation.
          auto deadline = last_sent + heartbeat_;
          while (!ctx->IsCancelled()) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            if (notifier_.WaitForChange(space, generation,
                                        std::min(left, std::chrono::milliseconds(200)))) {
              break;
            }
          }
        }
        return absl::CancelledError("watch cancelled");
      });
}

}  // namespace coffer::vault::transport
