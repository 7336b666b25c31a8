// Password hashing with Argon2id (libsodium crypto_pwhash_str_alg).
//
// The encoded hash ("$argon2id$v=19$m=...,t=...,p=1$salt$hash") stores its own parameters and
// salt, so the cost can be raised later: verify with VerifyPassword, then, when NeedsRehash says
// the stored hash is weaker than the current PasswordHashParams, hash again and store the new
// string (the usual "rehash on successful login").
//
// Argon2id is deliberately slow and memory-hungry (defaults below: ~64 MiB, a few tens of ms):
// run it off latency-sensitive threads and rate-limit login attempts (docs/architecture.md §6).
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace coffer::crypto {

struct PasswordHashParams {
  // Argon2id passes (libsodium's "opslimit"); minimum 1. Default:
  // crypto_pwhash_OPSLIMIT_INTERACTIVE.
  uint64_t ops_limit = 2;
  // Memory in bytes (libsodium's "memlimit"); minimum 8 KiB. Default:
  // crypto_pwhash_MEMLIMIT_INTERACTIVE (64 MiB).
  size_t mem_limit = 64 * 1024 * 1024;
};

// Hashes `password` with a fresh random salt. INVALID_ARGUMENT when the params are out of
// libsodium's range; RESOURCE_EXHAUSTED when the memory cannot be allocated.
absl::StatusOr<std::string> HashPassword(std::string_view password,
                                         const PasswordHashParams& params = {});

// True iff `password` matches `encoded`. A malformed `encoded` is simply false.
bool VerifyPassword(std::string_view encoded, std::string_view password);

// True when `encoded` was made with parameters different from `params` (or with another
// algorithm, or is malformed), i.e. it should be replaced after the next successful verify.
bool NeedsRehash(std::string_view encoded, const PasswordHashParams& params = {});

}  // namespace coffer::crypto
