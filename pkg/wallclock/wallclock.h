// The wall clock in Unix milliseconds, the time unit of the vault's rows and events (created_at,
// tombstone ages, HLC physical time). For components that take the clock as a function
// (std::function<int64_t()>), so tests can pass a fixed one instead.
#pragma once

#include <cstdint>

namespace coffer::wallclock {

// std::chrono::system_clock now, in milliseconds since the Unix epoch. Thread-safe.
int64_t NowMs();

}  // namespace coffer::wallclock
