#include "services/identity/domain/key_schedule.h"

#include <algorithm>

namespace coffer::identity {

const SigningKey* CurrentKey(const std::vector<SigningKey>& keys, Time now) {
  const SigningKey* best = nullptr;
  const SigningKey* earliest = nullptr;
  for (const auto& k : keys) {
    if (k.ActivatesAt() <= now && (best == nullptr || k.generation > best->generation)) best = &k;
    if (earliest == nullptr || k.ActivatesAt() < earliest->ActivatesAt() ||
        (k.ActivatesAt() == earliest->ActivatesAt() && k.generation < earliest->generation)) {
      earliest = &k;
    }
  }
  return best != nullptr ? best : earliest;
}

const SigningKey* NextKey(const std::vector<SigningKey>& keys, Time now) {
  const SigningKey* current = CurrentKey(keys, now);
  if (current == nullptr) return nullptr;
  const SigningKey* next = nullptr;
  for (const auto& k : keys) {
    if (k.generation > current->generation &&
        (next == nullptr || k.generation > next->generation)) {
      next = &k;
    }
  }
  return next;
}

bool RotationDue(const std::vector<SigningKey>& keys, const KeySchedule& schedule, Time now) {
  const SigningKey* current = CurrentKey(keys, now);
  if (current == nullptr) return true;
  if (schedule.rotation_interval.count() <= 0) return false;
  if (NextKey(keys, now) != nullptr) return false;  // a rotation is already under way
  return now + schedule.prepublication >= current->ActivatesAt() + schedule.rotation_interval;
}

Time ActivationTimeForNewKey(const KeySchedule& schedule, Time now, bool first) {
  return first ? now : now + schedule.prepublication;
}

std::vector<PublishedKey> PublishedKeys(const std::vector<SigningKey>& keys,
                                        const KeySchedule& schedule, Time now) {
  const SigningKey* current = CurrentKey(keys, now);
  if (current == nullptr) return {};
  std::vector<SigningKey> sorted = keys;
  std::sort(sorted.begin(), sorted.end(),
            [](const SigningKey& a, const SigningKey& b) { return a.generation < b.generation; });
  std::vector<PublishedKey> out;
  out.push_back(PublishedKey{*current, KeyState::kCurrent});
  for (const auto& k : sorted) {
    if (k.generation > current->generation) out.push_back(PublishedKey{k, KeyState::kNext});
  }
  for (std::size_t i = sorted.size(); i-- > 0;) {
    if (sorted[i].generation >= current->generation) continue;
    // sorted[i + 1] exists (current is newer) and is the successor of sorted[i]: sorted[i]
    // stopped signing when it activated.
    const Time superseded_at = sorted[i + 1].ActivatesAt();
    if (now < superseded_at + schedule.retention) {
      out.push_back(PublishedKey{sorted[i], KeyState::kRetired});
    }
  }
  return out;
}

std::chrono::seconds KeyRetention(std::chrono::seconds access_token_ttl,
                                  std::chrono::seconds reload_interval,
                                  std::chrono::seconds clock_leeway) {
  return access_token_ttl + reload_interval + clock_leeway + std::chrono::seconds(60);
}

std::chrono::seconds KeyMaintenancePeriod(std::chrono::seconds reload_interval) {
  return std::min<std::chrono::seconds>(reload_interval, std::chrono::seconds(10));
}

bool PrepublicationTooShort(std::chrono::seconds prepublication,
                            std::chrono::seconds reload_interval) {
  return prepublication.count() > 0 &&
         prepublication <= reload_interval + KeyMaintenancePeriod(reload_interval);
}

}  // namespace coffer::identity
