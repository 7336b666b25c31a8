// FileGrpcService: FileService over gRPC (proto/coffer/vault/v1/files.proto), a thin layer over
// service::FileService.
//
// UploadFile reads the metadata message, then every chunk message until the client
// half-closes, and only then stores (service/file_service.h). A stream that breaks off, a
// message out of order (metadata twice, a chunk first) or a failed check stores nothing.
// DownloadFile sends the info message, then the chunks in order, stopping when the client goes.
//
// Lifecycle: borrows its collaborators. Threading: gRPC calls handlers concurrently.
#pragma once

#include "coffer/vault/v1/files.grpc.pb.h"
#include "services/vault/service/file_service.h"
#include "services/vault/transport/authenticator.h"

namespace coffer::vault::transport {

class FileGrpcService final : public v1::FileService::Service {
 public:
  FileGrpcService(Authenticator& auth, service::FileService& files) : auth_(auth), files_(files) {}

  grpc::Status UploadFile(grpc::ServerContext* ctx,
                          grpc::ServerReader<v1::UploadFileRequest>* reader,
                          v1::UploadFileResponse* resp) override;
  grpc::Status DownloadFile(grpc::ServerContext* ctx, const v1::DownloadFileRequest* req,
                            grpc::ServerWriter<v1::DownloadFileResponse>* writer) override;
  grpc::Status GetFileInfo(grpc::ServerContext* ctx, const v1::GetFileInfoRequest* req,
                           v1::GetFileInfoResponse* resp) override;

 private:
  Authenticator& auth_;
  service::FileService& files_;
};

}  // namespace coffer::vault::transport
