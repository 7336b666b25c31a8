// The vault's gRPC handlers. Each one decodes the request, delegates to the service layer and
// encodes the result; authentication and status mapping happen in RunAuthenticated.
//
//   RecordGrpcService  every RecordService RPC.
//   AdminGrpcService   Ping, GetSpaceDigest, GetShardStatus, ExportSnapshot and the dead letters
//                      (scope vault.admin).
// SpaceService lives in space_grpc_service.h, SyncService in sync_grpc_service.h, FileService in
// file_grpc_service.h.
//
// Lifecycle: borrow their collaborators; register with pkg/grpcx GrpcServer, which must not
// outlive them. Threading: gRPC calls handlers concurrently; all collaborators are thread-safe.
#pragma once

#include <functional>

#include "coffer/vault/v1/admin.grpc.pb.h"
#include "coffer/vault/v1/spaces.grpc.pb.h"
#include "coffer/vault/v1/vault.grpc.pb.h"
#include "services/vault/service/record_service.h"
#include "services/vault/service/space_service.h"
#include "services/vault/sync/dead_letters.h"
#include "services/vault/sync/shard_status.h"
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

// AdminService (admin.proto). Ping admits any token Authenticate admits for an admin RPC; every
// other RPC also requires the vault.admin scope (PERMISSION_DENIED otherwise).
class AdminGrpcService final : public v1::AdminService::Service {
 public:
  // `records` and `spaces` give GetSpaceDigest its parts, `shard` GetShardStatus and
  // ExportSnapshot. `dead_letters` may be null (a shard without Kafka has none): its methods are
  // then UNIMPLEMENTED.
  AdminGrpcService(Authenticator& auth, service::RecordService& records,
                   service::SpaceService& spaces, sync::ShardStatusSource& shard,
                   sync::DeadLetters* dead_letters = nullptr)
      : auth_(auth),
        records_(records),
        spaces_(spaces),
        shard_(shard),
        dead_letters_(dead_letters) {}

  grpc::Status GetShardStatus(grpc::ServerContext* ctx, const v1::GetShardStatusRequest* req,
                              v1::GetShardStatusResponse* resp) override;
  grpc::Status GetSpaceDigest(grpc::ServerContext* ctx, const v1::GetSpaceDigestRequest* req,
                              v1::GetSpaceDigestResponse* resp) override;
  grpc::Status Ping(grpc::ServerContext* ctx, const v1::PingRequest* req,
                    v1::PingResponse* resp) override;
  grpc::Status ExportSnapshot(grpc::ServerContext* ctx, const v1::ExportSnapshotRequest* req,
                              grpc::ServerWriter<v1::ExportSnapshotResponse>* writer) override;
  grpc::Status ListDeadLetters(grpc::ServerContext* ctx, const v1::ListDeadLettersRequest* req,
                               v1::ListDeadLettersResponse* resp) override;
  grpc::Status RetryDeadLetter(grpc::ServerContext* ctx, const v1::RetryDeadLetterRequest* req,
                               v1::RetryDeadLetterResponse* resp) override;
  grpc::Status DiscardDeadLetter(grpc::ServerContext* ctx, const v1::DiscardDeadLetterRequest* req,
                                 v1::DiscardDeadLetterResponse* resp) override;

 private:
  // Runs `fn` for a caller with the admin scope on a shard that has dead letters.
  grpc::Status WithDeadLetters(grpc::ServerContext* ctx,
                               const std::function<absl::Status(sync::DeadLetters&)>& fn);

  Authenticator& auth_;
  service::RecordService& records_;
  service::SpaceService& spaces_;
  sync::ShardStatusSource& shard_;
  sync::DeadLetters* const dead_letters_;
};

}  // namespace coffer::vault::transport
