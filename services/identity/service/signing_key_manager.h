// Owns the service's Ed25519 signing keys: creates them, seals their private halves under the
// KEK, rotates them on schedule and on demand, and answers "which key signs now" and "which
// public keys are published".
//
// Multi-replica behaviour: keys live in the database; every replica caches them and reloads every
// `reload_interval` (and on an unknown kid, at most once per second). Rotation inserts generation
// current+1, which is unique: when several replicas rotate at once, one insert wins and every
// replica reloads and uses the winner's key (see SigningKeyRepository). A replica may keep signing
// with the previous key until its next reload, which KeySchedule::retention must cover.
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
#include "pkg/crypto/ed25519.h"
#include "pkg/crypto/keyring.h"
#include "services/identity/domain/key_schedule.h"
#include "services/identity/repository/signing_key_repository.h"
#include "services/identity/service/identity_metrics.h"

namespace coffer::identity {

class SigningKeyManager {
 public:
  struct Signer {
    std::string kid;
    crypto::Ed25519PrivateKey key;
  };

  // One published key, as the JWKS shows it.
  struct PublicKeyInfo {
    std::string kid;
    std::string raw_public_key;  // 32 bytes
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

  // Creates a new key now and makes it current; returns its kid (the winner's kid if another
  // replica rotated at the same instant).
  absl::StatusOr<std::string> Rotate();

  // The key to sign new tokens with. FAILED_PRECONDITION before Init().
  absl::StatusOr<Signer> CurrentSigner();

  // The public key with this kid, if it is still published (reloading once on a miss).
  // NOT_FOUND otherwise.
  absl::StatusOr<crypto::Ed25519PublicKey> PublicKey(std::string_view kid);

  // Published keys, current first.
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
  // Inserts generation current+1; false when another replica won the race.
  absl::StatusOr<bool> CreateNextKeyLocked();
  const CachedKey* CurrentLocked() const;

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
