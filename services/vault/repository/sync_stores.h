// The shard-sync stores (docs/architecture.md §4–§5): what the relay, the consumer, tombstone GC,
// the client change feed, bootstrap and the dead-letter admin each need from the shard's database,
// as one small interface per user.
//
// Why interfaces: each piece of the replication loop is unit-tested against an in-memory fake
// (tests/support/vault/in_memory_sync_store.h) in milliseconds, and the SQL is tested once
// against real PostgreSQL (PgSyncRepository implements them all, tests/integration).
//
// Threading: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/vault/domain/dead_letter.h"
#include "services/vault/repository/blob_repository.h"
#include "services/vault/repository/record_repository.h"
#include "services/vault/repository/space_repository.h"

namespace coffer::vault::repository {

// One outbox row: a local revision waiting to be published.
struct OutboxEntry {
  int64_t id = 0;
  int64_t enqueued_at_ms = 0;
  StoredRevision revision;
  // Not OK when the row cannot be read back as a revision (`revision` is then incomplete): the
  // relay moves it to the dead letters instead of stopping on it.
  absl::Status read_error;
};

// An event this shard will not apply or cannot publish (a domain value: transport lists it).
using DeadLetter = domain::DeadLetter;

// A received revision and where it came from in the change topic.
struct IncomingRevision {
  int32_t partition = 0;
  int64_t offset = 0;
  // false: only move past this offset (an own-origin event, a progress marker, or a malformed
  // event that was logged).
  bool merge = true;
  // With merge == false: this shard's own tombstone read back from the topic (`revision` set),
  // which makes the record a GC candidate (V004).
  bool own_tombstone = false;
  StoredRevision revision;
  // A progress marker: the settled offset of `partition` reported by shard `progress_shard`.
  std::string progress_shard;
  int64_t progress_settled = -1;  // -1 = not a marker (or no value for this partition)
  // With merge == false: a chunk of another shard's blob to store (`blob_chunk` set), index
  // `blob_chunk_index`, envelope `blob_chunk_ct` (V007).
  std::optional<StoredBlob> blob_chunk;
  int blob_chunk_index = 0;
  std::string blob_chunk_ct;
  // With merge == false: an event quarantined instead of applied, stored in the batch's
  // transaction (so moving past it and keeping it are one step).
  std::optional<DeadLetter> dead_letter;
  // A dead letter this event re-applies (AdminService): deleted in the batch's transaction.
  int64_t resolves_dead_letter = 0;
  // With merge == false: another shard's write of a register of a shared space (V010), merged
  // by its own rule (last writer by (hlc, origin) wins).
  std::optional<SpaceRegister> space_change;
};

// One queued register write of a shared space (V010).
struct SpaceOutboxEntry {
  int64_t id = 0;
  SpaceRegister change;
  absl::Status read_error;  // not OK: the row does not parse (`change` is incomplete)
};

// One queued blob for the relay (V007): every chunk of it is published, then the row deleted.
struct BlobOutboxEntry {
  int64_t id = 0;
  StoredBlob blob;
};

// What a progress marker of this shard reports (sql::kProgressSnapshot).
struct ProgressSnapshot {
  std::map<int32_t, int64_t> applied;    // consumer_offsets
  int64_t outbox_seq_last = 0;           // every committed write has an outbox id <= this
  std::optional<int64_t> outbox_min_id;  // oldest unpublished row; nullopt = outbox empty
};

// One registered shard's settled offset of one partition.
struct ShardProgressRow {
  std::string shard_id;
  int32_t partition = 0;
  int64_t settled_offset = 0;
};

// A snapshot of a shard's replicated state (AdminService.ExportSnapshot): the consumer
// positions it reflects and the registered shards' progress.
struct SnapshotHeader {
  // Where a GC candidate's tombstone event was read (records.gc_partition/gc_offset).
  struct Tombstone {
    std::string record_id;
    int32_t partition = 0;
    int64_t offset = 0;
    std::string space_id;
  };
  std::map<int32_t, int64_t> positions;
  std::vector<ShardProgressRow> progress;
  std::vector<Tombstone> tombstones;
  // Every register of every shared space (membership, V010).
  std::vector<SpaceRegister> registers;
};

// What a batch of merges did.
struct MergeOutcome {
  int applied = 0;             // revisions that changed the record's state
  int unchanged = 0;           // duplicates or revisions already dominated here
  int conflicts_created = 0;   // records that went from no siblings to siblings
  int conflicts_resolved = 0;  // records that went from siblings to none
};

// One entry of the change feed: a record's current head (sibling_count set on `head`'s
// record) and the commit-ordered position of its latest change.
struct ChangeEntry {
  int64_t change_seq = 0;
  int sibling_count = 0;
  StoredRevision head;
};

// What the outbox relay reads and writes (sync/outbox_relay.h).
class OutboxStore {
 public:
  virtual ~OutboxStore() = default;
  // Up to `limit` outbox rows, oldest first.
  virtual absl::StatusOr<std::vector<OutboxEntry>> ReadOutbox(int limit) = 0;
  // Deletes exactly these outbox rows (those Kafka acknowledged).
  virtual absl::Status DeleteOutbox(const std::vector<int64_t>& ids) = 0;
  // Moves outbox row `outbox_id` to the dead letters (false when the row was gone already).
  virtual absl::StatusOr<bool> DeadLetterOutbox(int64_t outbox_id, const DeadLetter& letter) = 0;
  // Up to `limit` queued blobs, oldest first (V007), and chunk `index` of one (nullopt if gone).
  virtual absl::StatusOr<std::vector<BlobOutboxEntry>> ReadBlobOutbox(int limit) = 0;
  virtual absl::StatusOr<std::optional<std::string>> ReadBlobChunk(const std::string& blob_id,
                                                                   int index) = 0;
  // Deletes a queued blob whose chunks Kafka acknowledged.
  virtual absl::Status DeleteBlobOutbox(int64_t id) = 0;
  // Up to `limit` queued register writes of shared spaces, oldest first; deletes published ones;
  // moves an unreadable one to the dead letters (false when it was gone).
  virtual absl::StatusOr<std::vector<SpaceOutboxEntry>> ReadSpaceOutbox(int limit) = 0;
  virtual absl::Status DeleteSpaceOutbox(const std::vector<int64_t>& ids) = 0;
  virtual absl::StatusOr<bool> DeadLetterSpaceOutbox(int64_t id, const DeadLetter& letter) = 0;
  // What this shard's next progress marker reports (README "Tombstone GC").
  virtual absl::StatusOr<ProgressSnapshot> ReadProgressSnapshot() = 0;
};

// The consumer's side (sync/change_consumer.h): merges and the stored positions.
class ReplicaStateStore {
 public:
  virtual ~ReplicaStateStore() = default;
  // Merges `batch` in one transaction and stores, per partition, the offset after the greatest
  // offset of the batch (dead letters, progress rows and blob chunks of the batch too).
  // `history_keep` as for RecordRepository::ReplaceHead (0 = all).
  virtual absl::StatusOr<MergeOutcome> ApplyBatch(const std::vector<IncomingRevision>& batch,
                                                  int history_keep) = 0;
  // Stored consumer positions: partition -> next offset.
  virtual absl::StatusOr<std::map<int32_t, int64_t>> LoadOffsets() = 0;
  // Per partition, the offset below which own-origin events are merged (absent = none).
  virtual absl::StatusOr<std::map<int32_t, int64_t>> LoadMergeOwnUntil() = 0;
  // Partitions on which `shard_id`'s own progress marker came back through the topic.
  virtual absl::StatusOr<std::vector<int32_t>> OwnProgressPartitions(
      const std::string& shard_id) = 0;
};

// Tombstone GC's side (sync/tombstone_collector.h, README "Tombstone GC").
class TombstoneStore {
 public:
  virtual ~TombstoneStore() = default;
  // Every registered shard's settled offsets.
  virtual absl::StatusOr<std::vector<ShardProgressRow>> ListProgress() = 0;
  // Drops the tombstones behind the horizon last written before `written_before_ms`; returns
  // how many.
  virtual absl::StatusOr<int64_t> CollectTombstones(int64_t written_before_ms) = 0;
};

// The client change feed's side (service/change_feed.h).
class ChangeFeedStore {
 public:
  virtual ~ChangeFeedStore() = default;
  // Up to `limit` heads of `space_id` changed after `after_seq`, in commit order.
  // With `gc_floor`, also the change_seq below which the space's feed may have lost tombstones
  // to GC (0 = none), read in the same snapshot.
  virtual absl::StatusOr<std::vector<ChangeEntry>> ListChanges(const std::string& space_id,
                                                               int64_t after_seq, int limit,
                                                               int64_t* gc_floor = nullptr) = 0;
  // The greatest change_seq this database handed out.
  virtual absl::StatusOr<int64_t> LastChangeSeq() = 0;
};

// Snapshots (sync/bootstrap.h, AdminService.ExportSnapshot; README "Bootstrap", "Recovery").
class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  // Reads the whole replicated state in one consistent snapshot: `header` once, then every
  // head and sibling (heads first per record) in chunks to `chunk`; CANCELLED when a callback
  // returns false.
  virtual absl::Status ExportSnapshot(
      const std::function<bool(const SnapshotHeader&)>& header,
      const std::function<bool(std::vector<StoredRevision>&&)>& chunk) = 0;
  // True while the database holds no record and no consumer position (a new shard).
  virtual absl::StatusOr<bool> IsEmpty() = 0;
  // Imports a peer's snapshot into an empty database in one transaction: the revisions (merged
  // as received, so heads and siblings come out as on the peer), the consumer positions, with
  // own-origin events merged below `merge_own_until` per partition, and the progress rows.
  // FAILED_PRECONDITION when the database is not empty.
  virtual absl::Status ImportSnapshot(const SnapshotHeader& header,
                                      const std::vector<StoredRevision>& revisions,
                                      const std::map<int32_t, int64_t>& merge_own_until) = 0;
  // Merges a peer's snapshot into this shard's current state (a shard whose stored positions
  // fell below the log start): every revision merged as if received, the consumer positions
  // moved forward to the snapshot's (never back), the peer's progress rows and tombstone
  // positions stored. Nothing of this shard's own state is dropped: the merge is a join, and no
  // event this shard missed can have been collected by GC elsewhere (its own progress markers
  // held the horizon back). One transaction.
  virtual absl::Status MergeSnapshot(const SnapshotHeader& header,
                                     const std::vector<StoredRevision>& revisions) = 0;
};

// The operator's side of the dead letters (sync/dead_letters.h, V008).
class DeadLetterStore {
 public:
  virtual ~DeadLetterStore() = default;
  // Up to `limit` dead letters with id > `after_id`, of `direction` ("" = both), oldest first,
  // without their key, value and MAC (value_bytes tells the size; GetDeadLetter reads them).
  virtual absl::StatusOr<std::vector<DeadLetter>> ListDeadLetters(const std::string& direction,
                                                                  int64_t after_id, int limit) = 0;
  // One dead letter, or nullopt.
  virtual absl::StatusOr<std::optional<DeadLetter>> GetDeadLetter(int64_t id) = 0;
  // Drops one; false when it was not there.
  virtual absl::StatusOr<bool> DeleteDeadLetter(int64_t id) = 0;
  // Puts an outgoing dead letter's revision back in the outbox and drops the dead letter, in
  // one transaction (false when the dead letter was gone).
  virtual absl::StatusOr<bool> RequeueOutgoing(int64_t id, const StoredRevision& revision) = 0;
};

}  // namespace coffer::vault::repository
