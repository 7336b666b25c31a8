// FileRefChecker: checks a FILE record's reference to uploaded content before RecordService
// stores it (a create, or an update that changes the blob id; a reference without a blob id,
// content not uploaded yet, is never checked).
//
// Why an interface: FileService calls RecordService (SpaceOf, AttachFile), so RecordService must
// not call FileService back; it asks this small rule instead, which BlobFileRefChecker answers
// from the blob store (the same one FileService writes).
//
// Threading: implementations are thread-safe.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "services/vault/domain/record.h"
#include "services/vault/repository/blob_repository.h"

namespace coffer::vault::service {

class FileRefChecker {
 public:
  virtual ~FileRefChecker() = default;

  // OK when a record of `space_id` may point at `file`; INVALID_ARGUMENT naming the field
  // ("record.file.blob_id", "record.file.size_bytes") otherwise.
  virtual absl::Status Check(const std::string& space_id,
                             const domain::FilePayload& file) const = 0;
};

// The rule against this shard's blobs: the blob id is a UUID of a blob uploaded to the record's
// own space, and a size, when given, is the blob's. Borrows `blobs`, which must outlive it.
class BlobFileRefChecker final : public FileRefChecker {
 public:
  explicit BlobFileRefChecker(repository::BlobRepository& blobs) : blobs_(blobs) {}

  absl::Status Check(const std::string& space_id, const domain::FilePayload& file) const override;

 private:
  repository::BlobRepository& blobs_;
};

}  // namespace coffer::vault::service
