// TokenVerifier: checks access tokens locally against the issuer's keys (docs/architecture.md §6).
// The one token verification path: the vault verifies identity's tokens with it (keys from the
// JWKS), and identity its own (keys from its SigningKeyManager).
//
// What it checks, in order: size and structure; header alg == "EdDSA" (everything else,
// including "none" and HMAC algs, is refused before any key lookup) and no "crit" header; a
// "kid" naming a key of the KeySource; the Ed25519 signature; "exp" present (and "sub" and "jti"
// when required); exp, nbf, iss and aud (must contain `audience`) with `leeway`; then, if an
// Introspector is given, that the token is still active. Every rejection is UNAUTHENTICATED
// "invalid token: <reason>", reasons being:
//   malformed, unsupported alg, unsupported critical header, unknown signing key, bad signature,
//   expired, not yet valid, wrong issuer, wrong audience, inactive (revoked);
// and carries the reason as a type too (TokenRejectionOf, token_rejection.h; for kMalformed also
// MalformedPartOf): branch or count on that, never on the message.
// A key or introspection outage is not the caller's fault: an introspection outage keeps the
// introspector's code (typically UNAVAILABLE); a KeySource error other than NOT_FOUND is returned
// as it is (the JWKS cache makes it UNAVAILABLE or DEADLINE_EXCEEDED), so clients retry rather
// than log in again.
//
// Keys: from a KeySource (key_source.h). Created over a JwksSource, the verifier builds and owns a
// JwksKeyCache (jwks_key_cache.h: lazy fetches, refetch on an unknown kid at most once per
// jwks_unknown_kid_refetch_interval, stale keys after jwks_max_age, last good keys kept on a
// failed fetch).
//
// Verified-token cache: keyed by SHA-256 of the token, holding the verified claims until
// min(exp + leeway, insertion + cache_ttl); LRU-bounded by cache_max_entries. A hit skips
// parsing and signature work. Introspection answers are cached per token for
// introspection_cache_ttl, so a revoked token stops working within that time.
//
// Lifecycle: build one per process with Create() at startup and share it; the JwksSource or
// KeySource, the Clock and the Introspector must outlive it. Threading: Verify() is thread-safe
// and may run concurrently from every RPC thread; one mutex guards the cache briefly, and no lock
// is held while looking up keys or calling IsActive(). Tokens and keys are never logged or put in
// error messages.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pkg/auth/clock.h"
#include "pkg/auth/jwks_key_cache.h"
#include "pkg/auth/jwks_source.h"
#include "pkg/auth/jwt.h"
#include "pkg/auth/key_source.h"
#include "pkg/auth/token_rejection.h"
#include "pkg/crypto/ed25519.h"

namespace coffer::auth {

struct TokenVerifierOptions {
  std::string issuer;    // required: exact match of "iss"
  std::string audience;  // required: must be one of "aud"
  absl::Duration leeway = absl::Seconds(30);
  // Also require non-empty "sub" and "jti" claims (kMalformed, MalformedPart::kClaims otherwise).
  bool require_sub_and_jti = false;
  // The JWKS cache's settings (JwksKeyCacheOptions), used when created over a JwksSource.
  absl::Duration jwks_min_refetch_interval = JwksKeyCacheOptions{}.min_refetch_interval;
  absl::Duration jwks_unknown_kid_refetch_interval =
      JwksKeyCacheOptions{}.unknown_kid_refetch_interval;
  absl::Duration jwks_negative_cache_ttl = JwksKeyCacheOptions{}.negative_cache_ttl;
  size_t jwks_negative_cache_max_entries = JwksKeyCacheOptions{}.negative_cache_max_entries;
  absl::Duration jwks_max_age = JwksKeyCacheOptions{}.max_age;
  size_t cache_max_entries = 10000;  // 0 disables the verified-token cache
  absl::Duration cache_ttl = absl::Minutes(5);
  absl::Duration introspection_cache_ttl = absl::Seconds(10);
  // While the introspection endpoint fails (identity down), a token whose last answer is younger
  // than this keeps that answer, so an identity outage does not stop every caller at once; a
  // token never introspected, or introspected longer ago, is refused UNAVAILABLE. 0 = never.
  absl::Duration introspection_stale_if_error = absl::Seconds(60);
  size_t max_token_bytes = 8192;  // longer (and empty) tokens are kMalformed, MalformedPart::kSize

  // The jwks_* fields above as the cache takes them.
  JwksKeyCacheOptions jwks_cache() const;
};

// The result of a successful verification.
struct VerifiedToken {
  Claims claims;
  std::string kid;  // the key that signed it
};

// Asks the issuer whether a token is still active (RFC 7662 style), so revoked tokens stop
// working before they expire. Must be thread-safe; may block on the network.
class Introspector {
 public:
  virtual ~Introspector() = default;
  // true = active; false = revoked/unknown; an error = the check itself failed.
  virtual absl::StatusOr<bool> IsActive(std::string_view token) = 0;
};

class TokenVerifier {
 public:
  // Counters for metrics and tests (monotonic since Create). The jwks_* and negative_cache_hits
  // counters are those of the JWKS cache; 0 for a verifier over a caller's KeySource.
  struct Stats {
    uint64_t cache_hits = 0;
    uint64_t signature_checks = 0;
    uint64_t jwks_fetches = 0;
    uint64_t jwks_fetch_failures = 0;  // failed or no usable key; the last good keys were kept
    uint64_t negative_cache_hits = 0;  // tokens naming a kid known to be unknown
    uint64_t introspections = 0;
    uint64_t stale_introspections = 0;  // answers kept while introspection failed
  };

  // A verifier whose keys come from `jwks` through a JwksKeyCache it owns. INVALID_ARGUMENT when
  // issuer or audience is empty or a duration is negative.
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> Create(
      TokenVerifierOptions options, JwksSource& jwks, const Clock& clock,
      Introspector* introspector = nullptr);

  // A verifier whose keys come from `keys` (the jwks_* options are unused). INVALID_ARGUMENT as
  // above.
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> Create(
      TokenVerifierOptions options, KeySource& keys, const Clock& clock,
      Introspector* introspector = nullptr);

  ~TokenVerifier();
  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // Verifies `token` (the bare compact JWS, without "Bearer "). See the class comment.
  absl::StatusOr<VerifiedToken> Verify(std::string_view token);

  // Verifies `token` like Verify but accepts it past its "exp" ("exp" must still be present), for
  // revoking a token that may have expired. Checks the token only: neither cached nor
  // introspected.
  absl::StatusOr<VerifiedToken> VerifyIgnoringExpiry(std::string_view token);

  // Fetches the JWKS now, ignoring the rate limit (e.g. at startup, to fail fast on
  // misconfiguration); the fetch's error, if any. OK at once for a verifier over a KeySource.
  absl::Status RefreshKeys();

  // A snapshot of the counters.
  Stats stats() const;

 private:
  struct CacheEntry {
    VerifiedToken token;
    absl::Time expires_at;
    bool active = true;
    absl::Time introspected_at = absl::InfinitePast();
  };
  using Lru = std::list<std::string>;
  enum class Expiry { kCheck, kIgnore };

  // `keys` is `*jwks_cache` when that is set.
  TokenVerifier(TokenVerifierOptions options, std::unique_ptr<JwksKeyCache> jwks_cache,
                KeySource& keys, const Clock& clock, Introspector* introspector);

  // kMalformed (MalformedPart::kSize) when `token` is empty or longer than max_token_bytes.
  absl::Status CheckSize(std::string_view token) const;
  // Every check but the size, the cache and introspection.
  absl::StatusOr<VerifiedToken> VerifyUncached(std::string_view token, absl::Time now,
                                               Expiry expiry);
  void CacheInsert(const std::string& key, CacheEntry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const TokenVerifierOptions options_;
  const std::unique_ptr<JwksKeyCache> jwks_cache_;  // null over a caller's KeySource
  KeySource& keys_;
  const Clock& clock_;
  Introspector* const introspector_;

  mutable absl::Mutex mu_;
  Lru lru_ ABSL_GUARDED_BY(mu_);  // front = most recently used cache key
  std::unordered_map<std::string, std::pair<CacheEntry, Lru::iterator>> cache_ ABSL_GUARDED_BY(mu_);

  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> signature_checks_{0};
  std::atomic<uint64_t> stale_introspections_{0};
  std::atomic<uint64_t> introspections_{0};
};

}  // namespace coffer::auth
