#include "services/vault/service/file_ref_checker.h"

#include <optional>

#include "pkg/status/status.h"
#include "services/vault/domain/ids.h"
#include "services/vault/domain/validation.h"

namespace coffer::vault::service {

absl::Status BlobFileRefChecker::Check(const std::string& space_id,
                                       const domain::FilePayload& file) const {
  if (!domain::IsUuid(file.blob_id)) {
    return domain::FieldError("record.file.blob_id", "not a UUID (a blob id from UploadFile)");
  }
  COFFER_ASSIGN_OR_RETURN(std::optional<repository::StoredBlob> blob,
                          blobs_.Get(domain::CanonicalUuid(file.blob_id)));
  if (!blob || blob->space_id != space_id) {
    return domain::FieldError("record.file.blob_id",
                              "no uploaded file with this id in the record's space");
  }
  if (file.size != 0 && file.size != static_cast<uint64_t>(blob->size_bytes)) {
    return domain::FieldError("record.file.size_bytes", "differs from the uploaded file's size");
  }
  return absl::OkStatus();
}

}  // namespace coffer::vault::service
