#include "services/vault/repository/pg_space_repository.h"

#include <pqxx/result>
#include <pqxx/transaction_base>
#include <set>

#include "pkg/postgres/prepared.h"
#include "pkg/postgres/transaction.h"
#include "pkg/status/status.h"
#include "services/vault/domain/ids.h"
#include "services/vault/repository/sql.h"

namespace coffer::vault::repository {

absl::Status PgSpaceRepository::EnsurePersonalSpace(const std::string& space_id,
                                                    const std::string& user_id, int64_t now_ms) {
  // Two attempts: when a concurrent first call of the same user inserts the space, this
  // statement's INSERT waits for it and then does nothing, but its EXISTS still reads the snapshot
  // taken before that commit and finds no row. The second statement's snapshot sees it.
  bool ensured = false;
  for (int attempt = 0; attempt < 2 && !ensured; ++attempt) {
    // Single statements run in autocommit: one round trip each (DESIGN §9).
    COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
        pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
          pqxx::result r =
              postgres::ExecPrepared(txn, sql::kEnsurePersonalSpace, space_id, user_id, now_ms);
          ensured = !r.empty() && r[0][0].as<bool>();
          return absl::OkStatus();
        }));
  }
  if (!ensured) return absl::FailedPreconditionError("personal space: its id is taken");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Role>> PgSpaceRepository::GetRole(const std::string& space_id,
                                                               const std::string& user_id) {
  std::optional<Role> role;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        pqxx::result r = postgres::ExecPrepared(txn, sql::kSelectRole, space_id, user_id);
        role =
            r.empty() || r[0][0].is_null() ? std::nullopt : RoleFromName(r[0][0].as<std::string>());
        return absl::OkStatus();
      }));
  return role;
}

absl::StatusOr<std::optional<SpaceView>> PgSpaceRepository::GetSpace(const std::string& space_id,
                                                                     const std::string& user_id) {
  COFFER_ASSIGN_OR_RETURN(std::vector<SpaceView> spaces, Select(space_id, user_id));
  if (spaces.empty()) return std::nullopt;
  return spaces.front();
}

absl::StatusOr<std::vector<SpaceView>> PgSpaceRepository::ListSpaces(const std::string& user_id) {
  return Select(std::nullopt, user_id);
}

absl::StatusOr<std::vector<SpaceView>> PgSpaceRepository::Select(
    const std::optional<std::string>& space_id, const std::string& user_id) {
  pqxx::result rows;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        rows = space_id ? postgres::ExecPrepared(txn, sql::kSelectSpaces, *space_id, user_id)
                        : postgres::ExecPrepared(txn, sql::kSelectSpaces, nullptr, user_id);
        return absl::OkStatus();
      }));
  std::vector<SpaceView> out;
  for (const auto& row : rows) {
    std::optional<Role> role =
        row[5].is_null() ? std::nullopt : RoleFromName(row[5].as<std::string>());
    if (!role) continue;  // removed, or never a member
    SpaceView v;
    v.id = row[0].as<std::string>();
    v.name = row[1].as<std::string>();
    v.name_ct = row[2].as<std::string>();
    v.personal = row[3].as<bool>();
    v.owner_id = row[4].as<std::string>();
    v.role = *role;
    v.created_at_ms = row[6].as<int64_t>();
    v.member_count = row[7].as<int>();
    out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<std::vector<MemberView>> PgSpaceRepository::ListMembers(
    const std::string& space_id) {
  std::vector<MemberView> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        out.clear();
        for (const auto& row : postgres::ExecPrepared(txn, sql::kSelectMembers, space_id)) {
          std::optional<Role> role = RoleFromName(row[1].as<std::string>());
          if (!role) continue;
          out.push_back({row[0].as<std::string>(), *role, row[2].as<int64_t>()});
        }
        return absl::OkStatus();
      }));
  return out;
}

namespace {

InvitationRow InvitationFrom(const pqxx::row& row) {
  InvitationRow i;
  i.id = row[0].as<std::string>();
  i.space_id = row[1].as<std::string>();
  i.inviter_id = row[2].as<std::string>();
  i.invitee_id = row[3].as<std::string>();
  i.role = RoleFromName(row[4].as<std::string>()).value_or(Role::kReader);
  i.state = row[5].as<std::string>();
  i.created_at_ms = row[6].as<int64_t>();
  i.expires_at_ms = row[7].as<int64_t>();
  return i;
}

}  // namespace

absl::StatusOr<std::optional<InvitationRow>> PgSpaceRepository::GetInvitation(
    const std::string& id) {
  std::optional<InvitationRow> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        pqxx::result r = postgres::ExecPrepared(txn, sql::kSelectInvitation, id);
        out = r.empty() ? std::nullopt : std::optional<InvitationRow>(InvitationFrom(r[0]));
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::optional<std::string>> PgSpaceRepository::GetSpaceNameCt(
    const std::string& space_id) {
  std::optional<std::string> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        pqxx::result r = postgres::ExecPrepared(txn, sql::kSelectSpaceNameCt, space_id);
        out = r.empty() ? std::nullopt : std::optional<std::string>(r[0][0].as<std::string>());
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::vector<InvitationRow>> PgSpaceRepository::ListPendingInvitations(
    const std::string& invitee_id, const std::string& space_id, int64_t now_ms) {
  std::vector<InvitationRow> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        out.clear();
        std::optional<std::string> invitee =
            invitee_id.empty() ? std::nullopt : std::optional<std::string>(invitee_id);
        std::optional<std::string> space =
            space_id.empty() ? std::nullopt : std::optional<std::string>(space_id);
        for (const auto& row :
             postgres::ExecPrepared(txn, sql::kSelectPendingInvitations, invitee, space, now_ms)) {
          out.push_back(InvitationFrom(row));
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::Status PgSpaceRepository::WriteRegisters(const std::vector<SpaceRegister>& writes) {
  absl::Status written = postgres::RunInTransaction(
      pool_, postgres::IsolationLevel::kReadCommitted,
      [&](pqxx::transaction_base& txn) -> absl::Status {
        for (const SpaceRegister& r : writes) {
          // A local write must win locally: a register written with a greater stamp (a clock
          // ahead of this shard's) would make it a silent no-op. Nothing is kept then.
          if (!internal::MergeRegister(txn, r)) {
            // Not ABORTED here: the transaction runner would retry it, in vain.
            return absl::FailedPreconditionError("superseded");
          }
          postgres::ExecPrepared(txn, sql::kInsertSpaceOutbox, r.space_id, RegisterToJson(r));
        }
        return absl::OkStatus();
      });
  if (absl::IsFailedPrecondition(written)) {
    return absl::AbortedError("a newer change of this space arrived meanwhile; read it and retry");
  }
  COFFER_RETURN_IF_ERROR(written);
  if (listener_ != nullptr) {
    std::set<std::string> spaces;
    for (const SpaceRegister& r : writes) spaces.insert(r.space_id);
    for (const std::string& space : spaces) listener_->Committed(space);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SpaceRegister>> PgSpaceRepository::ListRegisters(
    const std::string& space_id) {
  std::vector<SpaceRegister> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        out = internal::ReadRegisters(txn, space_id);
        return absl::OkStatus();
      }));
  return out;
}

namespace internal {

bool MergeRegister(pqxx::transaction_base& txn, const SpaceRegister& r) {
  if (!domain::IsSharedSpaceId(r.space_id)) return false;  // never a personal space
  const auto hlc = static_cast<int64_t>(r.hlc);
  postgres::ExecPrepared(txn, sql::kEnsureSharedSpaceRow, r.space_id);
  pqxx::result changed;
  switch (r.kind) {
    case SpaceRegister::Kind::kInfo:
      changed = postgres::ExecPrepared(txn, sql::kMergeSpaceInfo, r.space_id, r.name_ct, r.deleted,
                                       r.created_at_ms, hlc, r.origin_shard);
      break;
    case SpaceRegister::Kind::kOwner:
      changed = postgres::ExecPrepared(txn, sql::kMergeSpaceOwner, r.space_id, r.owner_id, hlc,
                                       r.origin_shard);
      break;
    case SpaceRegister::Kind::kMember:
      changed = postgres::ExecPrepared(txn, sql::kMergeMember, r.space_id, r.user_id, r.member_role,
                                       r.joined_at_ms, hlc, r.origin_shard);
      break;
    case SpaceRegister::Kind::kInvitation: {
      const InvitationRow& i = r.invitation;
      changed = postgres::ExecPrepared(txn, sql::kMergeInvitation, i.id, r.space_id, i.inviter_id,
                                       i.invitee_id, std::string(RoleName(i.role)), i.state,
                                       i.created_at_ms, i.expires_at_ms, hlc, r.origin_shard);
      break;
    }
  }
  return !changed.empty();
}

std::vector<SpaceRegister> ReadRegisters(pqxx::transaction_base& txn, const std::string& space_id) {
  std::vector<SpaceRegister> out;
  for (const auto& row : postgres::ExecPrepared(txn, sql::kSelectSpaceRegisters, space_id)) {
    SpaceRegister r;
    r.space_id = space_id;
    const std::string kind = row[0].as<std::string>();
    r.hlc = static_cast<uint64_t>(row[2].as<int64_t>());
    r.origin_shard = row[3].as<std::string>();
    if (kind == "info") {
      r.kind = SpaceRegister::Kind::kInfo;
      r.name_ct = row[4].as<std::string>();
      r.deleted = row[5].as<bool>();
      r.created_at_ms = row[6].as<int64_t>();
    } else if (kind == "owner") {
      r.kind = SpaceRegister::Kind::kOwner;
      r.owner_id = row[7].as<std::string>();
    } else if (kind == "member") {
      r.kind = SpaceRegister::Kind::kMember;
      r.user_id = row[1].as<std::string>();
      r.member_role = row[8].as<std::string>();
      r.joined_at_ms = row[9].as<int64_t>();
    } else {
      r.kind = SpaceRegister::Kind::kInvitation;
      InvitationRow& i = r.invitation;
      i.id = row[1].as<std::string>();
      i.space_id = space_id;
      i.role = RoleFromName(row[8].as<std::string>()).value_or(Role::kReader);
      i.inviter_id = row[10].as<std::string>();
      i.invitee_id = row[11].as<std::string>();
      i.state = row[12].as<std::string>();
      i.created_at_ms = row[14].as<int64_t>();
      i.expires_at_ms = row[15].as<int64_t>();
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace internal

}  // namespace coffer::vault::repository
