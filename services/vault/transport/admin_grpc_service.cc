#include "services/vault/transport/admin_grpc_service.h"

#include <ctime>

#include "pkg/status/status.h"
#include "pkg/version/version.h"
#include "services/vault/domain/dead_letter.h"
#include "services/vault/service/space_digest.h"
#include "services/vault/transport/proto_mapping.h"

namespace coffer::vault::transport {
namespace {

using service::Caller;

// GetShardStatus: the status as the reporter saw it, and this binary's version.
void ShardStatusToProto(const sync::ShardStatus& status, v1::GetShardStatusResponse* out) {
  out->set_shard_id(status.shard_id);
  out->set_version(std::string(version::Version()));
  out->set_outbox_backlog(status.outbox_backlog < 0 ? 0
                                                    : static_cast<uint64_t>(status.outbox_backlog));
  out->set_is_relay_leader(status.relay_leader);
  out->set_is_consumer_leader(status.consumer_leader);
  out->set_consumer_stall_reason(status.consumer_stall_reason);
  for (const sync::PartitionStatus& p : status.partitions) {
    v1::PartitionStatus* ps = out->add_partitions();
    ps->set_partition(p.partition);
    ps->set_next_offset(p.next_offset);
    ps->set_high_watermark(p.high_watermark);
    ps->set_lag(p.lag);
  }
}

}  // namespace

grpc::Status AdminGrpcService::GetShardStatus(grpc::ServerContext* ctx,
                                              const v1::GetShardStatusRequest*,
                                              v1::GetShardStatusResponse* resp) {
  return RunAuthenticatedAdmin(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_RETURN_IF_ERROR(service::RequireScope(caller, service::kAdminScope));
    ShardStatusToProto(shard_.Status(), resp);
    return absl::OkStatus();
  });
}

grpc::Status AdminGrpcService::GetSpaceDigest(grpc::ServerContext* ctx,
                                              const v1::GetSpaceDigestRequest* req,
                                              v1::GetSpaceDigestResponse* resp) {
  return RunAuthenticatedAdmin(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_RETURN_IF_ERROR(service::RequireScope(caller, service::kAdminScope));
    COFFER_ASSIGN_OR_RETURN(service::SpaceStateDigest digest,
                            service::ComputeSpaceStateDigest(records_, spaces_, req->space_id()));
    resp->set_digest_hex(digest.hex);
    resp->set_record_count(digest.record_count);
    resp->mutable_computed_at()->set_seconds(time(nullptr));
    return absl::OkStatus();
  });
}

grpc::Status AdminGrpcService::ExportSnapshot(
    grpc::ServerContext* ctx, const v1::ExportSnapshotRequest*,
    grpc::ServerWriter<v1::ExportSnapshotResponse>* writer) {
  return RunAuthenticatedAdmin(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_RETURN_IF_ERROR(service::RequireScope(caller, service::kAdminScope));
    return shard_.ExportSnapshot([&](const v1::ExportSnapshotResponse& msg) {
      return !ctx->IsCancelled() && writer->Write(msg);
    });
  });
}

grpc::Status AdminGrpcService::Ping(grpc::ServerContext* ctx, const v1::PingRequest*,
                                    v1::PingResponse*) {
  return RunAuthenticatedAdmin(auth_, ctx, [](const Caller&) { return absl::OkStatus(); });
}

grpc::Status AdminGrpcService::WithDeadLetters(
    grpc::ServerContext* ctx, const std::function<absl::Status(sync::DeadLetters&)>& fn) {
  return RunAuthenticatedAdmin(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_RETURN_IF_ERROR(service::RequireScope(caller, service::kAdminScope));
    if (dead_letters_ == nullptr) {
      return absl::UnimplementedError("this shard does not replicate (no --kafka-bootstrap)");
    }
    return fn(*dead_letters_);
  });
}

grpc::Status AdminGrpcService::ListDeadLetters(grpc::ServerContext* ctx,
                                               const v1::ListDeadLettersRequest* req,
                                               v1::ListDeadLettersResponse* resp) {
  return WithDeadLetters(ctx, [&](sync::DeadLetters& letters) -> absl::Status {
    int64_t after = 0;
    if (!req->page_token().empty() && (!absl::SimpleAtoi(req->page_token(), &after) || after < 0)) {
      return absl::InvalidArgumentError("page_token: malformed");
    }
    const int limit = req->page_size() == 0 ? 100 : req->page_size();
    COFFER_ASSIGN_OR_RETURN(std::vector<domain::DeadLetter> page,
                            letters.List(req->direction(), after, limit));
    for (const domain::DeadLetter& d : page) {
      v1::DeadLetter* out = resp->add_dead_letters();
      out->set_id(d.id);
      out->set_direction(d.direction);
      out->set_kind(d.kind);
      out->set_error(d.error);
      out->set_partition(d.partition);
      out->set_offset(d.offset);
      out->set_claimed_origin_shard(d.origin_shard);
      out->set_event_bytes(d.value_bytes);
      out->mutable_create_time()->set_seconds(d.created_at_ms / 1000);
      out->mutable_create_time()->set_nanos(static_cast<int32_t>(d.created_at_ms % 1000) * 1000000);
    }
    if (static_cast<int>(page.size()) == limit) {
      resp->set_next_page_token(std::to_string(page.back().id));
    }
    return absl::OkStatus();
  });
}

grpc::Status AdminGrpcService::RetryDeadLetter(grpc::ServerContext* ctx,
                                               const v1::RetryDeadLetterRequest* req,
                                               v1::RetryDeadLetterResponse*) {
  return WithDeadLetters(ctx, [&](sync::DeadLetters& letters) { return letters.Retry(req->id()); });
}

grpc::Status AdminGrpcService::DiscardDeadLetter(grpc::ServerContext* ctx,
                                                 const v1::DiscardDeadLetterRequest* req,
                                                 v1::DiscardDeadLetterResponse*) {
  return WithDeadLetters(ctx,
                         [&](sync::DeadLetters& letters) { return letters.Discard(req->id()); });
}

}  // namespace coffer::vault::transport
