#include "services/vault/domain/hlc.h"

#include <algorithm>
#include <chrono>

namespace coffer::vault::domain {

Hlc::Hlc()
    : Hlc([] {
        return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
      }) {}

Hlc::Hlc(WallClock clock) : clock_(std::move(clock)) {}

uint64_t Hlc::Now() {
  std::lock_guard lock(mu_);
  return AdvanceLocked(0);
}

uint64_t Hlc::Observe(uint64_t remote) {
  std::lock_guard lock(mu_);
  // Advance past `remote` so the next local event orders after it; the returned value is itself
  // a fresh timestamp, never handed out before.
  return AdvanceLocked(remote);
}

uint64_t Hlc::AdvanceLocked(uint64_t floor) {
  uint64_t wall_ms = std::min(clock_(), HlcTimestamp::kMaxPhysicalMs);
  uint64_t wall = HlcTimestamp::Pack(wall_ms, 0);
  // The packed form makes "logical + 1" carry into the milliseconds when the counter is full,
  // which keeps the clock monotonic even under 65536 events in one millisecond.
  uint64_t next = std::max({last_ + 1, floor + 1, wall});
  last_ = next;
  return next;
}

}  // namespace coffer::vault::domain
