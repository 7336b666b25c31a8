#include "services/identity/domain/password_policy.h"

#include <algorithm>
#include <string>

#include "fmt/format.h"
#include "services/identity/domain/validation.h"

namespace coffer::identity {
namespace {

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

}  // namespace

absl::Status CheckPassword(const PasswordPolicy& policy, std::string_view password,
                           std::string_view normalized_login) {
  if (password.empty()) return absl::InvalidArgumentError("password is required");
  const std::size_t max_bytes = std::min(policy.max_bytes, kMaxPasswordBytes);
  if (password.size() > max_bytes) {
    return absl::InvalidArgumentError(
        fmt::format("password is too long (at most {} bytes)", max_bytes));
  }
  if (!IsValidUtf8(password)) return absl::InvalidArgumentError("password is not valid UTF-8");
  if (CountCodePoints(password) < policy.min_length) {
    return absl::InvalidArgumentError(
        fmt::format("password must be at least {} characters long", policy.min_length));
  }
  if (!normalized_login.empty() && AsciiLower(password) == normalized_login) {
    return absl::InvalidArgumentError("password must not be the login");
  }
  return absl::OkStatus();
}

}  // namespace coffer::identity
