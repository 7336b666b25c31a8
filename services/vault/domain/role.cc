#include "services/vault/domain/role.h"

#include <utility>

namespace coffer::vault::domain {
namespace {

constexpr std::pair<Role, std::string_view> kRoleNames[] = {
    {Role::kReader, "reader"},
    {Role::kWriter, "writer"},
    {Role::kAdmin, "admin"},
    {Role::kOwner, "owner"},
};

}  // namespace

std::string_view RoleName(Role role) {
  for (const auto& [r, name] : kRoleNames) {
    if (r == role) return name;
  }
  return "unknown";
}

std::optional<Role> RoleFromName(std::string_view name) {
  for (const auto& [r, n] : kRoleNames) {
    if (n == name) return r;
  }
  return std::nullopt;
}

}  // namespace coffer::vault::domain
