// SpaceAccess: authorization by space membership (docs/architecture.md §2), in one place.
//
// A space the caller is not a member of is NOT_FOUND (existence is never revealed); a member
// whose role is too low gets PERMISSION_DENIED. The caller's personal space (id derived from
// the subject, domain/ids.h) is created on first use.
//
// Lifecycle: borrows the repository. Threading: thread-safe; remembers (bounded) which personal
// spaces it already ensured, so first use costs one extra statement per subject and process.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <unordered_set>

#include "absl/status/statusor.h"
#include "services/vault/domain/role.h"
#include "services/vault/repository/space_repository.h"
#include "services/vault/service/caller.h"

namespace coffer::vault::service {

class SpaceAccess {
 public:
  using WallClockMs = std::function<int64_t()>;

  SpaceAccess(repository::SpaceRepository& spaces, WallClockMs now_ms)
      : spaces_(spaces), now_ms_(std::move(now_ms)) {}

  // Resolves a request's space id (empty = the caller's personal space, created if needed) and
  // checks that the caller holds at least `needed` there. Returns the canonical space id.
  // INVALID_ARGUMENT "<field>: not a UUID" for a malformed id.
  absl::StatusOr<std::string> Resolve(const Caller& caller, const std::string& space_id,
                                      domain::Role needed, std::string_view field);

  // Checks the caller's role in the space a stored record belongs to. NOT_FOUND (with
  // `not_found_message`) when not a member.
  absl::Status Check(const Caller& caller, const std::string& space_id, domain::Role needed,
                     const std::string& not_found_message);

  // The caller's personal space, created if needed.
  absl::StatusOr<std::string> PersonalSpace(const Caller& caller);

 private:
  repository::SpaceRepository& spaces_;
  WallClockMs now_ms_;
  std::mutex mu_;
  std::unordered_set<std::string> ensured_;  // personal space ids known to exist
};

}  // namespace coffer::vault::service
