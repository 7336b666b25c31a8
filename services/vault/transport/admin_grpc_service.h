// AdminGrpcService: AdminService (admin.proto) — Ping, GetSpaceDigest, GetShardStatus,
// ExportSnapshot and the dead letters (scope vault.admin). Each handler decodes the request,
// delegates to the service or sync layer and encodes the result.
//
// Lifecycle: borrows its collaborators; registers with pkg/grpcx GrpcServer, which must not
// outlive them. Threading: gRPC calls handlers concurrently; all collaborators are thread-safe.
#pragma once

#include <functional>

#include "coffer/vault/v1/admin.grpc.pb.h"
#include "services/vault/service/record_service.h"
#include "services/vault/service/space_service.h"
#include "services/vault/sync/dead_letters.h"
#include "services/vault/sync/shard_status.h"
#include "services/vault/transport/authenticator.h"

namespace coffer::vault::transport {

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
