// InMemoryRecordRepository and InMemorySpaceRepository: the repository contracts on plain maps,
// for service-layer unit tests (and nothing else: no durability).
//
// They follow the Pg* semantics exactly where the service depends on them: check-and-set on
// (version, state_seq), siblings dropped by a local write, retention by version, purge drops
// history, one outbox entry per write, and a commit-ordered change_seq per change (the change
// feed the record index reads, service/record_index.h).
//
// Threading: thread-safe (one mutex).
#pragma once

#include <map>
#include <mutex>
#include <tuple>

#include "services/vault/repository/record_repository.h"
#include "services/vault/repository/space_repository.h"
#include "services/vault/repository/sync_stores.h"

namespace coffer::vault::repository {

class InMemoryRecordRepository final : public RecordRepository, public ChangeFeedStore {
 public:
  absl::StatusOr<int64_t> Insert(const StoredRevision& revision) override;
  absl::StatusOr<std::optional<StoredRecord>> Get(const std::string& space_id,
                                                  const std::string& record_id) override;
  absl::StatusOr<int64_t> ReplaceHead(const StoredRevision& revision, const HeadCheck& expected,
                                      int history_keep) override;
  absl::StatusOr<int64_t> Purge(const StoredRevision& tombstone,
                                const HeadCheck& expected) override;
  absl::StatusOr<std::vector<StoredRecord>> ListHeads(const std::string& space_id,
                                                      const HeadFilter& filter) override;
  absl::StatusOr<std::vector<StoredRevision>> ListHistory(const std::string& space_id,
                                                          const std::string& record_id,
                                                          const std::optional<HistoryCursor>& after,
                                                          int limit) override;
  absl::StatusOr<std::optional<StoredRevision>> GetHistoryVersion(const std::string& space_id,
                                                                  const std::string& record_id,
                                                                  int64_t version) override;
  absl::StatusOr<std::vector<StoredRevision>> ListSpaceState(const std::string& space_id) override;
  absl::StatusOr<int64_t> OutboxBacklog() override;

  // ChangeFeedStore: every change of a record takes the next change_seq.
  absl::StatusOr<std::vector<ChangeEntry>> ListChanges(const std::string& space_id,
                                                       int64_t after_seq, int limit,
                                                       int64_t* gc_floor = nullptr) override;
  absl::StatusOr<int64_t> LastChangeSeq() override;

  // Test hook standing in for a merge from another shard: adds a conflict sibling.
  void AddSiblingForTest(const StoredRevision& sibling);
  // Test hook standing in for tombstone GC: drops purged record `record_id` and raises the
  // space's GC floor to its change_seq. False when it is not a purged record.
  bool CollectTombstoneForTest(const std::string& space_id, const std::string& record_id);
  // Test hook standing in for a database restored from a backup taken at change_seq `seq`:
  // records changed after it are gone, and the next change takes seq + 1 again.
  void RestoreForTest(int64_t seq);
  // Every outbox entry written so far, in order.
  std::vector<StoredRevision> OutboxForTest() const;

 private:
  struct Entry {
    StoredRecord record;
    std::vector<StoredRevision> history;
    int64_t change_seq = 0;
  };
  // Records are keyed by (space_id, record_id), as in PostgreSQL (V009).
  using RecordKey = std::pair<std::string, std::string>;
  static RecordKey Key(const StoredRevision& r) { return {r.space_id, r.record_id}; }
  mutable std::mutex mu_;
  std::map<RecordKey, Entry> records_;
  std::vector<StoredRevision> outbox_;
  int64_t last_change_seq_ = 0;
  std::map<std::string, int64_t> gc_floor_;  // by space
};

class InMemorySpaceRepository final : public SpaceRepository {
 public:
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

  // A received register write (as the consumer would merge it); true when it changed.
  bool MergeForTest(const SpaceRegister& r);
  // Adds a shared space with one member (Role::kOwner makes the user its owner).
  void AddMemberForTest(const std::string& space_id, const std::string& user_id, Role role);
  // Every register write queued for the relay, oldest first.
  std::vector<SpaceRegister> queued() const;

 private:
  struct Stamp {
    uint64_t hlc = 0;
    std::string origin;
    bool operator<(const Stamp& o) const {
      return std::tie(hlc, origin) < std::tie(o.hlc, o.origin);
    }
  };
  struct Member {
    std::string role;  // reader|writer|admin|owner (personal)|removed
    int64_t joined_at_ms = 0;
    Stamp stamp;
  };
  struct Space {
    SpaceView view;  // id, name, name_ct, personal, owner_id, created_at_ms
    bool deleted = false;
    Stamp info, owner;
    std::map<std::string, Member> members;
  };
  std::optional<Role> RoleLocked(const Space& space, const std::string& user_id) const;
  std::optional<SpaceView> ViewLocked(const Space& space, const std::string& user_id) const;
  bool MergeLocked(const SpaceRegister& r);

  mutable std::mutex mu_;
  std::map<std::string, Space> spaces_;
  std::map<std::string, std::pair<InvitationRow, Stamp>> invitations_;
  std::vector<SpaceRegister> queued_;
};

}  // namespace coffer::vault::repository
