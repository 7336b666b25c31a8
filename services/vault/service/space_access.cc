#include "services/vault/service/space_access.h"

#include "pkg/status/status.h"
#include "services/vault/domain/ids.h"
#include "services/vault/domain/validation.h"

namespace coffer::vault::service {
namespace {

constexpr size_t kMaxRemembered = 100'000;

}  // namespace

absl::StatusOr<std::string> SpaceAccess::PersonalSpace(const Caller& caller) {
  std::string id = domain::PersonalSpaceId(caller.subject);
  {
    std::lock_guard lock(mu_);
    if (ensured_.count(id) > 0) return id;
  }
  COFFER_RETURN_IF_ERROR(spaces_.EnsurePersonalSpace(id, caller.subject, now_ms_()));
  std::lock_guard lock(mu_);
  if (ensured_.size() >= kMaxRemembered) ensured_.clear();
  ensured_.insert(id);
  return id;
}

absl::StatusOr<std::string> SpaceAccess::Resolve(const Caller& caller, const std::string& space_id,
                                                 domain::Role needed, std::string_view field) {
  if (space_id.empty()) return PersonalSpace(caller);
  if (!domain::IsUuid(space_id)) return domain::FieldError(field, "not a UUID");
  std::string id = domain::CanonicalUuid(space_id);
  if (id == domain::PersonalSpaceId(caller.subject)) return PersonalSpace(caller);
  COFFER_RETURN_IF_ERROR(Check(caller, id, needed, "space not found"));
  return id;
}

absl::Status SpaceAccess::Check(const Caller& caller, const std::string& space_id,
                                domain::Role needed, const std::string& not_found_message) {
  // The personal space needs no lookup: its id is the caller's own, with the owner role.
  if (space_id == domain::PersonalSpaceId(caller.subject)) return absl::OkStatus();
  COFFER_ASSIGN_OR_RETURN(std::optional<domain::Role> role,
                          spaces_.GetRole(space_id, caller.subject));
  if (!role) return absl::NotFoundError(not_found_message);
  if (static_cast<int>(*role) < static_cast<int>(needed)) {
    return absl::PermissionDeniedError("this needs the " + std::string(domain::RoleName(needed)) +
                                       " role in the space");
  }
  return absl::OkStatus();
}

}  // namespace coffer::vault::service
