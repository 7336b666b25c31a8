#include "services/vault/transport/file_grpc_service.h"

#include "pkg/status/status.h"
#include "services/vault/transport/proto_mapping.h"

namespace coffer::vault::transport {

grpc::Status FileGrpcService::UploadFile(grpc::ServerContext* ctx,
                                         grpc::ServerReader<v1::UploadFileRequest>* reader,
                                         v1::UploadFileResponse* resp) {
  return RunAuthenticated(auth_, ctx, [&](const service::Caller& caller) -> absl::Status {
    v1::UploadFileRequest msg;
    if (!reader->Read(&msg)) return absl::InvalidArgumentError("metadata: the stream was empty");
    if (msg.data_case() != v1::UploadFileRequest::kMetadata) {
      return absl::InvalidArgumentError("metadata: must be the first message, before any chunk");
    }
    const v1::UploadFileMetadata& m = msg.metadata();
    service::UploadMetadata meta;
    meta.space_id = m.space_id();
    meta.record_id = m.record_id();
    if (m.expected_version() > static_cast<uint64_t>(INT64_MAX) ||
        m.size_bytes() > static_cast<uint64_t>(INT64_MAX)) {
      return absl::InvalidArgumentError("metadata: expected_version or size_bytes out of range");
    }
    meta.expected_version = static_cast<int64_t>(m.expected_version());
    meta.file_name = m.file_name();
    meta.content_type = m.content_type();
    meta.size_bytes = static_cast<int64_t>(m.size_bytes());
    meta.sha256_hex = m.sha256_hex();
    COFFER_ASSIGN_OR_RETURN(std::unique_ptr<service::FileService::Upload> upload,
                            files_.BeginUpload(caller, std::move(meta)));
    while (reader->Read(&msg)) {
      if (msg.data_case() != v1::UploadFileRequest::kChunk) {
        return absl::InvalidArgumentError("chunk: every message after the metadata is a chunk");
      }
      COFFER_RETURN_IF_ERROR(upload->AddChunk(msg.chunk()));
    }
    if (ctx->IsCancelled()) return absl::CancelledError("the upload was cancelled; nothing stored");
    COFFER_ASSIGN_OR_RETURN(service::UploadResult result, upload->Finish());
    resp->set_blob_id(result.info.blob_id);
    resp->set_size_bytes(static_cast<uint64_t>(result.info.size_bytes));
    resp->set_sha256_hex(result.info.sha256_hex);
    if (result.record) RevisionToProto(*result.record, resp->mutable_record());
    return absl::OkStatus();
  });
}

grpc::Status FileGrpcService::DownloadFile(grpc::ServerContext* ctx,
                                           const v1::DownloadFileRequest* req,
                                           grpc::ServerWriter<v1::DownloadFileResponse>* writer) {
  return RunAuthenticated(auth_, ctx, [&](const service::Caller& caller) -> absl::Status {
    COFFER_ASSIGN_OR_RETURN(service::FileInfo info, files_.GetInfo(caller, req->blob_id()));
    v1::DownloadFileResponse msg;
    FileInfoToProto(info, msg.mutable_info());
    if (!writer->Write(msg)) return absl::CancelledError("the client went away");
    for (int i = 0; i < info.chunk_count; ++i) {
      COFFER_ASSIGN_OR_RETURN(std::string chunk, files_.ReadChunk(info, i));
      msg.Clear();
      msg.set_chunk(std::move(chunk));
      if (!writer->Write(msg)) return absl::CancelledError("the client went away");
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
