#include "services/vault/transport/file_grpc_service.h"

#include "pkg/status/status.h"
#include "services/vault/transport/proto_mapping.h"
#include "services/vault/transport/retry_info.h"

namespace coffer::vault::transport {
namespace {

// "30 s", "1.5 s": a timeout for messages.
std::string Seconds(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return text;
}

}  // namespace

grpc::Status FileGrpcService::UploadFile(grpc::ServerContext* ctx,
                                         grpc::ServerReader<v1::UploadFileRequest>* reader,
                                         v1::UploadFileResponse* resp) {
  return RunAuthenticatedWithRetryInfo(
      auth_, ctx, [&](const service::Caller& caller) -> absl::Status {
        COFFER_ASSIGN_OR_RETURN(StreamLimiter::Slot slot, bounds_.uploads->Acquire(caller.subject));
        // Every Read is watched: no message for idle_timeout ends the call (the client sees this
        // status) and unblocks the Read, so the upload's buffered content is released.
        const absl::Status stalled =
            absl::DeadlineExceededError("no upload message for " + Seconds(bounds_.idle_timeout) +
                                        "; the upload was aborted and nothing was stored");
        grpcx::IdleWatchdog::Guard idle = bounds_.watchdog->Track(grpcx::CancelCallWith(
            ctx, grpc::StatusCode::DEADLINE_EXCEEDED, std::string(stalled.message())));
        auto read = [&](v1::UploadFileRequest* m) {
          idle.Arm(bounds_.idle_timeout);
          const bool got = reader->Read(m);
          idle.Disarm();
          return got;
        };
        auto ended = [&]() -> absl::Status {
          if (!idle.fired()) return absl::OkStatus();
          bounds_.uploads->CountIdleTimeout();
          return stalled;  // NOLINT(performance-no-automatic-move): captured, so copied anyway
        };
        v1::UploadFileRequest msg;
        if (!read(&msg)) {
          COFFER_RETURN_IF_ERROR(ended());
          return absl::InvalidArgumentError("metadata: the stream was empty");
        }
        if (msg.data_case() != v1::UploadFileRequest::kMetadata) {
          return absl::InvalidArgumentError(
              "metadata: must be the first message, before any chunk");
        }
        COFFER_ASSIGN_OR_RETURN(service::UploadMetadata meta,
                                UploadMetadataFromProto(msg.metadata()));
        COFFER_ASSIGN_OR_RETURN(std::unique_ptr<service::FileService::Upload> upload,
                                files_.BeginUpload(caller, std::move(meta)));
        while (read(&msg)) {
          if (msg.data_case() != v1::UploadFileRequest::kChunk) {
            return absl::InvalidArgumentError("chunk: every message after the metadata is a chunk");
          }
          COFFER_RETURN_IF_ERROR(upload->AddChunk(msg.chunk()));
        }
        COFFER_RETURN_IF_ERROR(ended());
        if (ctx->IsCancelled()) {
          return absl::CancelledError("the upload was cancelled; nothing stored");
        }
        COFFER_ASSIGN_OR_RETURN(service::UploadResult result, upload->Finish());
        resp->set_blob_id(result.info.blob_id);
        resp->set_size_bytes(static_cast<uint64_t>(result.info.size_bytes));
        resp->set_sha256_hex(result.info.sha256_hex);
        if (result.record) RevisionToProto(*result.record, resp->mutable_record());
        resp->set_consistency_token(result.session_token);
        return absl::OkStatus();
      });
}

grpc::Status FileGrpcService::DownloadFile(grpc::ServerContext* ctx,
                                           const v1::DownloadFileRequest* req,
                                           grpc::ServerWriter<v1::DownloadFileResponse>* writer) {
  return RunAuthenticatedWithRetryInfo(
      auth_, ctx, [&](const service::Caller& caller) -> absl::Status {
        COFFER_ASSIGN_OR_RETURN(StreamLimiter::Slot slot,
                                bounds_.downloads->Acquire(caller.subject));
        COFFER_ASSIGN_OR_RETURN(service::FileInfo info, files_.GetInfo(caller, req->blob_id()));
        // Every Write is watched: a client that accepts nothing for idle_timeout (its flow-control
        // window stays full) is ended, freeing the thread.
        const absl::Status stalled = absl::DeadlineExceededError(
            "the client accepted no data for " + Seconds(bounds_.idle_timeout) +
            "; the download was aborted");
        grpcx::IdleWatchdog::Guard idle = bounds_.watchdog->Track(grpcx::CancelCallWith(
            ctx, grpc::StatusCode::DEADLINE_EXCEEDED, std::string(stalled.message())));
        auto write = [&](const v1::DownloadFileResponse& m) -> absl::Status {
          idle.Arm(bounds_.idle_timeout);
          const bool sent = writer->Write(m);
          idle.Disarm();
          if (sent) return absl::OkStatus();
          if (idle.fired()) {
            bounds_.downloads->CountIdleTimeout();
            return stalled;  // NOLINT(performance-no-automatic-move): captured, so copied anyway
          }
          return absl::CancelledError("the client went away");
        };
        v1::DownloadFileResponse msg;
        FileInfoToProto(info, msg.mutable_info());
        COFFER_RETURN_IF_ERROR(write(msg));
        for (int i = 0; i < info.chunk_count; ++i) {
          COFFER_ASSIGN_OR_RETURN(std::string chunk, files_.ReadChunk(info, i));
          msg.Clear();
          msg.set_chunk(std::move(chunk));
          COFFER_RETURN_IF_ERROR(write(msg));
        }
        return absl::OkStatus();
      });
}

grpc::Status FileGrpcService::GetFileInfo(grpc::ServerContext* ctx,
                                          const v1::GetFileInfoRequest* req,
                                          v1::GetFileInfoResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const service::Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(service::FileInfo info, files_.GetInfo(caller, req->blob_id()));
    FileInfoToProto(info, resp->mutable_info());
    return absl::OkStatus();
  });
}

}  // namespace coffer::vault::transport
