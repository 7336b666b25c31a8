// Role: a member's power in a space (docs/architecture.md §2). Readers read (and Sync/Watch),
// writers also write records and files, admins also manage members and invitations, and the one
// owner also grants admin, transfers ownership and deletes the space (service/space_service.h).
//
// A domain value because every layer above speaks it: storage (member registers), the use cases
// (SpaceAccess checks it) and the API mapping (transport, v1::Role has the same numbering).
//
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace coffer::vault::domain {

// Roles in ascending power; a role grants everything the lower ones do. The numbers are the
// v1::Role values (transport casts between them).
enum class Role { kReader = 1, kWriter = 2, kAdmin = 3, kOwner = 4 };

// "reader", "writer", "admin", "owner" (as stored in member registers); "unknown" otherwise.
std::string_view RoleName(Role role);
// The role named `name`, or nullopt.
std::optional<Role> RoleFromName(std::string_view name);

}  // namespace coffer::vault::domain
