// When to rotate signing keys, which key signs, and which public keys to publish.
//
// Keys form a sequence by `generation`. Each key has two times: `created_at`, from which it is
// published (in the JWKS), and `activates_at`, from which it signs. A rotation creates the next
// key with activates_at = created_at + `prepublication`, so for that long the key is "next":
// published, but not yet signing. Verifiers (the vaults) that fetched the JWKS in that window
// already know the kid when the first token carries it; the others see a kid they have never seen
// and may refetch at once (pkg/auth TokenVerifier). The first key of an installation signs at
// once: no token exists yet that a verifier could fail to check.
//
// The signing ("current") key is the newest key whose activation time has come. A key stops
// signing when its successor activates. A token signed by key K can be presented until K's
// successor activated plus `retention` (= the longest access-token lifetime + how long a replica
// may keep signing with a key before it notices the successor + clock leeway), so K stays
// published until then. After that nothing valid can carry K's `kid`, and K may be deleted.
//
// Pure; thread-safe.
#pragma once

#include <chrono>
#include <vector>

#include "services/identity/domain/model.h"

namespace coffer::identity {

struct KeySchedule {
  // Age (counted from activation) at which the current key is replaced by the next one. 0
  // disables scheduled rotation.
  std::chrono::seconds rotation_interval{std::chrono::hours(24 * 30)};
  // How long a superseded key stays published after its successor activated (file comment).
  std::chrono::seconds retention{std::chrono::minutes(20)};
  // How long a rotated key is published before it signs. Must exceed how long a replica may go
  // without reloading keys (so every replica publishes the key before any signs with it) and the
  // verifiers' JWKS refetch interval. 0 = a rotated key signs at once.
  std::chrono::seconds prepublication{60};
};

// What a key is doing at some instant.
enum class KeyState {
  kNext,     // published, will sign from its activation time on
  kCurrent,  // signs new tokens
  kRetired,  // superseded; published while tokens it signed may still be valid
};

// A key and what it is doing at the instant PublishedKeys was asked about.
struct PublishedKey {
  SigningKey key;
  KeyState state = KeyState::kCurrent;
};

// The key to sign with at `now`: the highest generation whose activation time has come. When no
// key is active yet (a replica whose clock runs behind the one that created the first key), the
// earliest-activating key, so that a replica never stops issuing tokens. nullptr when `keys` is
// empty.
const SigningKey* CurrentKey(const std::vector<SigningKey>& keys, Time now);

// A key newer than the current one (created but not yet signing), if any; the newest of them.
const SigningKey* NextKey(const std::vector<SigningKey>& keys, Time now);

// True when there is no key yet, or when no next key exists and the current key will be
// `rotation_interval` old (since its activation) within `prepublication`, i.e. the next key must
// be created now to activate on time.
bool RotationDue(const std::vector<SigningKey>& keys, const KeySchedule& schedule, Time now);

// The activation time of a key created at `now` by a rotation (`first` = the installation has no
// key yet, so it signs at once).
Time ActivationTimeForNewKey(const KeySchedule& schedule, Time now, bool first);

// The keys a verifier may meet at `now`: the current key first, then next keys (ascending
// generation), then retired keys whose tokens may still be valid (descending generation).
std::vector<PublishedKey> PublishedKeys(const std::vector<SigningKey>& keys,
                                        const KeySchedule& schedule, Time now);

// KeySchedule::retention for a deployment: a replica may sign with a superseded key for one
// `reload_interval` after its successor activated (it learns of the successor that late); such a
// token lives `access_token_ttl` and is accepted `clock_leeway` longer; plus a minute's margin.
std::chrono::seconds KeyRetention(std::chrono::seconds access_token_ttl,
                                  std::chrono::seconds reload_interval,
                                  std::chrono::seconds clock_leeway);

// How often a replica's maintenance looks at its keys: every `reload_interval`, at least every
// 10 s.
std::chrono::seconds KeyMaintenancePeriod(std::chrono::seconds reload_interval);

// True when pre-publication is on but not longer than a replica may take to load a new key
// (`reload_interval` plus one KeyMaintenancePeriod): a replica may then sign with a new key before
// another replica publishes it.
bool PrepublicationTooShort(std::chrono::seconds prepublication,
                            std::chrono::seconds reload_interval);

}  // namespace coffer::identity
