#include "pkg/wallclock/wallclock.h"

#include <chrono>

namespace coffer::wallclock {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace coffer::wallclock
