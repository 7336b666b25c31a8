#include "pkg/auth/token_verifier.h"

#include <algorithm>

#include "pkg/crypto/hash.h"
#include "pkg/log/log.h"
#include "pkg/status/status.h"

namespace coffer::auth {
namespace {

// UNAUTHENTICATED "invalid token: <detail>", typed with `why` (token_rejection.h).
absl::Status Reject(TokenRejection why, std::string_view detail) {
  return TokenRejectedError(why, detail);
}

const log::Logger& Log() {
  static const log::Logger logger("token_verifier");
  return logger;
}

// A JWKS that cannot be had is an outage whatever the source said (a non-JSON body is the
// issuer's or a proxy's fault, not the caller's): UNAVAILABLE, so clients retry.
absl::Status AsOutage(const absl::Status& s) {
  if (s.ok() || absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s)) return s;
  return absl::UnavailableError(s.message());
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
      options.jwks_unknown_kid_refetch_interval < absl::ZeroDuration() ||
      options.jwks_negative_cache_ttl < absl::ZeroDuration() ||
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
  s.jwks_fetch_failures = jwks_fetch_failures_.load();
  s.negative_cache_hits = negative_cache_hits_.load();
  s.introspections = introspections_.load();
  s.stale_introspections = stale_introspections_.load();
  return s;
}

absl::StatusOr<VerifiedToken> TokenVerifier::Verify(std::string_view token) {
  if (token.empty() || token.size() > options_.max_token_bytes) {
    return Reject(TokenRejection::kMalformed, "malformed (empty or too long)");
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
  if (introspector_ != nullptr && !entry->active) {
    return Reject(TokenRejection::kInactive, "inactive (revoked)");
  }
  return std::move(entry->token);
}

absl::StatusOr<VerifiedToken> TokenVerifier::VerifyUncached(std::string_view token,
                                                            absl::Time now) {
  auto decoded = DecodeUnverified(token);
  if (!decoded.ok()) {
    // DecodeUnverified's messages describe structure only ("malformed token: ...").
    return Reject(TokenRejection::kMalformed, std::string(decoded.status().message()));
  }
  if (decoded->alg != kJwtAlgEdDsa) {
    return Reject(TokenRejection::kUnsupportedAlgorithm, "unsupported alg");
  }
  if (decoded->header.contains("crit")) {
    return Reject(TokenRejection::kUnsupportedHeader, "unsupported critical header");
  }
  if (decoded->kid.empty()) {
    return Reject(TokenRejection::kMalformed, "malformed token: header has no \"kid\"");
  }

  COFFER_ASSIGN_OR_RETURN(crypto::Ed25519PublicKey key, FindKey(decoded->kid, now));
  ++signature_checks_;
  if (!key.Verify(decoded->signing_input, decoded->signature)) {
    return Reject(TokenRejection::kBadSignature, "bad signature");
  }

  const Claims& c = decoded->claims;
  if (!c.exp) return Reject(TokenRejection::kMalformed, "malformed token: no \"exp\" claim");
  if (now >= absl::FromUnixSeconds(*c.exp) + options_.leeway) {
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

absl::StatusOr<crypto::Ed25519PublicKey> TokenVerifier::FindKey(const std::string& kid,
                                                                absl::Time now) {
  bool known = false;
  bool never_seen = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = keys_.find(kid);
    known = it != keys_.end();
    if (known && now - keys_fetched_at_ < options_.jwks_max_age) return it->second;
    if (!known) {
      never_seen = !NegativelyCached(kid, now);
      if (!never_seen) ++negative_cache_hits_;
    }
  }
  // A kid we do not hold (a rotation?) may be fetched at once, within the global floor (one
  // fetch per jwks_unknown_kid_refetch_interval for the whole process, however many bogus kids
  // arrive); stale keys wait for the ordinary refetch interval. A kid a recent fetch did not have
  // (negatively cached) obeys the same floor: making it wait longer would refuse a real new key
  // that an attacker named before every issuer replica had loaded it.
  (void)never_seen;
  const FetchOutcome outcome = MaybeRefetch(
      now, known ? options_.jwks_min_refetch_interval : options_.jwks_unknown_kid_refetch_interval,
      /*force=*/false, known ? std::string() : kid);
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(kid);
  if (it != keys_.end()) return it->second;
  if (!outcome.status.ok() && !known) {
    // We could not learn the key: an outage, not the caller's fault.
    return status::Annotate(outcome.status, "fetching JWKS");
  }
  return Reject(TokenRejection::kUnknownKey, "unknown signing key");
}

bool TokenVerifier::NegativelyCached(const std::string& kid, absl::Time now) {
  auto it = negative_.find(kid);
  if (it == negative_.end()) return false;
  if (now < it->second) return true;
  negative_.erase(it);
  return false;
}

void TokenVerifier::RememberUnknownKid(const std::string& kid, absl::Time now) {
  if (options_.jwks_negative_cache_max_entries == 0 ||
      options_.jwks_negative_cache_ttl <= absl::ZeroDuration()) {
    return;
  }
  const absl::Time until = now + options_.jwks_negative_cache_ttl;
  negative_[kid] = until;
  negative_order_.emplace_back(kid, until);
  // Forget the oldest entries past the bound; skip order entries superseded by a re-insert.
  while (negative_.size() > options_.jwks_negative_cache_max_entries ||
         negative_order_.size() > 2 * options_.jwks_negative_cache_max_entries) {
    auto [old_kid, old_until] = std::move(negative_order_.front());
    negative_order_.pop_front();
    auto it = negative_.find(old_kid);
    if (it != negative_.end() && it->second == old_until) negative_.erase(it);
  }
}

TokenVerifier::FetchOutcome TokenVerifier::MaybeRefetch(absl::Time /*now*/,
                                                        absl::Duration min_interval, bool force,
                                                        const std::string& wanted_kid) {
  uint64_t seen_generation;
  {
    absl::MutexLock lock(&mu_);
    seen_generation = fetch_generation_;
  }
  absl::MutexLock fetch_lock(&fetch_mu_);
  // The clock is read after waiting for fetch_mu_: the caller's own `now` may be older than the
  // fetch that just finished.
  const absl::Time now = clock_.Now();
  {
    absl::MutexLock lock(&mu_);
    if (!force && fetch_generation_ != seen_generation) {
      return {last_fetch_status_, false};  // a fetch finished while we waited: use its keys
    }
    if (!force && now - last_fetch_attempt_ < min_interval) {
      return {last_fetch_status_, false};  // rate limited: report how the last attempt went
    }
    last_fetch_attempt_ = now;
  }
  ++jwks_fetches_;
  absl::StatusOr<JwkSet> set = jwks_.Fetch();
  absl::Status result = AsOutage(set.status());
  std::map<std::string, crypto::Ed25519PublicKey, std::less<>> keys;
  if (set.ok()) {
    for (const Jwk& jwk : set->keys) {
      if (jwk.kid.empty()) continue;  // tokens must name their key
      auto key = jwk.PublicKey();
      if (key.ok()) keys.emplace(jwk.kid, *std::move(key));
    }
    if (keys.empty()) {
      // An issuer always publishes its signing key: an empty set is a fault (a broken proxy, a
      // misconfigured URL), and taking it would reject every token.
      result = absl::UnavailableError("the JWKS holds no usable key");
    }
  }
  if (!result.ok()) {
    ++jwks_fetch_failures_;
    Log().Warn("JWKS fetch failed; keeping the last good keys", {{"status", result}});
  }
  absl::MutexLock lock(&mu_);
  last_fetch_status_ = result;
  ++fetch_generation_;
  if (result.ok()) {
    keys_ = std::move(keys);
    keys_fetched_at_ = now;
    if (!wanted_kid.empty() && keys_.find(wanted_kid) == keys_.end()) {
      RememberUnknownKid(wanted_kid, now);
    }
  }
  return {result, true};
}

absl::Status TokenVerifier::RefreshKeys() {
  return MaybeRefetch(clock_.Now(), absl::ZeroDuration(), /*force=*/true, "").status;
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
