// In-memory fakes of the shard-sync stores (services/vault/repository/sync_stores.h) and of
// leadership (sync/leader_loop.h), so the relay, the consumer, tombstone GC, the change feed,
// bootstrap and the dead-letter admin are unit-tested without PostgreSQL. The SQL itself is
// tested against real PostgreSQL (tests/integration/services/vault).
//
// The fake keeps what the PostgreSQL store keeps and applies the same rules where the callers
// depend on them: a batch applies all or nothing and moves the stored offsets past it; merges
// use domain::MergeSiblings (head first, siblings after); own tombstones become GC candidates;
// progress rows, dead letters and blob chunks are stored with the batch. It adds what tests need
// to steer and observe: injected failures, and copies of every table.
//
// Threading: every method is thread-safe (one mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "services/vault/repository/sync_stores.h"
#include "services/vault/sync/leader_loop.h"

namespace coffer::vault::testing {

class InMemorySyncStore final : public repository::OutboxStore,
                                public repository::ReplicaStateStore,
                                public repository::TombstoneStore,
                                public repository::ChangeFeedStore,
                                public repository::SnapshotStore,
                                public repository::DeadLetterStore {
 public:
  // --- steering ---
  // A local write waiting in the outbox; returns its row id.
  int64_t AddOutbox(const repository::StoredRevision& revision);
  // An outbox row that cannot be read back (`why`).
  int64_t AddUnreadableOutbox(const std::string& why);
  // A queued register write of a shared space (V010).
  void AddSpaceChange(const repository::SpaceRegister& change);
  // A queued blob (V007) with its chunks.
  void AddBlob(const repository::StoredBlob& blob, std::vector<std::string> chunks);
  // A merge whose revision makes `fault` answer an error fails the whole batch with it (as a
  // SQL error would); OK = merge.
  void SetMergeFault(std::function<absl::Status(const repository::StoredRevision&)> fault);
  // While set, every call answers this error (e.g. UNAVAILABLE: the database is down).
  void SetDown(std::optional<absl::Status> error);
  // Stored positions, as if a snapshot or an earlier run had stored them.
  void SetOffsets(std::map<int32_t, int64_t> offsets);

  // --- observing ---
  std::optional<repository::StoredRecord> Record(const std::string& space_id,
                                                 const std::string& record_id) const;
  size_t record_count() const;
  size_t outbox_size() const;
  std::vector<repository::DeadLetter> dead_letters() const;
  std::map<int32_t, int64_t> offsets() const;
  std::vector<repository::ShardProgressRow> progress() const;
  int apply_calls() const;    // ApplyBatch calls, failed ones included
  int down_refusals() const;  // calls answered with the SetDown error
  size_t space_outbox_size() const;
  // Register writes received (ApplyBatch), in order.
  std::vector<repository::SpaceRegister> received_space_changes() const;
  // Stored chunks of an incoming blob.
  size_t incoming_blob_chunks(const std::string& blob_id) const;

  // OutboxStore
  absl::StatusOr<std::vector<repository::OutboxEntry>> ReadOutbox(int limit) override;
  absl::Status DeleteOutbox(const std::vector<int64_t>& ids) override;
  absl::StatusOr<bool> DeadLetterOutbox(int64_t outbox_id,
                                        const repository::DeadLetter& letter) override;
  absl::StatusOr<std::vector<repository::BlobOutboxEntry>> ReadBlobOutbox(int limit) override;
  absl::StatusOr<std::optional<std::string>> ReadBlobChunk(const std::string& blob_id,
                                                           int index) override;
  absl::Status DeleteBlobOutbox(int64_t id) override;
  absl::StatusOr<std::vector<repository::SpaceOutboxEntry>> ReadSpaceOutbox(int limit) override;
  absl::Status DeleteSpaceOutbox(const std::vector<int64_t>& ids) override;
  absl::StatusOr<bool> DeadLetterSpaceOutbox(int64_t id,
                                             const repository::DeadLetter& letter) override;
  absl::StatusOr<repository::ProgressSnapshot> ReadProgressSnapshot() override;

  // ReplicaStateStore
  absl::StatusOr<repository::MergeOutcome> ApplyBatch(
      const std::vector<repository::IncomingRevision>& batch, int history_keep) override;
  absl::StatusOr<std::map<int32_t, int64_t>> LoadOffsets() override;
  absl::StatusOr<std::map<int32_t, int64_t>> LoadMergeOwnUntil() override;
  absl::StatusOr<std::vector<int32_t>> OwnProgressPartitions(const std::string& shard_id) override;

  // TombstoneStore
  absl::StatusOr<std::vector<repository::ShardProgressRow>> ListProgress() override;
  absl::StatusOr<int64_t> CollectTombstones(int64_t written_before_ms) override;

  // ChangeFeedStore
  absl::StatusOr<std::vector<repository::ChangeEntry>> ListChanges(
      const std::string& space_id, int64_t after_seq, int limit,
      int64_t* gc_floor = nullptr) override;
  absl::StatusOr<int64_t> LastChangeSeq() override;

  // SnapshotStore
  absl::Status ExportSnapshot(
      const std::function<bool(const repository::SnapshotHeader&)>& header,
      const std::function<bool(std::vector<repository::StoredRevision>&&)>& chunk) override;
  absl::StatusOr<bool> IsEmpty() override;
  absl::Status ImportSnapshot(const repository::SnapshotHeader& header,
                              const std::vector<repository::StoredRevision>& revisions,
                              const std::map<int32_t, int64_t>& merge_own_until) override;
  absl::Status MergeSnapshot(const repository::SnapshotHeader& header,
                             const std::vector<repository::StoredRevision>& revisions) override;

  // DeadLetterStore
  absl::StatusOr<std::vector<repository::DeadLetter>> ListDeadLetters(const std::string& direction,
                                                                      int64_t after_id,
                                                                      int limit) override;
  absl::StatusOr<std::optional<repository::DeadLetter>> GetDeadLetter(int64_t id) override;
  absl::StatusOr<bool> DeleteDeadLetter(int64_t id) override;
  absl::StatusOr<bool> RequeueOutgoing(int64_t id,
                                       const repository::StoredRevision& revision) override;

 private:
  struct Row {
    std::vector<repository::StoredRevision> revisions;  // head first
    int64_t change_seq = 0;
    std::optional<std::pair<int32_t, int64_t>> gc_position;  // own tombstone read back
  };
  using Key = std::pair<std::string, std::string>;  // (space_id, record_id)

  // Merges one revision into `rows` (a copy while a batch applies); true when it changed.
  void MergeLocked(std::map<Key, Row>& rows, const repository::StoredRevision& r,
                   repository::MergeOutcome& outcome, int64_t& seq) const;

  mutable std::mutex mu_;
  std::optional<absl::Status> down_;
  std::function<absl::Status(const repository::StoredRevision&)> merge_fault_;
  std::map<Key, Row> rows_;
  int64_t change_seq_ = 0;
  int64_t next_id_ = 1;
  std::map<int64_t, repository::OutboxEntry> outbox_;
  std::map<int64_t, std::pair<repository::BlobOutboxEntry, std::vector<std::string>>> blob_outbox_;
  std::map<std::string, std::map<int, std::string>> incoming_chunks_;
  std::map<int32_t, int64_t> offsets_;
  std::map<int32_t, int64_t> merge_own_until_;
  std::map<std::pair<std::string, int32_t>, int64_t> progress_;
  std::map<int64_t, repository::DeadLetter> dead_letters_;
  std::map<std::string, int64_t> gc_floor_;
  std::map<int64_t, repository::SpaceRegister> space_outbox_;
  std::vector<repository::SpaceRegister>
      received_space_changes_;  // per space: greatest change_seq collected
  int apply_calls_ = 0;
  int down_refusals_ = 0;
};

// Leadership decided in process: of the Leadership objects made by one arbiter, at most one
// holds it at a time. Tests revoke the holder (a lost database session) or make the arbiter
// unreachable.
class LeaderArbiter : public std::enable_shared_from_this<LeaderArbiter> {
 public:
  static std::shared_ptr<LeaderArbiter> Create() { return std::make_shared<LeaderArbiter>(); }
  std::unique_ptr<sync::Leadership> Make();
  // The holder's next IsHeld() answers false and leadership is free again.
  void RevokeHolder();
  void SetReachable(bool reachable);
  int acquisitions() const;

 private:
  friend class ArbitratedLeadership;
  mutable std::mutex mu_;
  const void* holder_ = nullptr;
  bool reachable_ = true;
  int acquisitions_ = 0;
};

}  // namespace coffer::vault::testing
