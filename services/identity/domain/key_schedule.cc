#include "services/identity/domain/key_schedule.h"

#include <algorithm>

namespace coffer::identity {

const SigningKey* CurrentKey(const std::vector<SigningKey>& keys) {
  const SigningKey* best = nullptr;
  for (const auto& k : keys) {
    if (best == nullptr || k.generation > best->generation) best = &k;
  }
  return best;
}

bool RotationDue(const std::vector<SigningKey>& keys, const KeySchedule& schedule, Time now) {
  const SigningKey* current = CurrentKey(keys);
  if (current == nullptr) return true;
  if (schedule.rotation_interval.count() <= 0) return false;
  return now - current->created_at >= schedule.rotation_interval;
}

std::vector<SigningKey> PublishedKeys(const std::vector<SigningKey>& keys,
                                      const KeySchedule& schedule, Time now) {
  std::vector<SigningKey> sorted = keys;
  std::sort(sorted.begin(), sorted.end(),
            [](const SigningKey& a, const SigningKey& b) { return a.generation > b.generation; });
  std::vector<SigningKey> out;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (i == 0) {
      out.push_back(sorted[i]);  // the current key is always published
      continue;
    }
    // sorted[i - 1] is the successor of sorted[i]: sorted[i] stopped signing when it was created.
    const Time superseded_at = sorted[i - 1].created_at;
    if (now < superseded_at + schedule.retention) out.push_back(sorted[i]);
  }
  return out;
}

}  // namespace coffer::identity
