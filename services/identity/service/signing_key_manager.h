// Owns the service's Ed25519 signing keys: creates them, seals their private halves under the
// KEK, rotates them on schedule and on demand, and answers "which key signs now" and "which
// public keys are published".
//
// Pre-publication (KeySchedule): a rotation creates the next key, which is published at once but
// signs only from its stored activation time (creation + prepublication) on. Every replica reads
// that time from the database, so all switch at the same instant without talking to each other;
// the switch needs no reload, only the clock. The first key of a fresh installation signs at
// once.
//
// Multi-replica behaviour: keys live in the database; every replica caches them and reloads every
// `reload_interval` (and on an unknown kid, at most once per second). Rotation inserts generation
// newest+1, which is unique: when several replicas rotate at once, one insert wins and every
// replica reloads and uses the winner's key (see SigningKeyRepository). A replica that has not
// reloaded since the next key was created does not know it; with prepublication longer than
// reload_interval every replica has loaded it before it activates. Otherwise a replica may keep
// signing with the previous key until its next reload, which KeySchedule::retention covers.
//
// It is also the auth::KeySource through which this service verifies its own access tokens
// (AccessTokens, pkg/auth TokenVerifier): PublicKey() answers for every published key.
//
// Lifecycle: construct, call Init() once (loads keys, creating the first one if there is none),
// then call Tick() periodically from one maintenance thread. Threading: every method is
// thread-safe (one mutex guards the cache; database calls for rotation run under it, which is
// rare and keeps two local rotations from racing each other).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/auth/clock.h"
#include "pkg/auth/key_source.h"
#include "pkg/crypto/ed25519.h"
#include "pkg/crypto/keyring.h"
#include "services/identity/domain/key_schedule.h"
#include "services/identity/repository/signing_key_repository.h"
#include "services/identity/service/identity_metrics.h"

namespace coffer::identity {

class SigningKeyManager final : public auth::KeySource {
 public:
  // The key new tokens are signed with, and its kid for the JWT header.
  struct Signer {
    std::string kid;
    crypto::Ed25519PrivateKey key;
  };

  // One published key, as the JWKS shows it (plus what it is doing, which the JWKS omits).
  struct PublicKeyInfo {
    std::string kid;
    std::string raw_public_key;  // 32 bytes
    KeyState state = KeyState::kCurrent;
    Time activates_at;
  };

  // `metrics` may be null (tests). All references must outlive the manager.
  SigningKeyManager(SigningKeyRepository& repository, const crypto::Keyring& keyring,
                    const auth::Clock& clock, KeySchedule schedule,
                    std::chrono::seconds reload_interval, IdentityMetrics* metrics);

  // Loads the keys and creates the first one when the database has none.
  absl::Status Init();

  // Maintenance step: reloads when the cache is older than reload_interval, rotates when the
  // current key is older than the rotation interval, and deletes keys nobody can need anymore.
  absl::Status Tick();

  // Starts a rotation: creates the next key, published at once and signing from now +
  // prepublication on (at once when prepublication is 0). Returns the kid of the key that signs
  // next. When a next key already exists (an earlier call, the schedule, or another replica
  // rotating at the same instant), returns that key's kid instead of creating another.
  absl::StatusOr<std::string> Rotate();

  // The key to sign new tokens with. FAILED_PRECONDITION before Init().
  absl::StatusOr<Signer> CurrentSigner();

  // The public key with this kid, if it is still published (reloading at most once a second on
  // a miss, in case another replica rotated). NOT_FOUND otherwise; a failed reload's error.
  absl::StatusOr<crypto::Ed25519PublicKey> PublicKey(std::string_view kid) override;

  // Published keys: current first, then the next key (if a rotation is under way), then
  // retired keys whose tokens may still be valid.
  std::vector<PublicKeyInfo> PublishedKeys();

  // The RFC 7638 JWK thumbprint of an Ed25519 public key; used as the kid.
  static std::string Thumbprint(std::string_view raw_public_key);

 private:
  struct CachedKey {
    SigningKey stored;
    std::optional<crypto::Ed25519PrivateKey> private_key;  // absent if its KEK is gone
    crypto::Ed25519PublicKey public_key;
  };

  absl::Status ReloadLocked();
  // Inserts generation newest+1, activating at once when `first`, else after prepublication;
  // false when another replica won the race.
  absl::StatusOr<bool> CreateNextKeyLocked(bool first);
  const CachedKey* CurrentLocked(Time now) const;
  const CachedKey* NextLocked(Time now) const;
  const CachedKey* CachedByKid(std::string_view kid) const;
  std::vector<SigningKey> StoredLocked() const;

  SigningKeyRepository& repository_;
  const crypto::Keyring& keyring_;
  const auth::Clock& clock_;
  const KeySchedule schedule_;
  const std::chrono::seconds reload_interval_;
  IdentityMetrics* const metrics_;

  std::mutex mu_;
  std::vector<CachedKey> keys_;  // ascending generation
  std::chrono::system_clock::time_point loaded_at_{};
  std::chrono::system_clock::time_point last_miss_reload_{};
  bool initialized_ = false;
};

}  // namespace coffer::identity
