// Authenticated encryption with AES-256-GCM (OpenSSL 3), the at-rest cipher for record
// payloads, names and metadata (docs/architecture.md §6).
//
// Wire format of a sealed value: nonce (12 random bytes) || ciphertext || tag (16 bytes), so a
// sealed value is always exactly plaintext size + 28 bytes. The nonce is random per call; with
// 96-bit random nonces keep well under 2^32 messages per key (per-space keys derived by
// Keyring make this easy).
//
// Error codes (chosen once, used by every caller):
//   INVALID_ARGUMENT — the caller passed a key that is not 32 bytes (a programming/config bug);
//   DATA_LOSS        — the sealed bytes are truncated, were altered, or do not match the key or
//                      the associated data: the stored data cannot be trusted.
// Messages never contain key material or plaintext. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace coffer::crypto {

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;
inline constexpr size_t kAeadOverhead = kAeadNonceSize + kAeadTagSize;

// Encrypts and authenticates `plaintext`, binding it to `aad` (authenticated, not encrypted,
// not stored: the opener must pass the same aad, e.g. "space|record|version").
absl::StatusOr<std::string> Seal(std::string_view key, std::string_view plaintext,
                                 std::string_view aad);

// Reverses Seal. See the error codes above.
absl::StatusOr<std::string> Open(std::string_view key, std::string_view sealed,
                                 std::string_view aad);

}  // namespace coffer::crypto
