// SpaceRepository: spaces, members and invitations (authorization = membership,
// docs/architecture.md §2, §3a).
//
// Shared spaces are made of registers that converge across shards (last writer by (hlc,
// origin) wins): a space's info (sealed name, deleted) and owner, one register per member
// (role or removed) and one per invitation. A local change writes its registers and queues them
// for the relay in one transaction (WriteRegisters); a received one merges through the same
// rule (PgSyncRepository::ApplyBatch). Personal spaces are not registers: each shard creates a
// user's personal space on first use, with the same id everywhere.
//
// Threading: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/vault/domain/role.h"

namespace coffer::vault::repository {

// Roles are a domain value (domain/role.h); named here unqualified as the stores use them.
using domain::Role;
using domain::RoleFromName;
using domain::RoleName;

// A space as seen by one member.
struct SpaceView {
  std::string id;
  std::string name;     // personal spaces ("Personal"); empty for shared ones
  std::string name_ct;  // shared spaces: the sealed name (service::RecordCipher tokens)
  bool personal = false;
  std::string owner_id;
  Role role = Role::kReader;  // the viewing member's role
  int member_count = 0;       // the owner included
  int64_t created_at_ms = 0;
};

// One member of a space (the owner included, with Role::kOwner).
struct MemberView {
  std::string user_id;
  Role role = Role::kReader;
  int64_t joined_at_ms = 0;
};

// An invitation as stored. `state` is "pending", "accepted", "declined" or "revoked"; a pending
// one past `expires_at_ms` is expired (decided when read, not stored).
struct InvitationRow {
  std::string id;
  std::string space_id;
  std::string inviter_id;
  std::string invitee_id;
  Role role = Role::kReader;  // reader, writer or admin
  std::string state = "pending";
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;

  friend bool operator==(const InvitationRow&, const InvitationRow&) = default;
};

// One write of one register of a shared space (docs/architecture.md §3a), as stored, queued and
// replicated.
struct SpaceRegister {
  enum class Kind { kInfo, kOwner, kMember, kInvitation };
  Kind kind = Kind::kInfo;
  std::string space_id;
  // The write's stamp: of two writes of one register the greater (hlc, origin_shard) wins.
  uint64_t hlc = 0;
  std::string origin_shard;
  // kInfo: the sealed name, whether the space is deleted, its creation time.
  std::string name_ct;
  bool deleted = false;
  int64_t created_at_ms = 0;
  // kOwner
  std::string owner_id;
  // kMember: `member_role` is "reader", "writer", "admin" or "removed".
  std::string user_id;
  std::string member_role;
  int64_t joined_at_ms = 0;
  // kInvitation
  InvitationRow invitation;

  friend bool operator==(const SpaceRegister&, const SpaceRegister&) = default;
};

// The register's identity within its space, e.g. "member|<user_id>" (event keys, digests).
std::string RegisterKey(const SpaceRegister& r);
// The queued form (space_outbox.change) and back; INVALID_ARGUMENT when malformed.
std::string RegisterToJson(const SpaceRegister& r);
absl::StatusOr<SpaceRegister> RegisterFromJson(const std::string& json);

class SpaceRepository {
 public:
  virtual ~SpaceRepository() = default;

  // Creates `user_id`'s personal space with id `space_id` and its owner membership unless it
  // exists (idempotent; concurrent callers are fine).
  virtual absl::Status EnsurePersonalSpace(const std::string& space_id, const std::string& user_id,
                                           int64_t now_ms) = 0;

  // `user_id`'s role in the space, or nullopt when not a member (removed, never one, or the
  // space is deleted or unknown).
  virtual absl::StatusOr<std::optional<Role>> GetRole(const std::string& space_id,
                                                      const std::string& user_id) = 0;

  // The space as seen by `user_id`, or nullopt when not a member.
  virtual absl::StatusOr<std::optional<SpaceView>> GetSpace(const std::string& space_id,
                                                            const std::string& user_id) = 0;

  // Every space `user_id` is a member of (personal first; the service orders shared ones by
  // their decrypted names).
  virtual absl::StatusOr<std::vector<SpaceView>> ListSpaces(const std::string& user_id) = 0;

  // The space's members: the owner first, then by user id. Empty when the space is unknown.
  virtual absl::StatusOr<std::vector<MemberView>> ListMembers(const std::string& space_id) = 0;

  // One invitation, or nullopt.
  virtual absl::StatusOr<std::optional<InvitationRow>> GetInvitation(const std::string& id) = 0;
  // A shared space's sealed name whatever the caller's membership (an invitation shows it to its
  // invitee), or nullopt when unknown or deleted.
  virtual absl::StatusOr<std::optional<std::string>> GetSpaceNameCt(
      const std::string& space_id) = 0;
  // Pending invitations addressed to `invitee_id` (of spaces not deleted), or of space
  // `space_id`; expired ones (expires_at_ms <= now_ms) left out. Oldest first.
  virtual absl::StatusOr<std::vector<InvitationRow>> ListPendingInvitations(
      const std::string& invitee_id, const std::string& space_id, int64_t now_ms) = 0;

  // Every register of a shared space as stored (digests), in a canonical order.
  virtual absl::StatusOr<std::vector<SpaceRegister>> ListRegisters(const std::string& space_id) = 0;

  // A local change: merges every register in one transaction and queues each for the relay.
  virtual absl::Status WriteRegisters(const std::vector<SpaceRegister>& writes) = 0;
};

}  // namespace coffer::vault::repository
