#include "services/vault/transport/grpc_services.h"

#include "absl/strings/numbers.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"
#include "pkg/status/status.h"
#include "pkg/version/version.h"
#include "services/vault/domain/dead_letter.h"
#include "services/vault/transport/proto_mapping.h"
#include "services/vault/wire/record_type.h"

namespace coffer::vault::transport {
namespace {

using service::Caller;

int64_t Version(uint64_t v) {
  // Versions above 2^63 cannot exist; clamp so the service reports a plain mismatch.
  return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
}

template <typename Repeated>
void AddRevisions(const std::vector<domain::Revision>& revisions, Repeated* out) {
  for (const domain::Revision& r : revisions) RevisionToProto(r, out->Add());
}

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

absl::StatusOr<service::RecordListFilter> FilterFromProto(const v1::RecordFilter& f) {
  service::RecordListFilter out;
  for (int t : f.types()) {
    std::optional<domain::RecordType> type = wire::TypeFromProto(static_cast<v1::RecordType>(t));
    if (!type) return absl::InvalidArgumentError("filter.types: unknown record type");
    out.types.push_back(*type);
  }
  out.name_prefix = f.name_prefix();
  out.metadata_key = f.metadata_key();
  out.metadata_value = f.metadata_key().empty() ? "" : f.metadata_value();
  out.in_trash = f.in_trash();
  out.in_conflict = f.in_conflict();
  return out;
}

}  // namespace

grpc::Status RecordGrpcService::CreateRecord(grpc::ServerContext* ctx,
                                             const v1::CreateRecordRequest* req,
                                             v1::CreateRecordResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(domain::RecordContent content, ContentFromProto(req->record()));
    COFFER_ASSIGN_OR_RETURN(domain::Revision r, records_.Create(caller, req->record().space_id(),
                                                                req->record_id(), content));
    RevisionToProto(r, resp->mutable_record());
    resp->set_consistency_token(records_.SessionToken(r));
    return absl::OkStatus();
  });
}

grpc::Status RecordGrpcService::GetRecord(grpc::ServerContext* ctx, const v1::GetRecordRequest* req,
                                          v1::GetRecordResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(service::RecordWithSiblings r,
                            records_.Get(caller, req->id(), req->include_siblings(),
                                         req->space_id(), req->consistency_token()));
    RevisionToProto(r.head, resp->mutable_record());
    AddRevisions(r.siblings, resp->mutable_siblings());
    return absl::OkStatus();
  });
}

grpc::Status RecordGrpcService::UpdateRecord(grpc::ServerContext* ctx,
                                             const v1::UpdateRecordRequest* req,
                                             v1::UpdateRecordResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(domain::RecordContent content, ContentFromProto(req->record()));
    COFFER_ASSIGN_OR_RETURN(domain::Revision r,
                            records_.Update(caller, req->record().id(), req->record().space_id(),
                                            content, Version(req->expected_version())));
    RevisionToProto(r, resp->mutable_record());
    resp->set_consistency_token(records_.SessionToken(r));
    return absl::OkStatus();
  });
}

grpc::Status RecordGrpcService::DeleteRecord(grpc::ServerContext* ctx,
                                             const v1::DeleteRecordRequest* req,
                                             v1::DeleteRecordResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(
        domain::Revision r,
        records_.Delete(caller, req->id(), Version(req->expected_version()), req->space_id()));
    RevisionToProto(r, resp->mutable_record());
    resp->set_consistency_token(records_.SessionToken(r));
    return absl::OkStatus();
  });
}

grpc::Status RecordGrpcService::UndeleteRecord(grpc::ServerContext* ctx,
                                               const v1::UndeleteRecordRequest* req,
                                               v1::UndeleteRecordResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(
        domain::Revision r,
        records_.Undelete(caller, req->id(), Version(req->expected_version()), req->space_id()));
    RevisionToProto(r, resp->mutable_record());
    resp->set_consistency_token(records_.SessionToken(r));
    return absl::OkStatus();
  });
}

grpc::Status RecordGrpcService::PurgeRecord(grpc::ServerContext* ctx,
                                            const v1::PurgeRecordRequest* req,
                                            v1::PurgeRecordResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(
        domain::Revision r,
        records_.Purge(caller, req->id(), Version(req->expected_version()), req->space_id()));
    resp->set_consistency_token(records_.SessionToken(r));
    return absl::OkStatus();
  });
}

grpc::Status RecordGrpcService::ListRecords(grpc::ServerContext* ctx,
                                            const v1::ListRecordsRequest* req,
                                            v1::ListRecordsResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(service::RecordListFilter filter, FilterFromProto(req->filter()));
    COFFER_ASSIGN_OR_RETURN(
        service::Page<domain::Revision> page,
        records_.List(caller, req->space_id(), filter, req->page_size(), req->page_token()));
    AddRevisions(page.items, resp->mutable_records());
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status RecordGrpcService::SearchRecords(grpc::ServerContext* ctx,
                                              const v1::SearchRecordsRequest* req,
                                              v1::SearchRecordsResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(service::Page<domain::Revision> page,
                            records_.Search(caller, req->space_id(), req->query(), req->page_size(),
                                            req->page_token()));
    AddRevisions(page.items, resp->mutable_records());
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status RecordGrpcService::ListRecordVersions(grpc::ServerContext* ctx,
                                                   const v1::ListRecordVersionsRequest* req,
                                                   v1::ListRecordVersionsResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(service::Page<domain::Revision> page,
                            records_.ListVersions(caller, req->id(), req->page_size(),
                                                  req->page_token(), req->space_id()));
    AddRevisions(page.items, resp->mutable_versions());
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status RecordGrpcService::GetRecordVersion(grpc::ServerContext* ctx,
                                                 const v1::GetRecordVersionRequest* req,
                                                 v1::GetRecordVersionResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(
        domain::Revision r,
        records_.GetVersion(caller, req->id(), Version(req->version()), req->space_id()));
    RevisionToProto(r, resp->mutable_record());
    return absl::OkStatus();
  });
}

grpc::Status RecordGrpcService::RestoreRecordVersion(grpc::ServerContext* ctx,
                                                     const v1::RestoreRecordVersionRequest* req,
                                                     v1::RestoreRecordVersionResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(domain::Revision r,
                            records_.Restore(caller, req->id(), Version(req->version()),
                                             Version(req->expected_version()), req->space_id()));
    RevisionToProto(r, resp->mutable_record());
    resp->set_consistency_token(records_.SessionToken(r));
    return absl::OkStatus();
  });
}

grpc::Status RecordGrpcService::ListConflicts(grpc::ServerContext* ctx,
                                              const v1::ListConflictsRequest* req,
                                              v1::ListConflictsResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(
        service::Page<service::RecordWithSiblings> page,
        records_.ListConflicts(caller, req->space_id(), req->page_size(), req->page_token()));
    for (const service::RecordWithSiblings& c : page.items) {
      v1::Conflict* out = resp->add_conflicts();
      RevisionToProto(c.head, out->mutable_head());
      AddRevisions(c.siblings, out->mutable_siblings());
    }
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status RecordGrpcService::GetOtpCode(grpc::ServerContext* ctx,
                                           const v1::GetOtpCodeRequest* req,
                                           v1::GetOtpCodeResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(service::OtpCodeResult code,
                            records_.GetOtpCode(caller, req->id(), req->space_id()));
    resp->set_code(code.code);
    resp->set_seconds_remaining(static_cast<uint32_t>(code.seconds_remaining));
    resp->set_period(static_cast<uint32_t>(code.period));
    resp->set_counter(code.counter);
    resp->set_consistency_token(code.session_token);
    return absl::OkStatus();
  });
}

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
    COFFER_ASSIGN_OR_RETURN(auto digest, records_.SpaceDigest(req->space_id()));
    // Membership is part of a space's state (docs/architecture.md §3a): a shared space's digest
    // covers its registers too; a personal space's stays the records' digest.
    COFFER_ASSIGN_OR_RETURN(std::string membership, spaces_.MembershipDigest(req->space_id()));
    if (!membership.empty()) {
      digest.first = crypto::HexEncode(crypto::Sha256(digest.first + "|membership|" + membership));
    }
    resp->set_digest_hex(digest.first);
    resp->set_record_count(digest.second);
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
