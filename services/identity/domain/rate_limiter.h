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
// bucket) are dropped; if every bucket is in use, new keys are refused (retry after one period)
// until space frees up: the limiter never fails open (security audit M1).
//
// Threading: thread-safe (one mutex; the critical section is a hash lookup).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace coffer::identity {

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
  // Refills `b` up to `now`.
  void Refill(Bucket& b, Time now) const;

  const RateLimit limit_;
  const std::size_t max_keys_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace coffer::identity
