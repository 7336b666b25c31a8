#include "services/identity/service/signing_key_manager.h"

#include <algorithm>
#include <utility>

#include "absl/time/time.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"
#include "pkg/log/log.h"
#include "pkg/status/status.h"

namespace coffer::identity {
namespace {

// KEK derivation context and AAD prefix of sealed private keys: a sealed key cannot be moved to
// another purpose or another kid.
constexpr char kSealContext[] = "coffer.identity.signing-key.v1";

Time Now(const auth::Clock& clock) { return absl::ToChronoTime(clock.Now()); }

const log::Logger& Log() {
  static const log::Logger logger("signing_keys");
  return logger;
}

}  // namespace

SigningKeyManager::SigningKeyManager(SigningKeyRepository& repository,
                                     const crypto::Keyring& keyring, const auth::Clock& clock,
                                     KeySchedule schedule, std::chrono::seconds reload_interval,
                                     IdentityMetrics* metrics)
    : repository_(repository),
      keyring_(keyring),
      clock_(clock),
      schedule_(schedule),
      reload_interval_(reload_interval),
      metrics_(metrics) {}

std::string SigningKeyManager::Thumbprint(std::string_view raw_public_key) {
  // RFC 7638 §3.2: required members in lexicographic order, no whitespace.
  const std::string canonical =
      R"({"crv":"Ed25519","kty":"OKP","x":")" + crypto::Base64UrlEncode(raw_public_key) + R"("})";
  return crypto::Base64UrlEncode(crypto::Sha256(canonical));
}

absl::Status SigningKeyManager::Init() {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_RETURN_IF_ERROR(ReloadLocked());
  if (keys_.empty()) {
    // First start against this database: the first key signs at once (no verifier can hold a
    // token it fails to check). Replicas starting together race on generation 1.
    COFFER_ASSIGN_OR_RETURN(bool created, CreateNextKeyLocked(/*first=*/true));
    if (created && metrics_ != nullptr) metrics_->key_rotation_initial.Increment();
    COFFER_RETURN_IF_ERROR(ReloadLocked());
  }
  const Time now = Now(clock_);
  const CachedKey* current = CurrentLocked(now);
  const CachedKey* next = NextLocked(now);
  if (current == nullptr || !current->private_key || (next != nullptr && !next->private_key)) {
    // A misconfigured KEK must not make this replica mint a key the others cannot use, nor run
    // until the next key activates and only then fail.
    return absl::FailedPreconditionError(
        "the current or next signing key cannot be opened with the configured KEK (was a KEK "
        "removed?)");
  }
  initialized_ = true;
  return absl::OkStatus();
}

absl::Status SigningKeyManager::Tick() {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = Now(clock_);
  if (now - loaded_at_ >= reload_interval_) COFFER_RETURN_IF_ERROR(ReloadLocked());
  if (RotationDue(StoredLocked(), schedule_, now)) {
    COFFER_ASSIGN_OR_RETURN(bool created, CreateNextKeyLocked(/*first=*/keys_.empty()));
    if (created && metrics_ != nullptr) metrics_->key_rotation_scheduled.Increment();
    COFFER_RETURN_IF_ERROR(ReloadLocked());
  }
  // Keys superseded more than `retention` ago verify nothing valid anymore. Keep a day of slack
  // so that an operator can still investigate a recently retired key.
  COFFER_RETURN_IF_ERROR(
      repository_.DeleteSupersededBefore(now - schedule_.retention - std::chrono::hours(24)));
  return absl::OkStatus();
}

absl::StatusOr<std::string> SigningKeyManager::Rotate() {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_RETURN_IF_ERROR(ReloadLocked());  // rotate from the newest generation any replica made
  if (const CachedKey* next = NextLocked(Now(clock_))) return next->stored.kid;
  COFFER_ASSIGN_OR_RETURN(bool created, CreateNextKeyLocked(/*first=*/keys_.empty()));
  if (created && metrics_ != nullptr) metrics_->key_rotation_manual.Increment();
  COFFER_RETURN_IF_ERROR(ReloadLocked());
  // The key that signs next: the new key while it is pre-published, or (prepublication 0) the
  // current key, which it already is.
  const Time now = Now(clock_);
  const CachedKey* next = NextLocked(now);
  if (next == nullptr) next = CurrentLocked(now);
  if (next == nullptr) return absl::InternalError("no signing key after rotation");
  return next->stored.kid;
}

absl::StatusOr<SigningKeyManager::Signer> SigningKeyManager::CurrentSigner() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!initialized_) return absl::FailedPreconditionError("signing keys are not loaded");
  const CachedKey* current = CurrentLocked(Now(clock_));
  if (current == nullptr || !current->private_key) {
    return absl::FailedPreconditionError("no usable signing key");
  }
  return Signer{current->stored.kid, *current->private_key};
}

absl::StatusOr<crypto::Ed25519PublicKey> SigningKeyManager::PublicKey(std::string_view kid) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = Now(clock_);
  auto find = [&]() -> const CachedKey* {
    for (const auto& p : identity::PublishedKeys(StoredLocked(), schedule_, now)) {
      if (p.key.kid == kid) return CachedByKid(kid);
    }
    return nullptr;
  };
  const CachedKey* found = find();
  if (found == nullptr && now - last_miss_reload_ >= std::chrono::seconds(1)) {
    // Maybe another replica rotated since our last reload.
    last_miss_reload_ = now;
    COFFER_RETURN_IF_ERROR(ReloadLocked());
    found = find();
  }
  if (found == nullptr) return absl::NotFoundError("unknown signing key");
  return found->public_key;
}

std::vector<SigningKeyManager::PublicKeyInfo> SigningKeyManager::PublishedKeys() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PublicKeyInfo> out;
  for (const auto& p : identity::PublishedKeys(StoredLocked(), schedule_, Now(clock_))) {
    out.push_back(PublicKeyInfo{p.key.kid, p.key.public_key, p.state, p.key.ActivatesAt()});
  }
  return out;
}

absl::Status SigningKeyManager::ReloadLocked() {
  COFFER_ASSIGN_OR_RETURN(std::vector<SigningKey> stored, repository_.List());
  std::vector<CachedKey> loaded;
  loaded.reserve(stored.size());
  for (auto& s : stored) {
    auto pub = crypto::Ed25519PublicKey::FromRaw(s.public_key);
    if (!pub.ok()) {
      Log().Error("stored signing key has a malformed public key", {{"kid", s.kid}});
      continue;
    }
    std::optional<crypto::Ed25519PrivateKey> priv;
    auto seed = crypto::OpenWithKeyring(keyring_, kSealContext, s.sealed_private_key, s.kid);
    if (seed.ok()) {
      auto key = crypto::Ed25519PrivateKey::FromSeed(*seed);
      if (key.ok() && key->PublicKey().Raw() == s.public_key) priv = *std::move(key);
    }
    if (!priv) {
      // Still publishable (the public key is not secret), but this replica cannot sign with it.
      Log().Warn("cannot open signing key with the configured KEK", {{"kid", s.kid}});
    }
    loaded.push_back(CachedKey{std::move(s), std::move(priv), *std::move(pub)});
  }
  keys_ = std::move(loaded);
  loaded_at_ = Now(clock_);
  return absl::OkStatus();
}

absl::StatusOr<bool> SigningKeyManager::CreateNextKeyLocked(bool first) {
  COFFER_ASSIGN_OR_RETURN(crypto::Ed25519PrivateKey key, crypto::Ed25519PrivateKey::Generate());
  const Time now = Now(clock_);
  SigningKey k;
  k.public_key = key.PublicKey().Raw();
  k.kid = Thumbprint(k.public_key);
  k.generation = keys_.empty() ? 1 : keys_.back().stored.generation + 1;
  k.created_at = now;
  k.activates_at = ActivationTimeForNewKey(schedule_, now, first);
  COFFER_ASSIGN_OR_RETURN(k.sealed_private_key,
                          crypto::SealWithKeyring(keyring_, kSealContext, key.Seed(), k.kid));
  COFFER_ASSIGN_OR_RETURN(bool inserted, repository_.Insert(k));
  if (inserted) {
    const auto delay =
        std::chrono::duration_cast<std::chrono::seconds>(k.ActivatesAt() - now).count();
    Log().Info("signing key created", {{"kid", k.kid},
                                       {"generation", static_cast<int64_t>(k.generation)},
                                       {"signs_in_seconds", static_cast<int64_t>(delay)}});
  }
  return inserted;
}

std::vector<SigningKey> SigningKeyManager::StoredLocked() const {
  std::vector<SigningKey> stored;
  stored.reserve(keys_.size());
  for (const auto& k : keys_) stored.push_back(k.stored);
  return stored;
}

const SigningKeyManager::CachedKey* SigningKeyManager::CachedByKid(std::string_view kid) const {
  for (const auto& k : keys_) {
    if (k.stored.kid == kid) return &k;
  }
  return nullptr;
}

const SigningKeyManager::CachedKey* SigningKeyManager::CurrentLocked(Time now) const {
  const std::vector<SigningKey> stored = StoredLocked();
  const SigningKey* current = CurrentKey(stored, now);
  return current == nullptr ? nullptr : CachedByKid(current->kid);
}

const SigningKeyManager::CachedKey* SigningKeyManager::NextLocked(Time now) const {
  const std::vector<SigningKey> stored = StoredLocked();
  const SigningKey* next = NextKey(stored, now);
  return next == nullptr ? nullptr : CachedByKid(next->kid);
}

}  // namespace coffer::identity
