// Hashing, MACs and key derivation (OpenSSL 3). All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace coffer::crypto {

inline constexpr size_t kSha256Size = 32;

// SHA-256 digest (32 raw bytes). Used for content addressing (blobs) and cache keys.
std::string Sha256(std::string_view bytes);

// Incremental SHA-256 for content that arrives in pieces (file uploads): Update() any number of
// times, then Finish() once for the 32-byte digest of everything given. Not copyable; one
// thread at a time.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;

  void Update(std::string_view bytes);
  // The digest; the stream must not be used afterwards.
  std::string Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// HMAC-SHA-256 (RFC 2104 / RFC 4231), 32 raw bytes. Any key length is accepted.
std::string HmacSha256(std::string_view key, std::string_view message);

// HKDF-SHA-256 (RFC 5869) extract-and-expand: `length` bytes of output keying material.
// An empty salt means the RFC's default (HashLen zero bytes). INVALID_ARGUMENT when `length` is
// 0 or larger than 255 * 32.
absl::StatusOr<std::string> HkdfSha256(std::string_view ikm, std::string_view salt,
                                       std::string_view info, size_t length);

// Compares two byte strings in time that depends only on their lengths, never on where they
// differ (use for MACs, token hashes, verification codes). Different lengths → false.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace coffer::crypto
