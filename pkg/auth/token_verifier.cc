#include "pkg/auth/token_verifier.h"

#include <algorithm>

#include "pkg/crypto/hash.h"
#include "pkg/status/status.h"

namespace coffer::auth {
namespace {

absl::Status Reject(std::string_view reason) {
  return absl::UnauthenticatedError("invalid token: " + std::string(reason));
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(TokenVerifierOptions options,
                                                                     JwksSource& jwks,
                                                                     const Clock& clock,
                                                                     Introspector* introspector) {
  if (options.issuer.empty()) return absl::InvalidArgumentError("token verifier: empty issuer");
  if (options.audience.empty()) {
    return absl::InvalidArgumentError("token verifier: empty audience");
  }
  if (options.leeway < absl::ZeroDuration() ||
      options.jwks_min_refetch_interval < absl::ZeroDuration() ||
      options.jwks_max_age < absl::ZeroDuration() || options.cache_ttl < absl::ZeroDuration() ||
      options.introspection_cache_ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("token verifier: durations must not be negative");
  }
  return std::unique_ptr<TokenVerifier>(
      new TokenVerifier(std::move(options), jwks, clock, introspector));
}

TokenVerifier::TokenVerifier(TokenVerifierOptions options, JwksSource& jwks, const Clock& clock,
                             Introspector* introspector)
    : options_(std::move(options)), jwks_(jwks), clock_(clock), introspector_(introspector) {}

TokenVerifier::Stats TokenVerifier::stats() const {
  Stats s;
  s.cache_hits = cache_hits_.load();
  s.signature_checks = signature_checks_.load();
  s.jwks_fetches = jwks_fetches_.load();
  s.introspections = introspections_.load();
  s.stale_introspections = stale_introspections_.load();
  return s;
}

absl::StatusOr<VerifiedToken> TokenVerifier::Verify(std::string_view token) {
  if (token.empty() || token.size() > options_.max_token_bytes) {
    return Reject("malformed (empty or too long)");
  }
  const absl::Time now = clock_.Now();
  const std::string cache_key = crypto::Sha256(token);

  // 1. Cache lookup (copy out, so the lock is not held during introspection).
  std::optional<CacheEntry> entry;
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(cache_key);
    if (it != cache_.end()) {
      if (it->second.first.expires_at > now) {
        lru_.splice(lru_.begin(), lru_, it->second.second);
        entry = it->second.first;
      } else {
        lru_.erase(it->second.second);
        cache_.erase(it);
      }
    }
  }
  const bool hit = entry.has_value();
  if (hit) {
    ++cache_hits_;
  } else {
    COFFER_ASSIGN_OR_RETURN(VerifiedToken verified, VerifyUncached(token, now));
    entry.emplace();
    entry->token = std::move(verified);
    const absl::Time exp_limit = absl::FromUnixSeconds(*entry->token.claims.exp) + options_.leeway;
    entry->expires_at = std::min(exp_limit, now + options_.cache_ttl);
  }

  // 2. Introspection, if configured and the cached answer is stale.
  bool introspected = false;
  if (introspector_ != nullptr &&
      (!hit || now - entry->introspected_at >= options_.introspection_cache_ttl)) {
    ++introspections_;
    absl::StatusOr<bool> active = introspector_->IsActive(token);
    // Only an outage keeps the last answer (identity down or too slow); any other failure,
    // such as identity refusing the call, never extends a token's life.
    const bool outage =
        absl::IsUnavailable(active.status()) || absl::IsDeadlineExceeded(active.status());
    const bool stale_ok = outage && hit && entry->introspected_at != absl::InfinitePast() &&
                          now - entry->introspected_at < options_.introspection_stale_if_error;
    if (!active.ok() && !stale_ok) {
      return status::Annotate(active.status(), "token introspection failed");
    }
    if (active.ok()) {
      entry->active = *active;
      entry->introspected_at = now;
      introspected = true;
    } else {
      ++stale_introspections_;  // keep the last answer a little longer
    }
  }

  // 3. Remember the outcome.
  if (!hit || introspected) {
    absl::MutexLock lock(&mu_);
    CacheInsert(cache_key, *entry);
  }
  if (introspector_ != nullptr && !entry->active) return Reject("inactive (revoked)");
  return std::move(entry->token);
}

absl::StatusOr<VerifiedToken> TokenVerifier::VerifyUncached(std::string_view token,
                                                            absl::Time now) {
  auto decoded = DecodeUnverified(token);
  if (!decoded.ok()) {
    // DecodeUnverified's messages describe structure only ("malformed token: ...").
    return Reject(std::string(decoded.status().message()));
  }
  if (decoded->alg != kJwtAlgEdDsa) return Reject("unsupported alg");
  if (decoded->header.contains("crit")) return Reject("unsupported critical header");
  if (decoded->kid.empty()) return Reject("malformed token: header has no \"kid\"");

  COFFER_ASSIGN_OR_RETURN(crypto::Ed25519PublicKey key, FindKey(decoded->kid, now));
  ++signature_checks_;
  if (!key.Verify(decoded->signing_input, decoded->signature)) return Reject("bad signature");

  const Claims& c = decoded->claims;
  if (!c.exp) return Reject("malformed token: no \"exp\" claim");
  if (now >= absl::FromUnixSeconds(*c.exp) + options_.leeway) return Reject("expired");
  if (c.nbf && now < absl::FromUnixSeconds(*c.nbf) - options_.leeway) {
    return Reject("not yet valid");
  }
  if (c.iss != options_.issuer) return Reject("wrong issuer");
  if (std::find(c.aud.begin(), c.aud.end(), options_.audience) == c.aud.end()) {
    return Reject("wrong audience");
  }
  VerifiedToken out;
  out.claims = std::move(decoded->claims);
  out.kid = std::move(decoded->kid);
  return out;
}

absl::StatusOr<crypto::Ed25519PublicKey> TokenVerifier::FindKey(const std::string& kid,
                                                                absl::Time now) {
  bool known = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = keys_.find(kid);
    known = it != keys_.end();
    if (known && now - keys_fetched_at_ < options_.jwks_max_age) return it->second;
  }
  // Unknown kid (rotation?) or stale keys: refetch if the rate limit allows.
  const absl::Status fetched = MaybeRefetch(now, /*force=*/false);
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(kid);
  if (it != keys_.end()) return it->second;
  if (!fetched.ok() && !known) {
    // We could not learn the key: an outage, not the caller's fault.
    return status::Annotate(fetched, "fetching JWKS");
  }
  return Reject("unknown signing key");
}

absl::Status TokenVerifier::MaybeRefetch(absl::Time now, bool force) {
  absl::MutexLock fetch_lock(&fetch_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (!force && now - last_fetch_attempt_ < options_.jwks_min_refetch_interval) {
      return last_fetch_status_;  // rate limited: report how the last attempt went
    }
    last_fetch_attempt_ = now;
  }
  ++jwks_fetches_;
  absl::StatusOr<JwkSet> set = jwks_.Fetch();
  absl::Status result = set.status();
  std::map<std::string, crypto::Ed25519PublicKey, std::less<>> keys;
  if (set.ok()) {
    for (const Jwk& jwk : set->keys) {
      if (jwk.kid.empty()) continue;  // tokens must name their key
      auto key = jwk.PublicKey();
      if (key.ok()) keys.emplace(jwk.kid, *std::move(key));
    }
  }
  absl::MutexLock lock(&mu_);
  last_fetch_status_ = result;
  if (set.ok()) {
    keys_ = std::move(keys);
    keys_fetched_at_ = now;
  }
  return result;
}

absl::Status TokenVerifier::RefreshKeys() { return MaybeRefetch(clock_.Now(), /*force=*/true); }

void TokenVerifier::CacheInsert(const std::string& key, CacheEntry entry) {
  if (options_.cache_max_entries == 0) return;
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    it->second.first = std::move(entry);
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return;
  }
  while (cache_.size() >= options_.cache_max_entries && !lru_.empty()) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  cache_.emplace(key, std::make_pair(std::move(entry), lru_.begin()));
}

}  // namespace coffer::auth
