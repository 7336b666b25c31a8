// Password policy for user accounts, checked at registration (never at login, so a tightened
// policy does not lock existing users out).
//
// Rules: valid UTF-8; at least `min_length` characters (code points; default 12, configurable);
// at most `max_bytes` bytes (1024: bounds the Argon2id input and the request size); not equal to
// the login, compared case-insensitively.
//
// Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace coffer::identity {

struct PasswordPolicy {
  std::size_t min_length = 12;
  std::size_t max_bytes = 1024;
};

// Hard ceiling for `PasswordPolicy::max_bytes`, whatever the configuration says.
inline constexpr std::size_t kMaxPasswordBytes = 1024;

// OK when `password` satisfies `policy` for the account `normalized_login` (see NormalizeLogin);
// otherwise INVALID_ARGUMENT with a message naming the rule (never the password).
absl::Status CheckPassword(const PasswordPolicy& policy, std::string_view password,
                           std::string_view normalized_login);

}  // namespace coffer::identity
