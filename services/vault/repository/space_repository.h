// SpaceRepository: spaces and memberships (authorization = membership, DESIGN.md §2).
//
// Threading: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace coffer::vault::repository {

// Roles in ascending power; a role grants everything the lower ones do.
enum class Role { kReader = 1, kWriter = 2, kAdmin = 3, kOwner = 4 };

std::string_view RoleName(Role role);
std::optional<Role> RoleFromName(std::string_view name);

// A space as seen by one member.
struct SpaceView {
  std::string id;
  std::string name;
  bool personal = false;
  std::string owner_id;
  Role role = Role::kReader;  // the viewing member's role
  int member_count = 0;
  int64_t created_at_ms = 0;
};

class SpaceRepository {
 public:
  virtual ~SpaceRepository() = default;

  // Creates `user_id`'s personal space with id `space_id` and its owner membership unless it
  // exists (idempotent; concurrent callers are fine).
  virtual absl::Status EnsurePersonalSpace(const std::string& space_id, const std::string& user_id,
                                           int64_t now_ms) = 0;

  // `user_id`'s role in the space, or nullopt when not a member (or no such space).
  virtual absl::StatusOr<std::optional<Role>> GetRole(const std::string& space_id,
                                                      const std::string& user_id) = 0;

  // The space as seen by `user_id`, or nullopt when not a member.
  virtual absl::StatusOr<std::optional<SpaceView>> GetSpace(const std::string& space_id,
                                                            const std::string& user_id) = 0;

  // Every space `user_id` is a member of: the personal space first, then by name, then id.
  virtual absl::StatusOr<std::vector<SpaceView>> ListSpaces(const std::string& user_id) = 0;
};

}  // namespace coffer::vault::repository
