#include "services/vault/transport/record_grpc_service.h"

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

}  // namespace coffer::vault::transport
