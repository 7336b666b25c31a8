#include "services/vault/repository/pg_space_repository.h"

#include <pqxx/result>
#include <pqxx/transaction_base>

#include "pkg/postgres/prepared.h"
#include "pkg/postgres/transaction.h"
#include "pkg/status/status.h"
#include "services/vault/repository/sql.h"

namespace coffer::vault::repository {

absl::Status PgSpaceRepository::EnsurePersonalSpace(const std::string& space_id,
                                                    const std::string& user_id, int64_t now_ms) {
  // Single statements run in autocommit: one round trip each (DESIGN §9).
  return postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        postgres::ExecPrepared(txn, sql::kEnsurePersonalSpace, space_id, user_id, now_ms);
        return absl::OkStatus();
      });
}

absl::StatusOr<std::optional<Role>> PgSpaceRepository::GetRole(const std::string& space_id,
                                                               const std::string& user_id) {
  std::optional<Role> role;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        pqxx::result r = postgres::ExecPrepared(txn, sql::kSelectRole, space_id, user_id);
        role = r.empty() ? std::nullopt : RoleFromName(r[0][0].as<std::string>());
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
    SpaceView v;
    v.id = row[0].as<std::string>();
    v.name = row[1].as<std::string>();
    v.personal = row[2].as<bool>();
    v.owner_id = row[3].as<std::string>();
    v.role = RoleFromName(row[4].as<std::string>()).value_or(Role::kReader);
    v.created_at_ms = row[5].as<int64_t>();
    v.member_count = row[6].as<int>();
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace coffer::vault::repository
