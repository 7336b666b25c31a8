// Conversions between the wire protos (coffer.vault.v1) and the domain types.
//
// Why one file: handlers stay three lines long, and the rules for decoding input (type must
// match the payload case, output-only fields ignored) are written once and unit-tested. The
// record-type enum mapping alone lives in wire/record_type.h, shared with the event codec.
//
// Pure functions; thread-safe.
#pragma once

#include "absl/status/statusor.h"
#include "coffer/vault/v1/files.pb.h"
#include "coffer/vault/v1/records.pb.h"
#include "coffer/vault/v1/spaces.pb.h"
#include "services/vault/domain/record.h"
#include "services/vault/service/file_service.h"
#include "services/vault/service/space_service.h"

namespace coffer::vault::transport {

// Reads the writable fields of `record` (type, name, metadata, payload). INVALID_ARGUMENT
// "record.type: ..." when the type is unset or does not match the payload case. Field-level
// validation is the service's (domain::ValidateAndNormalize).
absl::StatusOr<domain::RecordContent> ContentFromProto(const v1::Record& record);

// Fills every field of `out` from a revision (purged tombstones get no payload).
void RevisionToProto(const domain::Revision& revision, v1::Record* out);

void SpaceToProto(const service::SpaceInfo& space, v1::Space* out);

// The metadata of an upload's first message, as FileService::BeginUpload takes it.
// INVALID_ARGUMENT when expected_version or size_bytes does not fit an int64.
absl::StatusOr<service::UploadMetadata> UploadMetadataFromProto(const v1::UploadFileMetadata& m);

void FileInfoToProto(const service::FileInfo& info, v1::FileInfo* out);

}  // namespace coffer::vault::transport
