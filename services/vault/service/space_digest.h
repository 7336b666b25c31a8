// The digest AdminService.GetSpaceDigest answers for a space (the convergence test compares it
// across shards): the records' digest (RecordService::SpaceDigest) and, because membership is
// part of a shared space's state (docs/architecture.md §3a), its registers' digest
// (SpaceService::MembershipDigest) folded in. A personal space's digest is the records' alone.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "services/vault/service/record_service.h"
#include "services/vault/service/space_service.h"

namespace coffer::vault::service {

struct SpaceStateDigest {
  std::string hex;  // lowercase hex SHA-256
  uint64_t record_count = 0;
};

// INVALID_ARGUMENT "space_id: not a UUID" for a malformed id; otherwise the services' errors.
absl::StatusOr<SpaceStateDigest> ComputeSpaceStateDigest(RecordService& records,
                                                         SpaceService& spaces,
                                                         const std::string& space_id);

}  // namespace coffer::vault::service
