// Injected time source, so token expiry, caches and rate limits can be tested without sleeping
// (STYLE.md, "hermetic tests").
#pragma once

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace coffer::auth {

// Wall-clock time. Implementations must be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // The current time; may go backwards if the implementation's clock does (FakeClock::Set).
  virtual absl::Time Now() const = 0;
};

// absl::Now(). Stateless; use the shared instance.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // The process-wide instance.
  static SystemClock& Instance();
};

// Manually driven clock for tests. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}
  absl::Time Now() const override;
  // Moves the time forward by `d` (backward when negative).
  void Advance(absl::Duration d);
  // Jumps to `t`.
  void Set(absl::Time t);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace coffer::auth
