// PgSyncRepository: every shard-sync store (sync_stores.h) on the shard's PostgreSQL — the outbox
// the relay drains, the consumer's merges and stored offsets, tombstone GC, the client change
// feed, snapshots and dead letters (docs/architecture.md §4–§5; schema in migrations/V001__init.sql
// and V002__sync.sql onwards, statements in sql.h).
//
// Merges follow docs/architecture.md §3 rule 2 (domain::MergeSiblings): the revisions not dominated
// by another are kept, the greatest (hlc, origin) is the head, the others are conflict siblings. A
// merge never writes the outbox (no echo) and stores the consumer offsets in the SAME transaction,
// so applying a batch and moving past it are one atomic step; a duplicate or an older revision
// changes nothing.
//
// After a batch that changed records committed, the CommitListener (if any) is told each space of
// the batch, so the replica's ChangeNotifier wakes Watch streams (no NOTIFY inside the merge
// transaction; see migrations/V003).
//
// Lifecycle: borrows the pool and the listener, which must outlive it. Threading: thread-safe;
// the listener is called on the calling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/postgres/connection_pool.h"
#include "services/vault/repository/commit_listener.h"
#include "services/vault/repository/sync_stores.h"

namespace coffer::vault::repository {

class PgSyncRepository final : public OutboxStore,
                               public ReplicaStateStore,
                               public TombstoneStore,
                               public ChangeFeedStore,
                               public SnapshotStore,
                               public DeadLetterStore {
 public:
  // `listener` (may be null) is told each distinct space of a merge batch (ApplyBatch) or of a
  // merged snapshot (MergeSnapshot) after it committed.
  explicit PgSyncRepository(postgres::ConnectionPool& pool, CommitListener* listener = nullptr)
      : pool_(pool), listener_(listener) {}

  // OutboxStore
  absl::StatusOr<std::vector<OutboxEntry>> ReadOutbox(int limit) override;
  absl::Status DeleteOutbox(const std::vector<int64_t>& ids) override;
  absl::StatusOr<bool> DeadLetterOutbox(int64_t outbox_id, const DeadLetter& letter) override;
  absl::StatusOr<std::vector<BlobOutboxEntry>> ReadBlobOutbox(int limit) override;
  absl::StatusOr<std::optional<std::string>> ReadBlobChunk(const std::string& blob_id,
                                                           int index) override;
  absl::Status DeleteBlobOutbox(int64_t id) override;
  absl::StatusOr<std::vector<SpaceOutboxEntry>> ReadSpaceOutbox(int limit) override;
  absl::Status DeleteSpaceOutbox(const std::vector<int64_t>& ids) override;
  absl::StatusOr<bool> DeadLetterSpaceOutbox(int64_t id, const DeadLetter& letter) override;
  absl::StatusOr<ProgressSnapshot> ReadProgressSnapshot() override;

  // ReplicaStateStore
  absl::StatusOr<MergeOutcome> ApplyBatch(const std::vector<IncomingRevision>& batch,
                                          int history_keep) override;
  absl::StatusOr<std::map<int32_t, int64_t>> LoadOffsets() override;
  absl::StatusOr<std::map<int32_t, int64_t>> LoadMergeOwnUntil() override;
  absl::StatusOr<std::vector<int32_t>> OwnProgressPartitions(const std::string& shard_id) override;

  // TombstoneStore
  absl::StatusOr<std::vector<ShardProgressRow>> ListProgress() override;
  absl::StatusOr<int64_t> CollectTombstones(int64_t written_before_ms) override;

  // ChangeFeedStore (REPEATABLE READ for the page and its GC floor)
  absl::StatusOr<std::vector<ChangeEntry>> ListChanges(const std::string& space_id,
                                                       int64_t after_seq, int limit,
                                                       int64_t* gc_floor = nullptr) override;
  absl::StatusOr<int64_t> LastChangeSeq() override;

  // SnapshotStore (ExportSnapshot reads in one REPEATABLE READ snapshot)
  absl::Status ExportSnapshot(
      const std::function<bool(const SnapshotHeader&)>& header,
      const std::function<bool(std::vector<StoredRevision>&&)>& chunk) override;
  absl::StatusOr<bool> IsEmpty() override;
  absl::Status ImportSnapshot(const SnapshotHeader& header,
                              const std::vector<StoredRevision>& revisions,
                              const std::map<int32_t, int64_t>& merge_own_until) override;
  absl::Status MergeSnapshot(const SnapshotHeader& header,
                             const std::vector<StoredRevision>& revisions) override;

  // DeadLetterStore
  absl::StatusOr<std::vector<DeadLetter>> ListDeadLetters(const std::string& direction,
                                                          int64_t after_id, int limit) override;
  absl::StatusOr<std::optional<DeadLetter>> GetDeadLetter(int64_t id) override;
  absl::StatusOr<bool> DeleteDeadLetter(int64_t id) override;
  absl::StatusOr<bool> RequeueOutgoing(int64_t id, const StoredRevision& revision) override;

 private:
  postgres::ConnectionPool& pool_;
  CommitListener* const listener_;
};

}  // namespace coffer::vault::repository
