#include "services/vault/domain/merge.h"

namespace coffer::vault::domain {

RevisionStamp NextLocalStamp(const std::vector<RevisionStamp>& siblings, const std::string& shard,
                             Hlc& hlc) {
  RevisionStamp next;
  uint64_t max_hlc = 0;
  for (const RevisionStamp& s : siblings) {
    next.vector.MergeFrom(s.vector);
    next.version = std::max(next.version, s.version);
    max_hlc = std::max(max_hlc, s.hlc);
  }
  next.vector.Increment(shard);
  next.version += 1;
  next.hlc = hlc.Observe(max_hlc);
  next.origin_shard = shard;
  return next;
}

}  // namespace coffer::vault::domain
