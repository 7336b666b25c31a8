// Token-bucket rate limiter keyed by a string (a login, a client address).
//
// Why: Login and Register are the two public RPCs an attacker can hammer (password guessing,
// account enumeration, hash-cost exhaustion). Each key gets a bucket of `burst` attempts that
// refills continuously at `burst` per `period`; an attempt on an empty bucket is refused with the
// time until the next attempt is allowed, which the transport reports as RESOURCE_EXHAUSTED with
// retry info.
//
// Time is passed in by the caller (the service's injected clock), so tests are deterministic.
// Limits are per replica: with N replicas an attacker gets at most N times the limit, which
// bounds the damage while keeping the hot path free of database writes.
//
// Memory is bounded: when more than `max_keys` buckets exist, full buckets (equivalent to no
// bucket) are dropped; if every bucket is in use, new keys share one overflow bucket (with the
// same limit) until space frees up: the limiter never fails open (security audit M1), and an
// attacker who fills the table slows newcomers instead of locking every one of them out.
//
// Threading: thread-safe (one mutex; the critical section is a hash lookup).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace coffer::identity {

// The rate-limit key of a client address: an IPv6 address counts by its /64 prefix (one host
// usually holds a whole /64, and could use a new address per connection), an IPv4-mapped IPv6
// address as the IPv4 address, anything else as it is.
std::string AddressRateKey(std::string_view address);

struct RateLimit {
  // Attempts allowed in a burst; 0 disables the limit.
  int burst = 10;
  // Time in which a fully drained bucket refills.
  std::chrono::seconds period{60};
};

class RateLimiter {
 public:
  using Time = std::chrono::system_clock::time_point;

  struct Decision {
    bool allowed = true;
    // When refused: how long until one attempt is allowed again (at least 1 s).
    std::chrono::seconds retry_after{0};
  };

  // `max_keys` bounds the buckets kept (see the file comment for what happens beyond it).
  explicit RateLimiter(RateLimit limit, std::size_t max_keys = 100000);

  // Takes one attempt from `key`'s bucket at time `now`.
  Decision Acquire(const std::string& key, Time now);

  // Number of tracked buckets (for tests).
  std::size_t SizeForTest() const;

 private:
  struct Bucket {
    double tokens = 0;
    Time updated;
  };
  Bucket overflow_;  // shared by new keys while the table is full (guarded by mu_)
  bool overflow_used_ = false;
  // Refills `b` up to `now`.
  void Refill(Bucket& b, Time now) const;
  // Refills `b` and takes one attempt from it, or says how long to wait.
  Decision Take(Bucket& b, Time now) const;

  const RateLimit limit_;
  const std::size_t max_keys_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace coffer::identity
