// Scope checks for authorization of admin calls (docs/architecture.md §6: scopes gate admin
// calls).
#pragma once

#include <string_view>

#include "pkg/auth/jwt.h"

namespace coffer::auth {

// True iff `scope` is exactly one of the token's scopes (no prefix or wildcard matching:
// "vault.admin" does not grant "vault.admin.read" and vice versa).
bool HasScope(const Claims& claims, std::string_view scope);

}  // namespace coffer::auth
