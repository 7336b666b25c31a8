// Login-name rules for user accounts.
//
// A login is 3..64 characters from [a-z0-9._@-] after ASCII lowercasing, so "Alice@Example.com"
// and "alice@example.com" are the same account. Only the normalized form is stored, which makes
// the database's unique constraint enforce case-insensitive uniqueness by itself.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace coffer::identity {

inline constexpr std::size_t kMinLoginLength = 3;
inline constexpr std::size_t kMaxLoginLength = 64;

// Returns the canonical (lowercase) form of `login`, or INVALID_ARGUMENT naming the broken rule.
// The message never echoes the input.
absl::StatusOr<std::string> NormalizeLogin(std::string_view login);

}  // namespace coffer::identity
