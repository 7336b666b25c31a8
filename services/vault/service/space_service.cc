#include "services/vault/service/space_service.h"

#include <algorithm>
#include <tuple>

#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"
#include "pkg/crypto/random.h"
#include "pkg/log/log.h"
#include "pkg/status/status.h"
#include "services/vault/domain/ids.h"
#include "services/vault/domain/validation.h"

namespace coffer::vault::service {
namespace {

using domain::Role;
using repository::SpaceRegister;

constexpr char kNamePurpose[] = "space-name";

absl::Status NeedsRole(Role role) {
  return absl::PermissionDeniedError("this needs the " + std::string(domain::RoleName(role)) +
                                     " role in the space");
}

bool AtLeast(Role have, Role needed) { return static_cast<int>(have) >= static_cast<int>(needed); }

std::string NewId() { return domain::UuidV4FromBytes(crypto::RandomBytes(16)); }

// A user id (a token subject: a UUID for people, a client id for service accounts): 1 to 256
// printable ASCII characters; INVALID_ARGUMENT naming `field` otherwise (not echoed).
absl::Status CheckUserId(std::string_view field, const std::string& id) {
  if (id.empty()) return domain::FieldError(field, "required");
  if (id.size() > 256) return domain::FieldError(field, "longer than 256 bytes");
  for (unsigned char c : id) {
    if (c < 0x21 || c > 0x7e) return domain::FieldError(field, "not a user id");
  }
  return absl::OkStatus();
}

// A canonical UUID from `value`, or INVALID_ARGUMENT naming `field` (the value is not echoed).
absl::StatusOr<std::string> Uuid(std::string_view field, const std::string& value) {
  if (value.empty()) return domain::FieldError(field, "required");
  if (!domain::IsUuid(value)) return domain::FieldError(field, "not a UUID");
  return domain::CanonicalUuid(value);
}

}  // namespace

SpaceService::SpaceService(SpaceServiceConfig config, repository::SpaceRepository& spaces,
                           SpaceAccess& access, const RecordCipher& cipher, domain::Hlc& hlc,
                           UserDirectory* directory, WallClockMs now_ms)
    : config_(std::move(config)),
      spaces_(spaces),
      access_(access),
      cipher_(cipher),
      hlc_(hlc),
      directory_(directory),
      now_ms_(std::move(now_ms)) {}

SpaceRegister SpaceService::Stamped(SpaceRegister::Kind kind, const std::string& space_id) {
  SpaceRegister r;
  r.kind = kind;
  r.space_id = space_id;
  r.hlc = hlc_.Now();
  r.origin_shard = config_.shard_id;
  return r;
}

SpaceRegister SpaceService::MemberWrite(const std::string& space_id, const std::string& user_id,
                                        std::string role) {
  SpaceRegister r = Stamped(SpaceRegister::Kind::kMember, space_id);
  r.user_id = user_id;
  r.member_role = std::move(role);
  r.joined_at_ms = now_ms_();
  return r;
}

absl::StatusOr<SpaceInfo> SpaceService::Info(const repository::SpaceView& view) const {
  SpaceInfo info{view.id,   view.name,         view.personal,     view.owner_id,
                 view.role, view.member_count, view.created_at_ms};
  if (!view.personal) {
    absl::StatusOr<std::string> name = cipher_.OpenToken(view.id, kNamePurpose, view.name_ct);
    if (!name.ok()) return absl::DataLossError("space name: cannot be opened");
    info.name = *std::move(name);
  }
  return info;
}

absl::StatusOr<repository::SpaceView> SpaceService::SharedSpace(const Caller& caller,
                                                                const std::string& space_id,
                                                                Role needed,
                                                                std::string_view what) {
  COFFER_ASSIGN_OR_RETURN(std::string id, Uuid("space_id", space_id));
  if (id == domain::PersonalSpaceId(caller.subject)) {
    return absl::FailedPreconditionError("the personal space cannot " + std::string(what));
  }
  COFFER_ASSIGN_OR_RETURN(std::optional<repository::SpaceView> view,
                          spaces_.GetSpace(id, caller.subject));
  if (!view) return absl::NotFoundError("space not found");
  if (view->personal) {
    return absl::FailedPreconditionError("a personal space cannot " + std::string(what));
  }
  if (!AtLeast(view->role, needed)) return NeedsRole(needed);
  return *std::move(view);
}

absl::StatusOr<SpaceInfo> SpaceService::Create(const Caller& caller, const std::string& name) {
  COFFER_RETURN_IF_ERROR(domain::ValidateSpaceName("name", name));
  const std::string id = NewId();
  SpaceRegister info = Stamped(SpaceRegister::Kind::kInfo, id);
  COFFER_ASSIGN_OR_RETURN(info.name_ct, cipher_.SealToken(id, kNamePurpose, name));
  info.created_at_ms = now_ms_();
  SpaceRegister owner = Stamped(SpaceRegister::Kind::kOwner, id);
  owner.owner_id = caller.subject;
  COFFER_RETURN_IF_ERROR(spaces_.WriteRegisters({info, owner}));
  return Get(caller, id);
}

absl::StatusOr<SpaceInfo> SpaceService::Get(const Caller& caller, const std::string& space_id) {
  COFFER_ASSIGN_OR_RETURN(std::string id,
                          access_.Resolve(caller, space_id, Role::kReader, "space_id"));
  COFFER_ASSIGN_OR_RETURN(std::optional<repository::SpaceView> view,
                          spaces_.GetSpace(id, caller.subject));
  if (!view) return absl::NotFoundError("space not found");
  return Info(*view);
}

absl::StatusOr<std::vector<SpaceInfo>> SpaceService::List(const Caller& caller) {
  COFFER_RETURN_IF_ERROR(access_.PersonalSpace(caller).status());
  COFFER_ASSIGN_OR_RETURN(std::vector<repository::SpaceView> views,
                          spaces_.ListSpaces(caller.subject));
  std::vector<SpaceInfo> out;
  for (const repository::SpaceView& v : views) {
    absl::StatusOr<SpaceInfo> info = Info(v);
    if (!info.ok()) {
      // One space whose name cannot be opened (a KEK no longer configured) must not hide the
      // caller's other spaces.
      log::Warn("a space's name cannot be opened; left out of the list", {{"space_id", v.id}});
      continue;
    }
    out.push_back(*std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const SpaceInfo& a, const SpaceInfo& b) {
    return std::make_tuple(!a.personal, a.name, a.id) < std::make_tuple(!b.personal, b.name, b.id);
  });
  return out;
}

absl::StatusOr<SpaceInfo> SpaceService::Rename(const Caller& caller, const std::string& space_id,
                                               const std::string& name) {
  COFFER_RETURN_IF_ERROR(domain::ValidateSpaceName("name", name));
  COFFER_ASSIGN_OR_RETURN(repository::SpaceView view,
                          SharedSpace(caller, space_id, Role::kAdmin, "be renamed"));
  SpaceRegister info = Stamped(SpaceRegister::Kind::kInfo, view.id);
  COFFER_ASSIGN_OR_RETURN(info.name_ct, cipher_.SealToken(view.id, kNamePurpose, name));
  info.created_at_ms = view.created_at_ms;
  COFFER_RETURN_IF_ERROR(spaces_.WriteRegisters({info}));
  return Get(caller, view.id);
}

absl::Status SpaceService::Delete(const Caller& caller, const std::string& space_id) {
  COFFER_ASSIGN_OR_RETURN(repository::SpaceView view,
                          SharedSpace(caller, space_id, Role::kOwner, "be deleted"));
  SpaceRegister info = Stamped(SpaceRegister::Kind::kInfo, view.id);
  info.name_ct = view.name_ct;
  info.created_at_ms = view.created_at_ms;
  info.deleted = true;
  return spaces_.WriteRegisters({info});
}

absl::StatusOr<SpaceInfo> SpaceService::TransferOwnership(const Caller& caller,
                                                          const std::string& space_id,
                                                          const std::string& user_id) {
  COFFER_ASSIGN_OR_RETURN(repository::SpaceView view,
                          SharedSpace(caller, space_id, Role::kOwner, "change owner"));
  COFFER_RETURN_IF_ERROR(CheckUserId("user_id", user_id));
  if (user_id == caller.subject) return domain::FieldError("user_id", "you already own the space");
  COFFER_ASSIGN_OR_RETURN(std::optional<Role> target, spaces_.GetRole(view.id, user_id));
  if (!target) {
    return absl::FailedPreconditionError("user_id: the new owner must be a member of the space");
  }
  SpaceRegister owner = Stamped(SpaceRegister::Kind::kOwner, view.id);
  owner.owner_id = user_id;
  // The previous owner stays, as an admin.
  COFFER_RETURN_IF_ERROR(
      spaces_.WriteRegisters({owner, MemberWrite(view.id, caller.subject, "admin")}));
  return Get(caller, view.id);
}

absl::StatusOr<InvitationInfo> SpaceService::Invite(const Caller& caller,
                                                    const std::string& space_id,
                                                    const Invitee& invitee, Role role,
                                                    int64_t ttl_ms) {
  if (role == Role::kOwner) {
    return domain::FieldError("role", "cannot invite an owner (transfer ownership instead)");
  }
  if (ttl_ms < 0 || ttl_ms > config_.max_invitation_ttl_ms) {
    return domain::FieldError("ttl", "must be between 0 (7 days) and 30 days");
  }
  COFFER_ASSIGN_OR_RETURN(repository::SpaceView view,
                          SharedSpace(caller, space_id, Role::kAdmin, "be shared"));
  if (role == Role::kAdmin && view.role != Role::kOwner) return NeedsRole(Role::kOwner);
  std::string invitee_id;
  if (!invitee.login.empty()) {
    if (directory_ == nullptr) {
      return absl::FailedPreconditionError(
          "login: this shard cannot look up logins; invite by "
          "user_id");
    }
    absl::StatusOr<UserProfile> user = directory_->LookupLogin(caller.bearer_token, invitee.login);
    if (absl::IsNotFound(user.status())) return absl::NotFoundError("login: no such user");
    if (!user.ok()) return user.status();
    invitee_id = user->user_id;
  } else {
    COFFER_RETURN_IF_ERROR(CheckUserId("user_id", invitee.user_id));
    invitee_id = invitee.user_id;
    if (directory_ != nullptr) {
      absl::StatusOr<UserProfile> user = directory_->GetUser(caller.bearer_token, invitee_id);
      if (absl::IsNotFound(user.status())) return absl::NotFoundError("user_id: no such user");
      if (!user.ok()) return user.status();
    }
  }
  if (invitee_id == caller.subject) return absl::AlreadyExistsError("you are already a member");
  COFFER_ASSIGN_OR_RETURN(std::optional<Role> current, spaces_.GetRole(view.id, invitee_id));
  if (current) return absl::AlreadyExistsError("the user is already a member of the space");
  const int64_t now = now_ms_();
  COFFER_ASSIGN_OR_RETURN(std::vector<repository::InvitationRow> pending,
                          spaces_.ListPendingInvitations(invitee_id, view.id, now));
  if (!pending.empty()) {
    return absl::AlreadyExistsError("the user already has a pending invitation to the space");
  }
  SpaceRegister write = Stamped(SpaceRegister::Kind::kInvitation, view.id);
  repository::InvitationRow& row = write.invitation;
  row.id = NewId();
  row.space_id = view.id;
  row.inviter_id = caller.subject;
  row.invitee_id = invitee_id;
  row.role = role;
  row.state = "pending";
  row.created_at_ms = now;
  row.expires_at_ms = now + (ttl_ms == 0 ? config_.default_invitation_ttl_ms : ttl_ms);
  COFFER_RETURN_IF_ERROR(spaces_.WriteRegisters({write}));
  bool directory_down = false;
  return Describe(caller, row, &directory_down);
}

absl::StatusOr<repository::InvitationRow> SpaceService::OwnInvitation(
    const Caller& caller, const std::string& invitation_id) {
  COFFER_ASSIGN_OR_RETURN(std::string id, Uuid("invitation_id", invitation_id));
  COFFER_ASSIGN_OR_RETURN(std::optional<repository::InvitationRow> row, spaces_.GetInvitation(id));
  if (!row || row->invitee_id != caller.subject) {
    return absl::NotFoundError("invitation not found");
  }
  return *std::move(row);
}

absl::StatusOr<SpaceInfo> SpaceService::Accept(const Caller& caller,
                                               const std::string& invitation_id) {
  COFFER_ASSIGN_OR_RETURN(repository::InvitationRow row, OwnInvitation(caller, invitation_id));
  if (row.state != "pending") {
    return absl::FailedPreconditionError("the invitation was already " + row.state);
  }
  if (row.expires_at_ms <= now_ms_()) {
    return absl::FailedPreconditionError("the invitation expired");
  }
  COFFER_ASSIGN_OR_RETURN(std::optional<std::string> name, spaces_.GetSpaceNameCt(row.space_id));
  if (!name) return absl::FailedPreconditionError("the space was deleted");
  SpaceRegister accepted = Stamped(SpaceRegister::Kind::kInvitation, row.space_id);
  accepted.invitation = row;
  accepted.invitation.state = "accepted";
  std::vector<SpaceRegister> writes{accepted};
  // Accepting never lowers a role the user holds already (e.g. granted meanwhile).
  COFFER_ASSIGN_OR_RETURN(std::optional<Role> current,
                          spaces_.GetRole(row.space_id, caller.subject));
  if (!current || !AtLeast(*current, row.role)) {
    writes.push_back(
        MemberWrite(row.space_id, caller.subject, std::string(domain::RoleName(row.role))));
  }
  COFFER_RETURN_IF_ERROR(spaces_.WriteRegisters(writes));
  return Get(caller, row.space_id);
}

absl::Status SpaceService::Decline(const Caller& caller, const std::string& invitation_id) {
  COFFER_ASSIGN_OR_RETURN(repository::InvitationRow row, OwnInvitation(caller, invitation_id));
  if (row.state != "pending") {
    return absl::FailedPreconditionError("the invitation was already " + row.state);
  }
  SpaceRegister declined = Stamped(SpaceRegister::Kind::kInvitation, row.space_id);
  declined.invitation = row;
  declined.invitation.state = "declined";
  return spaces_.WriteRegisters({declined});
}

absl::Status SpaceService::Revoke(const Caller& caller, const std::string& invitation_id) {
  COFFER_ASSIGN_OR_RETURN(std::string id, Uuid("invitation_id", invitation_id));
  COFFER_ASSIGN_OR_RETURN(std::optional<repository::InvitationRow> row, spaces_.GetInvitation(id));
  if (!row) return absl::NotFoundError("invitation not found");
  // Only the space's members learn that the invitation exists.
  absl::StatusOr<repository::SpaceView> view =
      SharedSpace(caller, row->space_id, Role::kAdmin, "have invitations");
  if (absl::IsNotFound(view.status())) return absl::NotFoundError("invitation not found");
  if (!view.ok()) return view.status();
  if (row->state != "pending") {
    return absl::FailedPreconditionError("the invitation was already " + row->state);
  }
  SpaceRegister revoked = Stamped(SpaceRegister::Kind::kInvitation, row->space_id);
  revoked.invitation = *row;
  revoked.invitation.state = "revoked";
  return spaces_.WriteRegisters({revoked});
}

std::string SpaceService::Login(const Caller& caller, const std::string& user_id,
                                bool* directory_down) {
  if (directory_ == nullptr || user_id.empty() || *directory_down) return "";
  absl::StatusOr<UserProfile> user = directory_->GetUser(caller.bearer_token, user_id);
  // Identity unreachable: the rest of this answer goes without logins instead of waiting once
  // per row.
  if (absl::IsUnavailable(user.status()) || absl::IsDeadlineExceeded(user.status())) {
    *directory_down = true;
  }
  return user.ok() ? user->login : "";
}

absl::StatusOr<InvitationInfo> SpaceService::Describe(const Caller& caller,
                                                      const repository::InvitationRow& row,
                                                      bool* directory_down) {
  InvitationInfo info;
  info.id = row.id;
  info.space_id = row.space_id;
  info.inviter_id = row.inviter_id;
  info.invitee_id = row.invitee_id;
  info.role = row.role;
  info.created_at_ms = row.created_at_ms;
  info.expires_at_ms = row.expires_at_ms;
  info.state = row.state == "pending" && row.expires_at_ms <= now_ms_() ? "expired" : row.state;
  COFFER_ASSIGN_OR_RETURN(std::optional<std::string> name_ct, spaces_.GetSpaceNameCt(row.space_id));
  if (name_ct) {
    absl::StatusOr<std::string> name = cipher_.OpenToken(row.space_id, kNamePurpose, *name_ct);
    if (name.ok()) info.space_name = *std::move(name);
  }
  info.inviter_login = Login(caller, row.inviter_id, directory_down);
  info.invitee_login = Login(caller, row.invitee_id, directory_down);
  return info;
}

absl::StatusOr<std::vector<InvitationInfo>> SpaceService::ListInvitations(
    const Caller& caller, const std::string& space_id) {
  std::vector<repository::InvitationRow> rows;
  if (space_id.empty()) {
    COFFER_ASSIGN_OR_RETURN(rows, spaces_.ListPendingInvitations(caller.subject, "", now_ms_()));
  } else {
    COFFER_ASSIGN_OR_RETURN(repository::SpaceView view,
                            SharedSpace(caller, space_id, Role::kAdmin, "have invitations"));
    COFFER_ASSIGN_OR_RETURN(rows, spaces_.ListPendingInvitations("", view.id, now_ms_()));
  }
  std::vector<InvitationInfo> out;
  bool directory_down = false;
  for (const repository::InvitationRow& row : rows) {
    COFFER_ASSIGN_OR_RETURN(InvitationInfo info, Describe(caller, row, &directory_down));
    out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<std::vector<MemberInfo>> SpaceService::ListMembers(const Caller& caller,
                                                                  const std::string& space_id) {
  COFFER_ASSIGN_OR_RETURN(std::string id,
                          access_.Resolve(caller, space_id, Role::kReader, "space_id"));
  COFFER_ASSIGN_OR_RETURN(std::vector<repository::MemberView> members, spaces_.ListMembers(id));
  std::vector<MemberInfo> out;
  bool directory_down = false;
  for (const repository::MemberView& m : members) {
    out.push_back({m.user_id, Login(caller, m.user_id, &directory_down), m.role, m.joined_at_ms});
  }
  return out;
}

absl::StatusOr<MemberInfo> SpaceService::UpdateRole(const Caller& caller,
                                                    const std::string& space_id,
                                                    const std::string& user_id, Role role) {
  if (role == Role::kOwner) {
    return domain::FieldError("role", "the owner changes only by TransferOwnership");
  }
  COFFER_ASSIGN_OR_RETURN(repository::SpaceView view,
                          SharedSpace(caller, space_id, Role::kAdmin, "have roles"));
  COFFER_RETURN_IF_ERROR(CheckUserId("user_id", user_id));
  if (user_id == caller.subject) {
    return absl::FailedPreconditionError("user_id: you cannot change your own role");
  }
  COFFER_ASSIGN_OR_RETURN(std::optional<Role> current, spaces_.GetRole(view.id, user_id));
  if (!current) return absl::NotFoundError("member not found");
  if (*current == Role::kOwner) {
    return absl::FailedPreconditionError("the owner changes only by TransferOwnership");
  }
  // Granting or taking away admin is the owner's.
  if ((role == Role::kAdmin || *current == Role::kAdmin) && view.role != Role::kOwner) {
    return NeedsRole(Role::kOwner);
  }
  SpaceRegister write = MemberWrite(view.id, user_id, std::string(domain::RoleName(role)));
  COFFER_RETURN_IF_ERROR(spaces_.WriteRegisters({write}));
  bool directory_down = false;
  return MemberInfo{user_id, Login(caller, user_id, &directory_down), role, write.joined_at_ms};
}

absl::Status SpaceService::Remove(const Caller& caller, const std::string& space_id,
                                  const std::string& user_id) {
  COFFER_ASSIGN_OR_RETURN(repository::SpaceView view,
                          SharedSpace(caller, space_id, Role::kAdmin, "have members removed"));
  COFFER_RETURN_IF_ERROR(CheckUserId("user_id", user_id));
  if (user_id == caller.subject) {
    return absl::FailedPreconditionError("user_id: to remove yourself, leave the space");
  }
  COFFER_ASSIGN_OR_RETURN(std::optional<Role> current, spaces_.GetRole(view.id, user_id));
  if (!current) return absl::NotFoundError("member not found");
  if (*current == Role::kOwner) {
    return absl::FailedPreconditionError("the owner cannot be removed");
  }
  if (*current == Role::kAdmin && view.role != Role::kOwner) return NeedsRole(Role::kOwner);
  return spaces_.WriteRegisters({MemberWrite(view.id, user_id, "removed")});
}

absl::Status SpaceService::Leave(const Caller& caller, const std::string& space_id) {
  COFFER_ASSIGN_OR_RETURN(repository::SpaceView view,
                          SharedSpace(caller, space_id, Role::kReader, "be left"));
  if (view.role == Role::kOwner) {
    return absl::FailedPreconditionError("the owner cannot leave; transfer ownership first");
  }
  return spaces_.WriteRegisters({MemberWrite(view.id, caller.subject, "removed")});
}

absl::StatusOr<std::string> SpaceService::MembershipDigest(const std::string& space_id) {
  COFFER_ASSIGN_OR_RETURN(std::string id, Uuid("space_id", space_id));
  COFFER_ASSIGN_OR_RETURN(std::vector<SpaceRegister> registers, spaces_.ListRegisters(id));
  if (registers.empty()) return std::string();
  std::vector<std::string> lines;
  for (const SpaceRegister& r : registers) {
    std::string line = repository::RegisterKey(r) + "|" + std::to_string(r.hlc) + "|" +
                       r.origin_shard + "|" + crypto::HexEncode(crypto::Sha256(r.name_ct)) + "|" +
                       (r.deleted ? "d" : "-") + "|" + std::to_string(r.created_at_ms) + "|" +
                       r.owner_id + "|" + r.member_role + "|" + std::to_string(r.joined_at_ms);
    if (r.kind == SpaceRegister::Kind::kInvitation) {
      const repository::InvitationRow& i = r.invitation;
      line += "|" + i.inviter_id + "|" + i.invitee_id + "|" +
              std::string(domain::RoleName(i.role)) + "|" + i.state + "|" +
              std::to_string(i.created_at_ms) + "|" + std::to_string(i.expires_at_ms);
    }
    lines.push_back(std::move(line));
  }
  std::sort(lines.begin(), lines.end());
  std::string material;
  for (const std::string& line : lines) material += crypto::HexEncode(crypto::Sha256(line));
  return crypto::HexEncode(crypto::Sha256(material));
}

}  // namespace coffer::vault::service
