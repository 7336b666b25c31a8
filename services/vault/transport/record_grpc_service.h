// RecordGrpcService: every RecordService RPC (vault.proto). Each handler decodes the request,
// delegates to service::RecordService and encodes the result; authentication and status mapping
// happen in RunAuthenticated. One file per gRPC service: AdminService is in
// admin_grpc_service.h, SpaceService in space_grpc_service.h, SyncService in
// sync_grpc_service.h, FileService in file_grpc_service.h.
//
// Lifecycle: borrow their collaborators; register with pkg/grpcx GrpcServer, which must not
// outlive them. Threading: gRPC calls handlers concurrently; all collaborators are thread-safe.
#pragma once

#include "coffer/vault/v1/vault.grpc.pb.h"
#include "services/vault/service/record_service.h"
#include "services/vault/transport/authenticator.h"

namespace coffer::vault::transport {

// RecordService (vault.proto) over service::RecordService; every RPC needs a token with the
// Authenticator's required scope, and the service checks the caller's access to the space.
class RecordGrpcService final : public v1::RecordService::Service {
 public:
  RecordGrpcService(Authenticator& auth, service::RecordService& records)
      : auth_(auth), records_(records) {}

  grpc::Status CreateRecord(grpc::ServerContext* ctx, const v1::CreateRecordRequest* req,
                            v1::CreateRecordResponse* resp) override;
  grpc::Status GetRecord(grpc::ServerContext* ctx, const v1::GetRecordRequest* req,
                         v1::GetRecordResponse* resp) override;
  grpc::Status UpdateRecord(grpc::ServerContext* ctx, const v1::UpdateRecordRequest* req,
                            v1::UpdateRecordResponse* resp) override;
  grpc::Status DeleteRecord(grpc::ServerContext* ctx, const v1::DeleteRecordRequest* req,
                            v1::DeleteRecordResponse* resp) override;
  grpc::Status UndeleteRecord(grpc::ServerContext* ctx, const v1::UndeleteRecordRequest* req,
                              v1::UndeleteRecordResponse* resp) override;
  grpc::Status PurgeRecord(grpc::ServerContext* ctx, const v1::PurgeRecordRequest* req,
                           v1::PurgeRecordResponse* resp) override;
  grpc::Status ListRecords(grpc::ServerContext* ctx, const v1::ListRecordsRequest* req,
                           v1::ListRecordsResponse* resp) override;
  grpc::Status SearchRecords(grpc::ServerContext* ctx, const v1::SearchRecordsRequest* req,
                             v1::SearchRecordsResponse* resp) override;
  grpc::Status ListRecordVersions(grpc::ServerContext* ctx,
                                  const v1::ListRecordVersionsRequest* req,
                                  v1::ListRecordVersionsResponse* resp) override;
  grpc::Status GetRecordVersion(grpc::ServerContext* ctx, const v1::GetRecordVersionRequest* req,
                                v1::GetRecordVersionResponse* resp) override;
  grpc::Status RestoreRecordVersion(grpc::ServerContext* ctx,
                                    const v1::RestoreRecordVersionRequest* req,
                                    v1::RestoreRecordVersionResponse* resp) override;
  grpc::Status ListConflicts(grpc::ServerContext* ctx, const v1::ListConflictsRequest* req,
                             v1::ListConflictsResponse* resp) override;
  grpc::Status GetOtpCode(grpc::ServerContext* ctx, const v1::GetOtpCodeRequest* req,
                          v1::GetOtpCodeResponse* resp) override;

 private:
  Authenticator& auth_;
  service::RecordService& records_;
};

}  // namespace coffer::vault::transport
