// TokenVerifier: checks access tokens locally against the issuer's JWKS (DESIGN.md §6).
//
// What it checks, in order: size and structure; header alg == "EdDSA" (everything else,
// including "none" and HMAC algs, is refused before any key lookup) and no "crit" header; a
// "kid" naming a key from the JwksSource; the Ed25519 signature; exp (required), nbf, iss and aud
// (must contain `audience`) with `leeway`; then, if an Introspector is given, that the token is
// still active. Every rejection is UNAUTHENTICATED "invalid token: <reason>", reasons being:
//   malformed, unsupported alg, unknown signing key, bad signature, expired, not yet valid,
//   wrong issuer, wrong audience, inactive (revoked).
// A JWKS or introspection outage is not the caller's fault: it is reported with the source's
// code (typically UNAVAILABLE) so clients retry rather than log in again.
//
// Keys: fetched lazily on first use, refetched when a token names an unknown kid or the keys are
// older than jwks_max_age, at most once per jwks_min_refetch_interval (so a flood of tokens with
// made-up kids cannot hammer the identity service). A failed refetch keeps the previous keys.
//
// Verified-token cache: keyed by SHA-256 of the token, holding the verified claims until
// min(exp + leeway, insertion + cache_ttl); LRU-bounded by cache_max_entries. A hit skips
// parsing and signature work. Introspection answers are cached per token for
// introspection_cache_ttl, so a revoked token stops working within that time.
//
// Lifecycle: build one per process with Create() at startup and share it; the JwksSource, Clock
// and Introspector must outlive it. Threading: Verify() is thread-safe and may run concurrently
// from every RPC thread; one mutex guards keys and cache briefly, JWKS fetches are serialised by
// a second mutex, and no lock is held while calling Fetch() or IsActive(). Tokens and keys are
// never logged or put in error messages.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pkg/auth/clock.h"
#include "pkg/auth/jwks_source.h"
#include "pkg/auth/jwt.h"
#include "pkg/crypto/ed25519.h"

namespace coffer::auth {

struct TokenVerifierOptions {
  std::string issuer;    // required: exact match of "iss"
  std::string audience;  // required: must be one of "aud"
  absl::Duration leeway = absl::Seconds(30);
  absl::Duration jwks_min_refetch_interval = absl::Seconds(30);
  absl::Duration jwks_max_age = absl::Minutes(15);
  size_t cache_max_entries = 10000;  // 0 disables the verified-token cache
  absl::Duration cache_ttl = absl::Minutes(5);
  absl::Duration introspection_cache_ttl = absl::Seconds(10);
  // While the introspection endpoint fails (identity down), a token whose last answer is younger
  // than this keeps that answer, so an identity outage does not stop every caller at once; a
  // token never introspected, or introspected longer ago, is refused UNAVAILABLE. 0 = never.
  absl::Duration introspection_stale_if_error = absl::Seconds(60);
  size_t max_token_bytes = 8192;
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
  // Counters for metrics and tests (monotonic since Create).
  struct Stats {
    uint64_t cache_hits = 0;
    uint64_t signature_checks = 0;
    uint64_t jwks_fetches = 0;
    uint64_t introspections = 0;
    uint64_t stale_introspections = 0;  // answers kept while introspection failed
  };

  // INVALID_ARGUMENT when issuer or audience is empty or a duration is negative.
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> Create(
      TokenVerifierOptions options, JwksSource& jwks, const Clock& clock,
      Introspector* introspector = nullptr);

  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // Verifies `token` (the bare compact JWS, without "Bearer "). See the class comment.
  absl::StatusOr<VerifiedToken> Verify(std::string_view token);

  // Fetches keys now, ignoring the rate limit (e.g. at startup, to fail fast on misconfiguration).
  absl::Status RefreshKeys();

  Stats stats() const;

 private:
  struct CacheEntry {
    VerifiedToken token;
    absl::Time expires_at;
    bool active = true;
    absl::Time introspected_at = absl::InfinitePast();
  };
  using Lru = std::list<std::string>;

  TokenVerifier(TokenVerifierOptions options, JwksSource& jwks, const Clock& clock,
                Introspector* introspector);

  absl::StatusOr<VerifiedToken> VerifyUncached(std::string_view token, absl::Time now);
  absl::StatusOr<crypto::Ed25519PublicKey> FindKey(const std::string& kid, absl::Time now);
  // Fetches if the rate limit allows (or `force`) and returns the fetch's result; when rate
  // limited, returns the previous fetch's result instead.
  absl::Status MaybeRefetch(absl::Time now, bool force);
  void CacheInsert(const std::string& key, CacheEntry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const TokenVerifierOptions options_;
  JwksSource& jwks_;
  const Clock& clock_;
  Introspector* const introspector_;

  absl::Mutex fetch_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // serialises JwksSource::Fetch calls
  mutable absl::Mutex mu_;
  std::map<std::string, crypto::Ed25519PublicKey, std::less<>> keys_ ABSL_GUARDED_BY(mu_);
  absl::Time keys_fetched_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_fetch_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status last_fetch_status_ ABSL_GUARDED_BY(mu_);
  Lru lru_ ABSL_GUARDED_BY(mu_);  // front = most recently used cache key
  std::unordered_map<std::string, std::pair<CacheEntry, Lru::iterator>> cache_ ABSL_GUARDED_BY(mu_);

  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> signature_checks_{0};
  std::atomic<uint64_t> jwks_fetches_{0};
  std::atomic<uint64_t> stale_introspections_{0};
  std::atomic<uint64_t> introspections_{0};
};

}  // namespace coffer::auth
