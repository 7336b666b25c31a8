// Internal to the identity_service*.cc files, which together implement IdentityService: the
// limits and helpers more than one of them uses. Not for any other code.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "pkg/auth/token_rejection.h"
#include "pkg/crypto/hash.h"
#include "pkg/log/log.h"

namespace coffer::identity::internal {

// Longest client secret accepted (bootstrap configuration, client authentication).
inline constexpr std::size_t kMaxClientSecretBytes = 256;

// The use cases' logger ("identity").
inline const log::Logger& Log() {
  static const log::Logger logger("identity");
  return logger;
}

// True when `scope` is one of `scopes` exactly.
inline bool HasScope(const std::vector<std::string>& scopes, std::string_view scope) {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

// True when `s` refuses a presented token itself (typed: auth::TokenRejectionOf); anything else
// (the database down, ...) is an infrastructure error to pass on.
inline bool IsTokenRejection(const absl::Status& s) {
  return auth::TokenRejectionOf(s).has_value();
}

// How a client secret is stored and compared: its SHA-256 (secrets are high-entropy).
inline std::string HashSecret(std::string_view secret) { return crypto::Sha256(secret); }

}  // namespace coffer::identity::internal
