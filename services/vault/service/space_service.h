// SpaceService: shared spaces, their members and invitations (docs/architecture.md §2, §3a) — the
// rules of who may do what; the transport maps the results to the SpaceService protos.
//
// Roles: readers read (and Sync/Watch); writers also write records and files; admins also
// invite, revoke invitations, remove members and change roles below admin and rename the space;
// the owner (exactly one) also grants and takes away admin, transfers ownership and deletes the
// space. A non-member gets NOT_FOUND (existence is never revealed); a member whose role is too
// low gets PERMISSION_DENIED naming the role needed. Personal spaces cannot be shared, left,
// renamed or deleted (FAILED_PRECONDITION).
//
// Every change is a set of register writes stamped with this shard's HLC
// (SpaceRepository::WriteRegisters), which replicate and converge on every shard: the owner is
// one register, so concurrent transfers leave one owner; a member's role is one register, so a
// removal and a concurrent grant resolve the same way everywhere; accepting an invitation twice
// (on two shards) writes the same membership. A write accepted from a member who was
// concurrently removed on another shard stands (it was authorized here when accepted).
//
// Lifecycle: borrows its collaborators. Threading: thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/domain/role.h"
#include "services/vault/repository/space_repository.h"
#include "services/vault/service/caller.h"
#include "services/vault/service/record_cipher.h"
#include "services/vault/service/space_access.h"
#include "services/vault/service/user_directory.h"

namespace coffer::vault::service {

// A space as the caller sees it.
struct SpaceInfo {
  std::string id;
  std::string name;  // decrypted; "Personal" for the personal space
  bool personal = false;
  std::string owner_id;
  domain::Role role = domain::Role::kReader;  // the caller's
  int member_count = 0;
  int64_t created_at_ms = 0;
};

// A member of a space as the caller sees it (the owner included, with Role::kOwner).
struct MemberInfo {
  std::string user_id;
  std::string login;  // empty when the directory does not answer
  domain::Role role = domain::Role::kReader;
  int64_t joined_at_ms = 0;
};

// An invitation as its inviter or invitee sees it.
struct InvitationInfo {
  std::string id;
  std::string space_id;
  std::string inviter_id;
  std::string invitee_id;
  domain::Role role = domain::Role::kReader;  // granted on accepting: reader, writer or admin
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
  std::string state;  // pending | accepted | declined | revoked | expired
  std::string space_name;
  std::string inviter_login;
  std::string invitee_login;
};

// Who to invite: a user id or a login (exactly one set).
struct Invitee {
  std::string user_id;
  std::string login;
};

struct SpaceServiceConfig {
  std::string shard_id;  // the origin of this shard's register writes
  int64_t default_invitation_ttl_ms = 7LL * 24 * 3600 * 1000;
  int64_t max_invitation_ttl_ms = 30LL * 24 * 3600 * 1000;
};

class SpaceService {
 public:
  using WallClockMs = std::function<int64_t()>;

  // `directory` may be null: inviting by login and member logins are then unavailable.
  SpaceService(SpaceServiceConfig config, repository::SpaceRepository& spaces, SpaceAccess& access,
               const RecordCipher& cipher, domain::Hlc& hlc, UserDirectory* directory,
               WallClockMs now_ms);

  // A new shared space owned by the caller.
  absl::StatusOr<SpaceInfo> Create(const Caller& caller, const std::string& name);
  // Any member may read; `space_id` empty = the caller's personal space.
  absl::StatusOr<SpaceInfo> Get(const Caller& caller, const std::string& space_id);
  // Every space of the caller: personal first, then by name, then id.
  absl::StatusOr<std::vector<SpaceInfo>> List(const Caller& caller);
  // Admin and owner only.
  absl::StatusOr<SpaceInfo> Rename(const Caller& caller, const std::string& space_id,
                                   const std::string& name);
  // Owner only.
  absl::Status Delete(const Caller& caller, const std::string& space_id);
  // Owner only; `user_id` must be a member already. The previous owner stays, as an admin.
  absl::StatusOr<SpaceInfo> TransferOwnership(const Caller& caller, const std::string& space_id,
                                              const std::string& user_id);

  // `role` reader, writer or admin (admin: owner only); `ttl_ms` 0 = the default.
  absl::StatusOr<InvitationInfo> Invite(const Caller& caller, const std::string& space_id,
                                        const Invitee& invitee, domain::Role role, int64_t ttl_ms);
  // The invitee answers a pending, unexpired invitation (FAILED_PRECONDITION otherwise); an
  // invitation addressed to someone else is NOT_FOUND.
  absl::StatusOr<SpaceInfo> Accept(const Caller& caller, const std::string& invitation_id);
  absl::Status Decline(const Caller& caller, const std::string& invitation_id);
  // An admin of the space withdraws a pending invitation.
  absl::Status Revoke(const Caller& caller, const std::string& invitation_id);
  // Pending invitations addressed to the caller (`space_id` empty), or of one space (admin).
  absl::StatusOr<std::vector<InvitationInfo>> ListInvitations(const Caller& caller,
                                                              const std::string& space_id);

  // Any member may list: the owner first, then by user id.
  absl::StatusOr<std::vector<MemberInfo>> ListMembers(const Caller& caller,
                                                      const std::string& space_id);
  // Admins change roles below admin, the owner also grants and takes away admin; nobody their
  // own role, and the owner's only through TransferOwnership.
  absl::StatusOr<MemberInfo> UpdateRole(const Caller& caller, const std::string& space_id,
                                        const std::string& user_id, domain::Role role);
  // An admin removes another member (not the owner; to remove yourself, Leave).
  absl::Status Remove(const Caller& caller, const std::string& space_id,
                      const std::string& user_id);
  // Any member but the owner (who must transfer ownership first).
  absl::Status Leave(const Caller& caller, const std::string& space_id);

  // SHA-256 (hex) over every membership register of the space, or "" when it has none (a
  // personal space): equal on every shard once they converged. For AdminService digests.
  absl::StatusOr<std::string> MembershipDigest(const std::string& space_id);

 private:
  // The shared space `space_id` (field "space_id") where the caller holds at least `needed`.
  absl::StatusOr<repository::SpaceView> SharedSpace(const Caller& caller,
                                                    const std::string& space_id,
                                                    domain::Role needed, std::string_view what);
  absl::StatusOr<SpaceInfo> Info(const repository::SpaceView& view) const;
  // The invitation addressed to the caller, or NOT_FOUND.
  absl::StatusOr<repository::InvitationRow> OwnInvitation(const Caller& caller,
                                                          const std::string& invitation_id);
  // `directory_down` is set once identity did not answer, so one request asks it at most once
  // in vain.
  absl::StatusOr<InvitationInfo> Describe(const Caller& caller,
                                          const repository::InvitationRow& row,
                                          bool* directory_down);
  std::string Login(const Caller& caller, const std::string& user_id, bool* directory_down);
  // A register write of `space_id` stamped now.
  repository::SpaceRegister Stamped(repository::SpaceRegister::Kind kind,
                                    const std::string& space_id);
  repository::SpaceRegister MemberWrite(const std::string& space_id, const std::string& user_id,
                                        std::string role);

  const SpaceServiceConfig config_;
  repository::SpaceRepository& spaces_;
  SpaceAccess& access_;
  const RecordCipher& cipher_;
  domain::Hlc& hlc_;
  UserDirectory* const directory_;
  WallClockMs now_ms_;
};

}  // namespace coffer::vault::service
