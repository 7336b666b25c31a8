#include "pkg/auth/jwks_key_cache.h"

#include "pkg/log/log.h"
#include "pkg/status/status.h"

namespace coffer::auth {
namespace {

// Named after the verifier this cache serves, as its log lines always were.
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

JwksKeyCache::JwksKeyCache(JwksKeyCacheOptions options, JwksSource& source, const Clock& clock)
    : options_(options), source_(source), clock_(clock) {}

JwksKeyCache::Stats JwksKeyCache::stats() const {
  Stats s;
  s.fetches = fetches_.load();
  s.fetch_failures = fetch_failures_.load();
  s.negative_cache_hits = negative_cache_hits_.load();
  return s;
}

absl::StatusOr<crypto::Ed25519PublicKey> JwksKeyCache::PublicKey(std::string_view kid_view) {
  const std::string kid(kid_view);
  const absl::Time now = clock_.Now();
  bool known = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = keys_.find(kid);
    known = it != keys_.end();
    if (known && now - keys_fetched_at_ < options_.max_age) return it->second;
    if (!known && NegativelyCached(kid, now)) ++negative_cache_hits_;
  }
  // A kid we do not hold (a rotation?) may be fetched at once, within the global floor (one
  // fetch per unknown_kid_refetch_interval for the whole process, however many bogus kids
  // arrive); stale keys wait for the ordinary refetch interval. A kid a recent fetch did not have
  // (negatively cached) obeys the same floor: making it wait longer would refuse a real new key
  // that an attacker named before every issuer replica had loaded it.
  const FetchOutcome outcome =
      MaybeRefetch(known ? options_.min_refetch_interval : options_.unknown_kid_refetch_interval,
                   /*force=*/false, known ? std::string() : kid);
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(kid);
  if (it != keys_.end()) return it->second;
  if (!outcome.status.ok() && !known) {
    // We could not learn the key: an outage, not the caller's fault.
    return status::Annotate(outcome.status, "fetching JWKS");
  }
  return absl::NotFoundError("unknown signing key");
}

bool JwksKeyCache::NegativelyCached(const std::string& kid, absl::Time now) {
  auto it = negative_.find(kid);
  if (it == negative_.end()) return false;
  if (now < it->second) return true;
  negative_.erase(it);
  return false;
}

void JwksKeyCache::RememberUnknownKid(const std::string& kid, absl::Time now) {
  if (options_.negative_cache_max_entries == 0 ||
      options_.negative_cache_ttl <= absl::ZeroDuration()) {
    return;
  }
  const absl::Time until = now + options_.negative_cache_ttl;
  negative_[kid] = until;
  negative_order_.emplace_back(kid, until);
  // Forget the oldest entries past the bound; skip order entries superseded by a re-insert.
  while (negative_.size() > options_.negative_cache_max_entries ||
         negative_order_.size() > 2 * options_.negative_cache_max_entries) {
    auto [old_kid, old_until] = std::move(negative_order_.front());
    negative_order_.pop_front();
    auto it = negative_.find(old_kid);
    if (it != negative_.end() && it->second == old_until) negative_.erase(it);
  }
}

JwksKeyCache::FetchOutcome JwksKeyCache::MaybeRefetch(absl::Duration min_interval, bool force,
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
  ++fetches_;
  absl::StatusOr<JwkSet> set = source_.Fetch();
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
    ++fetch_failures_;
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

absl::Status JwksKeyCache::Refresh() {
  return MaybeRefetch(absl::ZeroDuration(), /*force=*/true, "").status;
}

}  // namespace coffer::auth
