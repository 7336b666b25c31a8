#include "pkg/auth/scope.h"

#include <algorithm>

namespace coffer::auth {

bool HasScope(const Claims& claims, std::string_view scope) {
  if (scope.empty()) return false;
  return std::any_of(claims.scope.begin(), claims.scope.end(),
                     [&](const std::string& s) { return s == scope; });
}

}  // namespace coffer::auth
