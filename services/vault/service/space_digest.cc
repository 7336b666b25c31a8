#include "services/vault/service/space_digest.h"

#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"
#include "pkg/status/status.h"

namespace coffer::vault::service {

absl::StatusOr<SpaceStateDigest> ComputeSpaceStateDigest(RecordService& records,
                                                         SpaceService& spaces,
                                                         const std::string& space_id) {
  COFFER_ASSIGN_OR_RETURN(auto records_digest, records.SpaceDigest(space_id));
  SpaceStateDigest out{std::move(records_digest.first), records_digest.second};
  COFFER_ASSIGN_OR_RETURN(std::string membership, spaces.MembershipDigest(space_id));
  if (!membership.empty()) {
    out.hex = crypto::HexEncode(crypto::Sha256(out.hex + "|membership|" + membership));
  }
  return out;
}

}  // namespace coffer::vault::service
