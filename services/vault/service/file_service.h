// FileService: file content (blobs) of a space on one shard — proto/coffer/vault/v1/files.proto.
//
// Upload: BeginUpload() validates the metadata and the caller's writer role in the target space
// (the record's space when a record is named), then the stream's chunks go to Upload::AddChunk()
// one by one (1 byte to 256 KiB each, never more in total than declared), hashed as they arrive.
// Upload::Finish() compares size and SHA-256 with the metadata (INVALID_ARGUMENT on a mismatch)
// and only then stores the blob and all of its chunks in one transaction; an upload that fails
// or breaks off stores nothing. Content the space already holds is not stored twice: the blob id
// is content-addressed per space, and the existing blob is returned.
//
// Encryption at rest (docs/architecture.md §6), under keys derived per space like the records':
//   blob id  = UUID of the first 16 bytes of HMAC-SHA-256(key "blob-id:<space>", sha256_hex)
//   info_ct  = envelope of {file_name, content_type, sha256_hex}, associated data
//              "coffer.vault.blob.v1|info|<space>|<blob>|<size>|<chunk_count>"
//   chunk_ct = envelope of chunk i, associated data "coffer.vault.blob.v1|chunk|<space>|<blob>|<i>"
// so the SHA-256 of a file never appears in plaintext, and a chunk moved to another blob, index
// or space, or a size or chunk count altered in the database, fails to open (DATA_LOSS).
//
// Memory: content is held until Finish() seals and stores it. Each upload is bounded by
// max_file_bytes, all uploads of the process together by max_buffered_bytes, and all uploads of
// one user (token subject) together by their share of it (max_buffered_bytes_per_user, security
// audit M6: one user's stalled uploads cannot take the budget from everybody else). Past a bound
// the chunk is refused with RESOURCE_EXHAUSTED (with a retry hint, service/retry_after.h) rather
// than letting concurrent uploads exhaust memory. The content is released when the Upload is
// destroyed (finished, failed, cancelled, or ended by the transport's idle timeout).
// Metric: coffer_vault_upload_buffer_bytes (content held now) and
// coffer_vault_upload_buffer_refused_total{limit="user"|"replica"}.
//
// Blobs travel to the other shards through the outbox relay (repository/pg_blob_repository.h,
// services/vault/README.md "Files"); until they arrive, another shard answers NOT_FOUND.
//
// Lifecycle: borrows its collaborators, which must outlive it and every Upload. Threading:
// thread-safe; one Upload is used by one thread at a time.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/crypto/hash.h"
#include "pkg/crypto/keyring.h"
#include "services/vault/domain/record.h"
#include "services/vault/repository/blob_repository.h"
#include "services/vault/service/caller.h"
#include "services/vault/service/record_service.h"
#include "services/vault/service/space_access.h"

namespace coffer::vault::service {

inline constexpr size_t kMaxChunkBytes = repository::kBlobChunkBytes;

struct FileServiceConfig {
  // Largest file accepted (RESOURCE_EXHAUSTED above it).
  int64_t max_file_bytes = int64_t{64} << 20;
  // Bytes all in-progress uploads of this process may hold together.
  int64_t max_buffered_bytes = int64_t{256} << 20;
  // Bytes all in-progress uploads of one user may hold together; 0 = the larger of a quarter of
  // max_buffered_bytes and max_file_bytes (so one file of the largest size always fits), at most
  // max_buffered_bytes.
  int64_t max_buffered_bytes_per_user = 0;
};

// The per-user share FileService applies for `config` (see max_buffered_bytes_per_user).
int64_t EffectivePerUserBufferBytes(const FileServiceConfig& config);

struct UploadMetadata {
  std::string space_id;  // empty = personal space, or the record's space when record_id is set
  std::string record_id;
  int64_t expected_version = 0;
  std::string file_name;
  std::string content_type;
  int64_t size_bytes = 0;
  std::string sha256_hex;
};

// Validates and normalises an upload's metadata (field names as in UploadFileMetadata), the first
// check of BeginUpload: INVALID_ARGUMENT "metadata.<field>: ..." for a malformed field,
// RESOURCE_EXHAUSTED "metadata.size_bytes: ..." above `max_file_bytes`; no message repeats a
// value. File name and content type must be UTF-8 (the FileRef the upload attaches is validated
// as a record). Fills in the default content type and lower-cases sha256_hex.
absl::Status ValidateUploadMetadata(UploadMetadata& meta, int64_t max_file_bytes);

struct FileInfo {
  std::string blob_id;
  std::string space_id;
  int64_t size_bytes = 0;
  std::string sha256_hex;
  std::string content_type;
  std::string file_name;
  int chunk_count = 0;
  int64_t created_at_ms = 0;
};

struct UploadResult {
  FileInfo info;
  std::optional<domain::Revision> record;  // the attached record's new revision
  std::string session_token;               // of that revision's write (RecordService)
};

class FileService {
 public:
  using WallClockMs = std::function<int64_t()>;

  class Upload {
   public:
    ~Upload();
    Upload(const Upload&) = delete;
    Upload& operator=(const Upload&) = delete;

    // The next chunk of content. INVALID_ARGUMENT for an empty or oversized chunk or content
    // beyond the declared size; RESOURCE_EXHAUSTED when the process, or this user's uploads,
    // hold too much upload data.
    absl::Status AddChunk(std::string_view chunk);
    // Checks and stores (see the file comment). Call once, after the last chunk.
    absl::StatusOr<UploadResult> Finish();

   private:
    friend class FileService;
    Upload(FileService& owner, Caller caller, UploadMetadata meta, FileInfo info, bool exists);

    FileService& owner_;
    const Caller caller_;
    const UploadMetadata meta_;
    FileInfo info_;
    const bool exists_;  // the space already holds this content: hash, but keep nothing
    crypto::Sha256Stream sha_;
    int64_t received_ = 0;
    int64_t reserved_ = 0;  // bytes counted against max_buffered_bytes (and the user's share)
    std::vector<std::string> plain_chunks_;  // re-cut to 256 KiB, sealed by Finish()
  };

  // `registry` (may be null) receives the upload buffer metrics.
  FileService(FileServiceConfig config, repository::BlobRepository& blobs, SpaceAccess& access,
              RecordService& records, const crypto::Keyring& keyring, WallClockMs now_ms,
              prometheus::Registry* registry = nullptr);

  absl::StatusOr<std::unique_ptr<Upload>> BeginUpload(const Caller& caller, UploadMetadata meta);
  // The blob's description (reader role in its space; NOT_FOUND otherwise).
  absl::StatusOr<FileInfo> GetInfo(const Caller& caller, const std::string& blob_id);
  // Chunk `index` of a blob whose info the caller obtained with GetInfo.
  absl::StatusOr<std::string> ReadChunk(const FileInfo& info, int index);

  const FileServiceConfig& config() const { return config_; }

  // Upload content held now, in total and by one user.
  int64_t buffered_bytes() const;
  int64_t buffered_bytes(const std::string& subject) const;

 private:
  // Counts `bytes` more for `subject` against both bounds, or RESOURCE_EXHAUSTED naming the one
  // that would be exceeded.
  absl::Status Reserve(const std::string& subject, int64_t bytes);
  void Release(const std::string& subject, int64_t bytes);

  absl::StatusOr<std::string> BlobId(const std::string& space_id, const std::string& sha256_hex);
  absl::StatusOr<FileInfo> OpenInfo(const repository::StoredBlob& blob) const;

  const FileServiceConfig config_;
  repository::BlobRepository& blobs_;
  SpaceAccess& access_;
  RecordService& records_;
  const crypto::Keyring& keyring_;
  const WallClockMs now_ms_;
  const int64_t per_user_limit_;
  prometheus::Gauge* buffered_gauge_ = nullptr;
  prometheus::Counter* refused_user_ = nullptr;
  prometheus::Counter* refused_replica_ = nullptr;
  mutable std::mutex mu_;
  int64_t buffered_ = 0;                                       // guarded by mu_
  std::unordered_map<std::string, int64_t> buffered_by_user_;  // > 0 only; guarded by mu_
};

}  // namespace coffer::vault::service
