// FileGrpcService: FileService over gRPC (proto/coffer/vault/v1/files.proto), a thin layer over
// service::FileService.
//
// UploadFile reads the metadata message, then every chunk message until the client
// half-closes, and only then stores (service/file_service.h). A stream that breaks off, a
// message out of order (metadata twice, a chunk first) or a failed check stores nothing.
// DownloadFile sends the info message, then the chunks in order, stopping when the client goes.
//
// Bounds (security audit H5, M6): every upload and download holds a slot of its StreamLimiter
// (per user and per replica; past a cap the call is refused at once with RESOURCE_EXHAUSTED and
// a retry hint), and an upload that receives no message, or a download whose client accepts
// nothing, for `idle_timeout` is ended by the IdleWatchdog with DEADLINE_EXCEEDED: its thread and
// its buffered content are released without the client doing anything.
//
// Lifecycle: borrows its collaborators. Threading: gRPC calls handlers concurrently.
#pragma once

#include <chrono>

#include "coffer/vault/v1/files.grpc.pb.h"
#include "pkg/grpcx/idle_watchdog.h"
#include "services/vault/service/file_service.h"
#include "services/vault/transport/authenticator.h"
#include "services/vault/transport/stream_limiter.h"

namespace coffer::vault::transport {

// The bounds above. The limiters and the watchdog are borrowed: they must outlive the service.
struct FileStreamBounds {
  StreamLimiter* uploads = nullptr;         // required
  StreamLimiter* downloads = nullptr;       // required
  grpcx::IdleWatchdog* watchdog = nullptr;  // required
  // An upload or download that makes no progress for this long is ended.
  std::chrono::milliseconds idle_timeout{30000};
};

// FileService's RPCs over service::FileService. The two streams answer a refusal by their
// limiter with a retry hint (RunAuthenticatedWithRetryInfo, retry_info.h).
class FileGrpcService final : public v1::FileService::Service {
 public:
  FileGrpcService(Authenticator& auth, service::FileService& files, FileStreamBounds bounds)
      : auth_(auth), files_(files), bounds_(bounds) {}

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
  const FileStreamBounds bounds_;
};

}  // namespace coffer::vault::transport
