#include "pkg/crypto/sodium.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace coffer::crypto::internal {

void EnsureSodiumInitialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    // sodium_init() returns 1 when already initialised (e.g. by another library), which is fine.
    if (sodium_init() < 0) {
      std::fputs("coffer: libsodium failed to initialise\n", stderr);
      std::abort();
    }
  });
}

}  // namespace coffer::crypto::internal
