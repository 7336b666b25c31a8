// Binary-to-text encodings: base64url without padding (JWT, JWKS, tokens), standard base64 with
// padding (key specs, PEM-like config) and lowercase hex (digests in logs/tests).
//
// Byte strings are carried in std::string throughout coffer::crypto (like protobuf `bytes`).
// Decoders are strict (libsodium): they reject characters outside the alphabet, wrong padding,
// and non-zero trailing bits, so one value has exactly one encoding. All functions are pure and
// thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace coffer::crypto {

// RFC 4648 §5 alphabet ('-', '_'), no '=' padding.
std::string Base64UrlEncode(std::string_view bytes);
// INVALID_ARGUMENT on any character outside the alphabet, on padding, or on a bad length.
absl::StatusOr<std::string> Base64UrlDecode(std::string_view text);

// RFC 4648 §4 alphabet ('+', '/') with '=' padding.
std::string Base64Encode(std::string_view bytes);
// INVALID_ARGUMENT unless `text` is canonical padded standard base64.
absl::StatusOr<std::string> Base64Decode(std::string_view text);

// Lowercase hex.
std::string HexEncode(std::string_view bytes);
// Accepts upper or lower case; INVALID_ARGUMENT on odd length or a non-hex character.
absl::StatusOr<std::string> HexDecode(std::string_view text);

}  // namespace coffer::crypto
