// PgSpaceRepository: SpaceRepository on the shard's PostgreSQL (statements in sql.h, V010).
//
// After a local register write committed, the commit hook (if set) is called with its space, so
// the replica's ChangeNotifier wakes the relay and Watch streams (no NOTIFY in the transaction,
// see migrations/V003).
//
// Lifecycle: borrows connections from a pool that must outlive it. Threading: thread-safe.
#pragma once

#include <functional>
#include <pqxx/transaction_base>

#include "pkg/postgres/connection_pool.h"
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
  using CommitHook = std::function<void(const std::string& space_id)>;

  explicit PgSpaceRepository(postgres::ConnectionPool& pool) : pool_(pool) {}

  // Set before the first write (the app wires it to ChangeNotifier::Publish).
  void SetCommitHook(CommitHook hook) { hook_ = std::move(hook); }

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
  CommitHook hook_;
};

}  // namespace coffer::vault::repository
