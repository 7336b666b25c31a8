// PgSpaceRepository: SpaceRepository on the shard's PostgreSQL (statements in sql.h, V010).
//
// After a local register write committed, the CommitListener (if any) is told its space, so the
// replica's ChangeNotifier wakes the relay and Watch streams (no NOTIFY in the transaction, see
// migrations/V003).
//
// Lifecycle: borrows the pool and the listener, which must outlive it. Threading: thread-safe.
#pragma once

#include <pqxx/transaction_base>

#include "pkg/postgres/connection_pool.h"
#include "services/vault/repository/commit_listener.h"
#include "services/vault/repository/space_repository.h"

namespace coffer::vault::repository {

namespace internal {
// Merges one register write in `txn` (last writer by (hlc, origin) wins); true when it changed
// the stored register. Shared by local writes, received events and snapshot imports.
bool MergeRegister(pqxx::transaction_base& txn, const SpaceRegister& r);
// Every register of one space as stored, in a canonical order (kSelectSpaceRegisters).
std::vector<SpaceRegister> ReadRegisters(pqxx::transaction_base& txn, const std::string& space_id);
}  // namespace internal

class PgSpaceRepository final : public SpaceRepository {
 public:
  // `listener` (may be null) is told the space of every committed register write.
  explicit PgSpaceRepository(postgres::ConnectionPool& pool, CommitListener* listener = nullptr)
      : pool_(pool), listener_(listener) {}

  absl::Status EnsurePersonalSpace(const std::string& space_id, const std::string& user_id,
                                   int64_t now_ms) override;
  absl::StatusOr<std::optional<Role>> GetRole(const std::string& space_id,
                                              const std::string& user_id) override;
  absl::StatusOr<std::optional<SpaceView>> GetSpace(const std::string& space_id,
                                                    const std::string& user_id) override;
  absl::StatusOr<std::vector<SpaceView>> ListSpaces(const std::string& user_id) override;
  absl::StatusOr<std::vector<MemberView>> ListMembers(const std::string& space_id) override;
  absl::StatusOr<std::optional<InvitationRow>> GetInvitation(const std::string& id) override;
  absl::StatusOr<std::optional<std::string>> GetSpaceNameCt(const std::string& space_id) override;
  absl::StatusOr<std::vector<InvitationRow>> ListPendingInvitations(const std::string& invitee_id,
                                                                    const std::string& space_id,
                                                                    int64_t now_ms) override;
  absl::Status WriteRegisters(const std::vector<SpaceRegister>& writes) override;

  absl::StatusOr<std::vector<SpaceRegister>> ListRegisters(const std::string& space_id) override;

 private:
  absl::StatusOr<std::vector<SpaceView>> Select(const std::optional<std::string>& space_id,
                                                const std::string& user_id);

  postgres::ConnectionPool& pool_;
  CommitListener* const listener_;
};

}  // namespace coffer::vault::repository
