// Caller: who is making a request, as established by token verification in the transport.
//
// The owner of everything a request touches is always the token's subject
// (docs/architecture.md §2); no request field can name another user. Value type.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace coffer::vault::service {

// The scope admin RPCs require (AdminService.GetShardStatus / GetSpaceDigest).
inline constexpr char kAdminScope[] = "vault.admin";

struct Caller {
  std::string subject;              // token `sub`: the user or service account id
  std::vector<std::string> scopes;  // token `scope`, split
  // The verified access token itself, for calls made on the caller's behalf (UserDirectory).
  // Secret: never logged, stored or put in an error.
  std::string bearer_token;

  bool HasScope(const std::string& scope) const {
    return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
  }
};

// PERMISSION_DENIED unless the caller's token carries `scope`.
inline absl::Status RequireScope(const Caller& caller, const std::string& scope) {
  if (caller.HasScope(scope)) return absl::OkStatus();
  return absl::PermissionDeniedError("this call needs the " + scope + " scope");
}

}  // namespace coffer::vault::service
