#include "pkg/auth/token_verifier.h"

#include <algorithm>

#include "pkg/crypto/hash.h"
#include "pkg/status/status.h"

namespace coffer::auth {
namespace {

// UNAUTHENTICATED "invalid token: <detail>", typed with `why` (token_rejection.h).
absl::Status Reject(TokenRejection why, std::string_view detail) {
  return TokenRejectedError(why, detail);
}

absl::Status ValidateOptions(const TokenVerifierOptions& options) {
  if (options.issuer.empty()) return absl::InvalidArgumentError("token verifier: empty issuer");
  if (options.audience.empty()) {
    return absl::InvalidArgumentError("token verifier: empty audience");
  }
  if (options.leeway < absl::ZeroDuration() ||
      options.jwks_min_refetch_interval < absl::ZeroDuration() ||
      options.jwks_unknown_kid_refetch_interval < absl::ZeroDuration() ||
      options.jwks_negative_cache_ttl < absl::ZeroDuration() ||
      options.jwks_max_age < absl::ZeroDuration() || options.cache_ttl < absl::ZeroDuration() ||
      options.introspection_cache_ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("token verifier: durations must not be negative");
  }
  return absl::OkStatus();
}

}  // namespace

JwksKeyCacheOptions TokenVerifierOptions::jwks_cache() const {
  JwksKeyCacheOptions o;
  o.min_refetch_interval = jwks_min_refetch_interval;
  o.unknown_kid_refetch_interval = jwks_unknown_kid_refetch_interval;
  o.negative_cache_ttl = jwks_negative_cache_ttl;
  o.negative_cache_max_entries = jwks_negative_cache_max_entries;
  o.max_age = jwks_max_age;
  return o;
}

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(TokenVerifierOptions options,
                                                                     JwksSource& jwks,
                                                                     const Clock& clock,
                                                                     Introspector* introspector) {
  COFFER_RETURN_IF_ERROR(ValidateOptions(options));
  auto cache = std::make_unique<JwksKeyCache>(options.jwks_cache(), jwks, clock);
  KeySource& keys = *cache;
  return std::unique_ptr<TokenVerifier>(
      new TokenVerifier(std::move(options), std::move(cache), keys, clock, introspector));
}

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(TokenVerifierOptions options,
                                                                     KeySource& keys,
                                                                     const Clock& clock,
                                                                     Introspector* introspector) {
  COFFER_RETURN_IF_ERROR(ValidateOptions(options));
  return std::unique_ptr<TokenVerifier>(
      new TokenVerifier(std::move(options), nullptr, keys, clock, introspector));
}

TokenVerifier::TokenVerifier(TokenVerifierOptions options, std::unique_ptr<JwksKeyCache> jwks_cache,
                             KeySource& keys, const Clock& clock, Introspector* introspector)
    : options_(std::move(options)),
      jwks_cache_(std::move(jwks_cache)),
      keys_(keys),
      clock_(clock),
      introspector_(introspector) {}

TokenVerifier::~TokenVerifier() = default;

TokenVerifier::Stats TokenVerifier::stats() const {
  Stats s;
  s.cache_hits = cache_hits_.load();
  s.signature_checks = signature_checks_.load();
  if (jwks_cache_ != nullptr) {
    const JwksKeyCache::Stats jwks = jwks_cache_->stats();
    s.jwks_fetches = jwks.fetches;
    s.jwks_fetch_failures = jwks.fetch_failures;
    s.negative_cache_hits = jwks.negative_cache_hits;
  }
  s.introspections = introspections_.load();
  s.stale_introspections = stale_introspections_.load();
  return s;
}

absl::Status TokenVerifier::CheckSize(std::string_view token) const {
  if (token.empty() || token.size() > options_.max_token_bytes) {
    return MalformedTokenError(MalformedPart::kSize, "malformed (empty or too long)");
  }
  return absl::OkStatus();
}

absl::StatusOr<VerifiedToken> TokenVerifier::VerifyIgnoringExpiry(std::string_view token) {
  COFFER_RETURN_IF_ERROR(CheckSize(token));
  return VerifyUncached(token, clock_.Now(), Expiry::kIgnore);
}

absl::StatusOr<VerifiedToken> TokenVerifier::Verify(std::string_view token) {
  COFFER_RETURN_IF_ERROR(CheckSize(token));
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
    COFFER_ASSIGN_OR_RETURN(VerifiedToken verified, VerifyUncached(token, now, Expiry::kCheck));
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
  if (introspector_ != nullptr && !entry->active) {
    return Reject(TokenRejection::kInactive, "inactive (revoked)");
  }
  return std::move(entry->token);
}

absl::StatusOr<VerifiedToken> TokenVerifier::VerifyUncached(std::string_view token, absl::Time now,
                                                            Expiry expiry) {
  auto decoded = DecodeUnverified(token);
  if (!decoded.ok()) {
    // DecodeUnverified's messages describe structure only ("malformed token: ...").
    return MalformedTokenError(MalformedPart::kEncoding, std::string(decoded.status().message()));
  }
  if (decoded->alg != kJwtAlgEdDsa) {
    return Reject(TokenRejection::kUnsupportedAlgorithm, "unsupported alg");
  }
  if (decoded->header.contains("crit")) {
    return Reject(TokenRejection::kUnsupportedHeader, "unsupported critical header");
  }
  if (decoded->kid.empty()) {
    return MalformedTokenError(MalformedPart::kKeyId, "malformed token: header has no \"kid\"");
  }

  absl::StatusOr<crypto::Ed25519PublicKey> key = keys_.PublicKey(decoded->kid);
  if (absl::IsNotFound(key.status())) {
    return Reject(TokenRejection::kUnknownKey, "unknown signing key");
  }
  COFFER_RETURN_IF_ERROR(key.status());  // the keys could not be had: an outage
  ++signature_checks_;
  if (!key->Verify(decoded->signing_input, decoded->signature)) {
    return Reject(TokenRejection::kBadSignature, "bad signature");
  }

  const Claims& c = decoded->claims;
  if (!c.exp)
    return MalformedTokenError(MalformedPart::kClaims, "malformed token: no \"exp\" claim");
  if (options_.require_sub_and_jti && (c.sub.empty() || c.jti.empty())) {
    return MalformedTokenError(MalformedPart::kClaims,
                               "malformed token: no \"sub\" or no \"jti\" claim");
  }
  if (expiry == Expiry::kCheck && now >= absl::FromUnixSeconds(*c.exp) + options_.leeway) {
    return Reject(TokenRejection::kExpired, "expired");
  }
  if (c.nbf && now < absl::FromUnixSeconds(*c.nbf) - options_.leeway) {
    return Reject(TokenRejection::kNotYetValid, "not yet valid");
  }
  if (c.iss != options_.issuer) return Reject(TokenRejection::kWrongIssuer, "wrong issuer");
  if (std::find(c.aud.begin(), c.aud.end(), options_.audience) == c.aud.end()) {
    return Reject(TokenRejection::kWrongAudience, "wrong audience");
  }
  VerifiedToken out;
  out.claims = std::move(decoded->claims);
  out.kid = std::move(decoded->kid);
  return out;
}

absl::Status TokenVerifier::RefreshKeys() {
  return jwks_cache_ != nullptr ? jwks_cache_->Refresh() : absl::OkStatus();
}

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
