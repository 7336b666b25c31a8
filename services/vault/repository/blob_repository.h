// BlobRepository: the stored form of FileService blobs (migration V006): one row per blob and
// its chunks, every secret part an envelope sealed by the service (service/file_service.h).
//
// Threading: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace coffer::vault::repository {

// Stored chunks hold exactly this many plaintext bytes, the last one of a blob fewer.
inline constexpr size_t kBlobChunkBytes = 256 * 1024;

// A blob as stored: plaintext bookkeeping plus the sealed description.
struct StoredBlob {
  std::string blob_id;
  std::string space_id;
  int64_t size_bytes = 0;
  int chunk_count = 0;
  std::string key_id;   // KEK id of the envelopes
  std::string info_ct;  // envelope of the file name, content type and SHA-256
  int64_t created_at_ms = 0;
};

class BlobRepository {
 public:
  virtual ~BlobRepository() = default;

  // Stores the blob and its chunks (chunk i = chunks[i]) in one transaction. Returns false,
  // storing nothing, when a blob with this id already exists (the same content, as ids are
  // content-addressed).
  virtual absl::StatusOr<bool> Insert(const StoredBlob& blob,
                                      const std::vector<std::string>& chunks) = 0;

  // The blob, or nullopt.
  virtual absl::StatusOr<std::optional<StoredBlob>> Get(const std::string& blob_id) = 0;

  // Chunk `index` of the blob (its envelope), or nullopt.
  virtual absl::StatusOr<std::optional<std::string>> GetChunk(const std::string& blob_id,
                                                              int index) = 0;
};

}  // namespace coffer::vault::repository
