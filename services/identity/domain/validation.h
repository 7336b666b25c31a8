// Input checks shared by every use case: every string a client sends is bounded, UTF-8, and
// (where it must be) non-empty, so malformed input fails early with INVALID_ARGUMENT and a
// message that names the field but never echoes its value (it may be a secret).
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace coffer::identity {

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Number of Unicode code points in `s`; `s` must be valid UTF-8.
std::size_t CountCodePoints(std::string_view s);

// INVALID_ARGUMENT when `value` is empty (and `required`), longer than `max_bytes`, or not UTF-8.
// `field` names the field in the message ("login", "refresh_token"); the value is never echoed.
absl::Status CheckStringField(std::string_view field, std::string_view value, std::size_t max_bytes,
                              bool required = true);

// True when `s` is a UUID in canonical text form (8-4-4-4-12 hex digits, either case).
bool IsUuid(std::string_view s);

// Longest display name, in Unicode code points.
inline constexpr std::size_t kMaxDisplayNameChars = 64;

// INVALID_ARGUMENT (naming the field "display_name", never echoing it) unless `name` is 0 to
// kMaxDisplayNameChars code points of valid UTF-8 without control characters (Unicode category
// Cc: U+0000..U+001F, U+007F..U+009F). Empty is valid: the name is optional.
absl::Status ValidateDisplayName(std::string_view name);

// Upper bound for any token a client sends (access JWTs are ~600 bytes, refresh tokens ~50).
inline constexpr std::size_t kMaxTokenBytes = 8192;

}  // namespace coffer::identity
