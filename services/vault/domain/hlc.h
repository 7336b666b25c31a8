// Hybrid logical clock (docs/architecture.md §3): a 64-bit timestamp = 48-bit wall-clock
// milliseconds followed by a 16-bit logical counter.
//
// Why: heads among concurrent siblings are chosen by the greatest (hlc, origin_shard). An HLC
// stays close to wall time (so "the latest write wins" means what a person expects) while still
// never going backwards and always exceeding every timestamp this shard has seen, even when
// clocks of two shards disagree.
//
// Lifecycle: one Hlc per process, created with the clock to read (tests inject a fake).
// Threading: Now() and Observe() are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

namespace coffer::vault::domain {

// A packed HLC value. Ordering of the packed integers is the HLC ordering.
struct HlcTimestamp {
  static constexpr int kLogicalBits = 16;
  static constexpr uint64_t kLogicalMask = (uint64_t{1} << kLogicalBits) - 1;
  static constexpr uint64_t kMaxPhysicalMs = (uint64_t{1} << 48) - 1;

  static uint64_t Pack(uint64_t physical_ms, uint64_t logical) {
    return (physical_ms << kLogicalBits) | (logical & kLogicalMask);
  }
  static uint64_t PhysicalMs(uint64_t hlc) { return hlc >> kLogicalBits; }
  static uint64_t Logical(uint64_t hlc) { return hlc & kLogicalMask; }
};

class Hlc {
 public:
  // Returns wall-clock milliseconds since the Unix epoch.
  using WallClock = std::function<uint64_t()>;

  // Uses the system clock.
  Hlc();
  explicit Hlc(WallClock clock);

  // A timestamp for a local event, greater than every timestamp returned or observed before.
  uint64_t Now();

  // Takes a timestamp seen elsewhere (a received revision, or a sibling being superseded) into
  // account, so that every later Now() exceeds it. Returns the updated clock value.
  uint64_t Observe(uint64_t remote);

 private:
  // Advances last_ to max(last_ + 1, wall time, floor + 1). Requires mu_ held.
  uint64_t AdvanceLocked(uint64_t floor);

  WallClock clock_;
  std::mutex mu_;
  uint64_t last_ = 0;
};

}  // namespace coffer::vault::domain
