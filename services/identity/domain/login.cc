#include "services/identity/domain/login.h"

#include "fmt/format.h"

namespace coffer::identity {
namespace {

bool IsAllowedLoginChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
         c == '-';
}

}  // namespace

absl::StatusOr<std::string> NormalizeLogin(std::string_view login) {
  if (login.empty()) return absl::InvalidArgumentError("login is required");
  if (login.size() < kMinLoginLength || login.size() > kMaxLoginLength) {
    return absl::InvalidArgumentError(
        fmt::format("login must be {} to {} characters long", kMinLoginLength, kMaxLoginLength));
  }
  std::string normalized;
  normalized.reserve(login.size());
  for (char c : login) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (!IsAllowedLoginChar(lower)) {
      return absl::InvalidArgumentError(
          "login may contain only letters a-z, digits and the characters . _ @ -");
    }
    normalized.push_back(lower);
  }
  return normalized;
}

}  // namespace coffer::identity
