// Cryptographically secure randomness (OpenSSL's DRBG, seeded from the OS). Use it for keys,
// nonces, salts, session ids and opaque tokens; never std::random_device or <random> engines.
// Thread-safe.
#pragma once

#include <cstddef>
#include <string>

namespace coffer::crypto {

// `n` random bytes. Aborts if the system DRBG fails: nothing secure can be done without it, and
// returning predictable bytes would be worse than crashing.
std::string RandomBytes(size_t n);

// An opaque, URL-safe token with `bytes` bytes of entropy, base64url without padding (e.g.
// refresh tokens, API keys; 32 bytes → 43 characters).
std::string RandomToken(size_t bytes = 32);

}  // namespace coffer::crypto
