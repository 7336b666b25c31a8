#include "services/identity/domain/scopes.h"

#include <algorithm>

#include "fmt/format.h"
#include "pkg/crypto/encoding.h"

namespace coffer::identity {
namespace {

bool IsScopeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ':' || c == '.' || c == '_' ||
         c == '-';
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

absl::Status ValidateName(std::string_view what, std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError(fmt::format("{} is required", what));
  if (name.size() > 64) {
    return absl::InvalidArgumentError(fmt::format("{} must be at most 64 characters", what));
  }
  if (!std::all_of(name.begin(), name.end(), IsNameChar)) {
    return absl::InvalidArgumentError(
        fmt::format("{} may contain only letters, digits and . _ -", what));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateScope(std::string_view scope) {
  if (scope.empty()) return absl::InvalidArgumentError("scope must not be empty");
  if (scope.size() > kMaxScopeLength) {
    return absl::InvalidArgumentError(
        fmt::format("scope must be at most {} characters", kMaxScopeLength));
  }
  if (!std::all_of(scope.begin(), scope.end(), IsScopeChar)) {
    return absl::InvalidArgumentError("scope may contain only a-z, 0-9 and : . _ -");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> NormalizeScopes(const std::vector<std::string>& scopes) {
  if (scopes.size() > kMaxScopes) {
    return absl::InvalidArgumentError(fmt::format("at most {} scopes are allowed", kMaxScopes));
  }
  for (const auto& s : scopes) {
    if (absl::Status st = ValidateScope(s); !st.ok()) return st;
  }
  std::vector<std::string> out = scopes;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::StatusOr<std::vector<std::string>> ParseScopeString(std::string_view scope) {
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i < scope.size()) {
    std::size_t j = scope.find(' ', i);
    if (j == std::string_view::npos) j = scope.size();
    if (j > i) {
      if (parts.size() >= kMaxScopes) {
        return absl::InvalidArgumentError(fmt::format("at most {} scopes are allowed", kMaxScopes));
      }
      parts.emplace_back(scope.substr(i, j - i));
    }
    i = j + 1;
  }
  return NormalizeScopes(parts);
}

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out.push_back(' ');
    out += s;
  }
  return out;
}

bool ScopeStringHas(std::string_view scope, std::string_view wanted) {
  if (wanted.empty()) return false;
  std::size_t i = 0;
  while (i <= scope.size()) {
    std::size_t j = scope.find(' ', i);
    if (j == std::string_view::npos) j = scope.size();
    if (scope.substr(i, j - i) == wanted) return true;
    i = j + 1;
  }
  return false;
}

absl::StatusOr<std::vector<std::string>> GrantScopes(std::string_view requested,
                                                     const std::vector<std::string>& allowed) {
  auto wanted = ParseScopeString(requested);
  if (!wanted.ok()) return wanted.status();
  if (wanted->empty()) return NormalizeScopes(allowed);
  for (const auto& s : *wanted) {
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
      return absl::PermissionDeniedError(
          fmt::format("scope \"{}\" is not granted to this service account", s));
    }
  }
  return wanted;
}

absl::Status ValidateServiceAccountName(std::string_view name) {
  return ValidateName("service account name", name);
}

absl::Status ValidateClientId(std::string_view client_id) {
  return ValidateName("client_id", client_id);
}

std::string EncodeServiceAccountPageToken(std::string_view last_name) {
  return crypto::Base64UrlEncode(last_name);
}

absl::StatusOr<std::string> DecodeServiceAccountPageToken(std::string_view token) {
  auto decoded = token.size() <= kMaxPageTokenBytes
                     ? crypto::Base64UrlDecode(token)
                     : absl::StatusOr<std::string>(absl::InvalidArgumentError(""));
  if (!decoded.ok() || ValidateServiceAccountName(*decoded).ok() == false) {
    return absl::InvalidArgumentError("page_token is invalid");
  }
  return decoded;
}

}  // namespace coffer::identity
