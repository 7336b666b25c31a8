// TokenVerifier: checks access tokens locally against the issuer's JWKS (docs/architecture.md §6).
//
// What it checks, in order: size and structure; header alg == "EdDSA" (everything else,
// including "none" and HMAC algs, is refused before any key lookup) and no "crit" header; a
// "kid" naming a key from the JwksSource; the Ed25519 signature; exp (required), nbf, iss and aud
// (must contain `audience`) with `leeway`; then, if an Introspector is given, that the token is
// still active. Every rejection is UNAUTHENTICATED "invalid token: <reason>", reasons being:
//   malformed, unsupported alg, unsupported critical header, unknown signing key, bad signature,
//   expired, not yet valid, wrong issuer, wrong audience, inactive (revoked);
// and carries the reason as a type too (TokenRejectionOf, token_rejection.h): branch or count on
// that, never on the message.
// A JWKS or introspection outage is not the caller's fault: an introspection outage keeps the
// introspector's code (typically UNAVAILABLE); a JWKS that cannot be fetched or read (down,
// non-JSON, malformed, no usable key) is UNAVAILABLE (DEADLINE_EXCEEDED stays as it is), so
// clients retry rather than log in again.
//
// Keys: fetched lazily on first use and refetched:
//   * when a token names a kid we do not hold: at once, but such fetches are at least
//     jwks_unknown_kid_refetch_interval apart overall (1 s: a flood of made-up kids costs the
//     issuer one fetch per second at most, and a real new kid waits at most that second). The
//     issuer pre-publishes new keys (identity's --key-prepublication), so a real new kid is
//     normally in any set fetched in the last minute;
//   * when the keys are older than jwks_max_age: at most once per jwks_min_refetch_interval.
// Single flight: a caller that waited while another fetch ran uses that fetch's result instead of
// fetching again, so a slow issuer never makes fetches queue up behind each other. Kids missing
// from a successful fetch are remembered (bounded, jwks_negative_cache_ttl) for
// Stats::negative_cache_hits only; they obey the same 1 s floor (waiting longer would refuse a
// real new key an attacker named before every issuer replica had loaded it).
// A failed fetch, and a fetch whose set holds no usable key (empty or malformed), keeps the last
// good keys (counted in Stats::jwks_fetch_failures and logged as a warning).
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
#include <deque>
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
#include "pkg/auth/token_rejection.h"
#include "pkg/crypto/ed25519.h"

namespace coffer::auth {

struct TokenVerifierOptions {
  std::string issuer;    // required: exact match of "iss"
  std::string audience;  // required: must be one of "aud"
  absl::Duration leeway = absl::Seconds(30);
  // Fetches for stale keys are at least this far apart.
  absl::Duration jwks_min_refetch_interval = absl::Seconds(30);
  // Fetches for kids we do not hold are at least this far apart (a global floor).
  absl::Duration jwks_unknown_kid_refetch_interval = absl::Seconds(1);
  // How long a kid missing from a successful fetch is remembered as unknown (counted in
  // Stats::negative_cache_hits), and how many such kids are remembered (oldest forgotten first).
  absl::Duration jwks_negative_cache_ttl = absl::Minutes(5);
  size_t jwks_negative_cache_max_entries = 4096;
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
    uint64_t jwks_fetch_failures = 0;  // failed or no usable key; the last good keys were kept
    uint64_t negative_cache_hits = 0;  // tokens naming a kid known to be unknown
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
  struct FetchOutcome {
    absl::Status status;   // this fetch's result, or the previous one's when rate limited
    bool fetched = false;  // false = rate limited
  };
  // Fetches unless a fetch started less than `min_interval` ago (`force` ignores that). On a
  // successful fetch that lacks `wanted_kid` (when not empty), remembers it as unknown.
  FetchOutcome MaybeRefetch(absl::Time now, absl::Duration min_interval, bool force,
                            const std::string& wanted_kid);
  bool NegativelyCached(const std::string& kid, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RememberUnknownKid(const std::string& kid, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
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
  // Completed fetches; a caller that waited for fetch_mu_ while one completed uses its result
  // instead of fetching again (single flight: waiting callers never queue fetches).
  uint64_t fetch_generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Kids missing from a successful fetch → until when they count as unknown; plus the order they
  // were remembered in, for the size bound (entries may be stale after a re-insert).
  std::unordered_map<std::string, absl::Time> negative_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<std::string, absl::Time>> negative_order_ ABSL_GUARDED_BY(mu_);
  Lru lru_ ABSL_GUARDED_BY(mu_);  // front = most recently used cache key
  std::unordered_map<std::string, std::pair<CacheEntry, Lru::iterator>> cache_ ABSL_GUARDED_BY(mu_);

  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> signature_checks_{0};
  std::atomic<uint64_t> jwks_fetches_{0};
  std::atomic<uint64_t> jwks_fetch_failures_{0};
  std::atomic<uint64_t> negative_cache_hits_{0};
  std::atomic<uint64_t> stale_introspections_{0};
  std::atomic<uint64_t> introspections_{0};
};

}  // namespace coffer::auth
