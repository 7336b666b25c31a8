// JwksKeyCache: the KeySource over a remote issuer's JWKS (docs/architecture.md §6), which
// TokenVerifier::Create builds when given a JwksSource (the vault's verifier).
//
// Keys are fetched lazily on first use and refetched:
//   * when a token names a kid we do not hold: at once, but such fetches are at least
//     unknown_kid_refetch_interval apart overall (1 s: a flood of made-up kids costs the
//     issuer one fetch per second at most, and a real new kid waits at most that second). The
//     issuer pre-publishes new keys (identity's --key-prepublication), so a real new kid is
//     normally in any set fetched in the last minute;
//   * when the keys are older than max_age: at most once per min_refetch_interval.
// Single flight: a caller that waited while another fetch ran uses that fetch's result instead of
// fetching again, so a slow issuer never makes fetches queue up behind each other. Kids missing
// from a successful fetch are remembered (bounded, negative_cache_ttl) for
// Stats::negative_cache_hits only; they obey the same 1 s floor (waiting longer would refuse a
// real new key an attacker named before every issuer replica had loaded it).
// A failed fetch, and a fetch whose set holds no usable key (empty or malformed), keeps the last
// good keys (counted in Stats::fetch_failures and logged as a warning). A JWKS that cannot be
// fetched or read (down, non-JSON, malformed, no usable key) is UNAVAILABLE (DEADLINE_EXCEEDED
// stays as it is), never NOT_FOUND, so clients retry rather than log in again.
//
// Lifecycle: the JwksSource and Clock must outlive the cache. Threading: thread-safe; one mutex
// guards the keys briefly, fetches are serialised by a second one, and no lock is held while
// calling JwksSource::Fetch(). Keys are never logged.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pkg/auth/clock.h"
#include "pkg/auth/jwks_source.h"
#include "pkg/auth/key_source.h"
#include "pkg/crypto/ed25519.h"

namespace coffer::auth {

// When JwksKeyCache refetches (see the file comment). Durations must not be negative
// (TokenVerifier::Create checks them).
struct JwksKeyCacheOptions {
  // Fetches for stale keys are at least this far apart.
  absl::Duration min_refetch_interval = absl::Seconds(30);
  // Fetches for kids we do not hold are at least this far apart (a global floor).
  absl::Duration unknown_kid_refetch_interval = absl::Seconds(1);
  // How long a kid missing from a successful fetch is remembered as unknown (counted in
  // Stats::negative_cache_hits), and how many such kids are remembered (oldest forgotten first).
  absl::Duration negative_cache_ttl = absl::Minutes(5);
  size_t negative_cache_max_entries = 4096;
  // Keys older than this are refetched (within min_refetch_interval).
  absl::Duration max_age = absl::Minutes(15);
};

class JwksKeyCache final : public KeySource {
 public:
  // Counters for metrics and tests (monotonic since construction).
  struct Stats {
    uint64_t fetches = 0;
    uint64_t fetch_failures = 0;       // failed or no usable key; the last good keys were kept
    uint64_t negative_cache_hits = 0;  // lookups of a kid known to be unknown
  };

  JwksKeyCache(JwksKeyCacheOptions options, JwksSource& source, const Clock& clock);
  JwksKeyCache(const JwksKeyCache&) = delete;
  JwksKeyCache& operator=(const JwksKeyCache&) = delete;

  // The key named `kid`, fetching the JWKS first when the kid is unknown or the keys are stale
  // (within the rate limits above). NOT_FOUND when the last successful fetch lacks it;
  // UNAVAILABLE (or DEADLINE_EXCEEDED), annotated "fetching JWKS", when the kid is unknown and
  // the JWKS could not be had.
  absl::StatusOr<crypto::Ed25519PublicKey> PublicKey(std::string_view kid) override;

  // Fetches now, ignoring the rate limits (e.g. at startup, to fail fast on misconfiguration).
  // The fetch's error, if any; the last good keys are kept then.
  absl::Status Refresh();

  // A snapshot of the counters.
  Stats stats() const;

 private:
  struct FetchOutcome {
    absl::Status status;   // this fetch's result, or the previous one's when rate limited
    bool fetched = false;  // false = rate limited
  };
  // Fetches unless a fetch started less than `min_interval` ago (`force` ignores that). On a
  // successful fetch that lacks `wanted_kid` (when not empty), remembers it as unknown.
  FetchOutcome MaybeRefetch(absl::Duration min_interval, bool force, const std::string& wanted_kid);
  bool NegativelyCached(const std::string& kid, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RememberUnknownKid(const std::string& kid, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const JwksKeyCacheOptions options_;
  JwksSource& source_;
  const Clock& clock_;

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

  std::atomic<uint64_t> fetches_{0};
  std::atomic<uint64_t> fetch_failures_{0};
  std::atomic<uint64_t> negative_cache_hits_{0};
};

}  // namespace coffer::auth
