// Internal: libsodium must be initialised once per process before any of its functions run.
#pragma once

namespace coffer::crypto::internal {

// Calls sodium_init() exactly once (thread-safe, cheap after the first call). Aborts the process
// if libsodium cannot initialise: no password or encoding function can work without it.
void EnsureSodiumInitialized();

}  // namespace coffer::crypto::internal
