// When to rotate signing keys and which public keys to publish.
//
// Keys form a sequence by `generation`. The newest key signs; a key stops signing when its
// successor is created. A token signed by key K can be presented until K's successor was created
// plus `retention` (= the longest access-token lifetime + how long a replica may keep signing
// with a key before it notices the successor + clock leeway), so K stays published until then.
// After that nothing valid can carry K's `kid`, and K may be deleted.
//
// Pure; thread-safe.
#pragma once

#include <chrono>
#include <vector>

#include "services/identity/domain/model.h"

namespace coffer::identity {

struct KeySchedule {
  // Age at which the current key is replaced by a new one. 0 disables scheduled rotation.
  std::chrono::seconds rotation_interval{std::chrono::hours(24 * 30)};
  // How long a superseded key stays published (see the file comment).
  std::chrono::seconds retention{std::chrono::minutes(20)};
};

// The key to sign with: the highest generation; nullptr when `keys` is empty.
const SigningKey* CurrentKey(const std::vector<SigningKey>& keys);

// True when there is no key yet or the current one is at least `rotation_interval` old.
bool RotationDue(const std::vector<SigningKey>& keys, const KeySchedule& schedule, Time now);

// The keys whose tokens may still be valid at `now`, current (newest) key first, then by
// descending generation.
std::vector<SigningKey> PublishedKeys(const std::vector<SigningKey>& keys,
                                      const KeySchedule& schedule, Time now);

}  // namespace coffer::identity
