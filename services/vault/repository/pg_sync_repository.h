// PgSyncRepository: the shard-sync data access on the shard's PostgreSQL — the outbox the relay
// drains, the consumer's merges and stored offsets, and the client change feed (DESIGN.md §4–§5;
// schema in migrations/V001__init.sql and V002__sync.sql, statements in sql.h).
//
// Merges follow DESIGN.md §3 rule 2 (domain::MergeSiblings): the revisions not dominated by
// another are kept, the greatest (hlc, origin) is the head, the others are conflict siblings.
// A merge never writes the outbox (no echo) and stores the consumer offsets in the SAME
// transaction, so applying a batch and moving past it are one atomic step; a duplicate or an
// older revision changes nothing.
//
// After a batch that changed records committed, the commit hook (if set) is called per space of
// the batch, so the replica's ChangeNotifier wakes Watch streams (no NOTIFY inside the merge
// transaction; see migrations/V003).
//
// Lifecycle: borrows a pool that must outlive it. Threading: thread-safe; the hook runs on the
// calling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/postgres/connection_pool.h"
#include "services/vault/repository/blob_repository.h"
#include "services/vault/repository/record_repository.h"

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

// An event this shard will not apply ('in') or cannot publish ('out'), kept as it was, with why
// (V008, README "Dead letters").
struct DeadLetter {
  int64_t id = 0;                  // assigned when stored
  std::string direction = "in";    // "in" | "out"
  std::string kind;                // in: mac | schema | decode | merge; out: too_large | refused
  std::string error;               // never holds record content or key material
  int32_t partition = -1;          // -1 = none
  int64_t offset = -1;             // -1 = none (outgoing)
  std::string origin_shard;        // as the event claims it
  std::optional<std::string> key;  // Kafka key (nullopt = null)
  std::string value;               // the serialized ChangeEvent
  std::string mac_key_id;          // from the event's headers ("" = none)
  std::string mac;
  int64_t created_at_ms = 0;  // when stored
  int64_t value_bytes = 0;    // size of `value` (ListDeadLetters leaves `value` empty)
};

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
  std::vector<struct ShardProgressRow> progress;
  std::vector<Tombstone> tombstones;
};

// One registered shard's settled offset of one partition.
struct ShardProgressRow {
  std::string shard_id;
  int32_t partition = 0;
  int64_t settled_offset = 0;
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

class PgSyncRepository {
 public:
  // Called once per distinct space id of a merge batch after ApplyBatch committed.
  using CommitHook = std::function<void(const std::string& space_id)>;

  explicit PgSyncRepository(postgres::ConnectionPool& pool) : pool_(pool) {}

  // Set before the first ApplyBatch (the app wires it to ChangeNotifier::Publish).
  void SetCommitHook(CommitHook hook) { hook_ = std::move(hook); }

  // Up to `limit` outbox rows, oldest first.
  absl::StatusOr<std::vector<OutboxEntry>> ReadOutbox(int limit);
  // Deletes exactly these outbox rows (those Kafka acknowledged).
  absl::Status DeleteOutbox(const std::vector<int64_t>& ids);

  // Up to `limit` queued blobs, oldest first (V007), and chunk `index` of one (nullopt if gone).
  absl::StatusOr<std::vector<BlobOutboxEntry>> ReadBlobOutbox(int limit);
  absl::StatusOr<std::optional<std::string>> ReadBlobChunk(const std::string& blob_id, int index);
  // Deletes a queued blob whose chunks Kafka acknowledged.
  absl::Status DeleteBlobOutbox(int64_t id);

  // Merges `batch` in one transaction and stores, per partition, the offset after the greatest
  // offset of the batch. `history_keep` as for RecordRepository::ReplaceHead (0 = all).
  absl::StatusOr<MergeOutcome> ApplyBatch(const std::vector<IncomingRevision>& batch,
                                          int history_keep);
  // Dead letters (V008). Moves outbox row `outbox_id` to the dead letters (false when the row
  // was gone already).
  absl::StatusOr<bool> DeadLetterOutbox(int64_t outbox_id, const DeadLetter& letter);
  // Up to `limit` dead letters with id > `after_id`, of `direction` ("" = both), oldest first,
  // without their key, value and MAC (value_bytes tells the size; GetDeadLetter reads them).
  absl::StatusOr<std::vector<DeadLetter>> ListDeadLetters(const std::string& direction,
                                                          int64_t after_id, int limit);
  // One dead letter, or nullopt.
  absl::StatusOr<std::optional<DeadLetter>> GetDeadLetter(int64_t id);
  // Drops one; false when it was not there.
  absl::StatusOr<bool> DeleteDeadLetter(int64_t id);
  // Puts an outgoing dead letter's revision back in the outbox and drops the dead letter, in
  // one transaction (false when the dead letter was gone).
  absl::StatusOr<bool> RequeueOutgoing(int64_t id, const StoredRevision& revision);

  // Stored consumer positions: partition -> next offset.
  absl::StatusOr<std::map<int32_t, int64_t>> LoadOffsets();

  // Up to `limit` heads of `space_id` changed after `after_seq`, in commit order.
  // With `gc_floor`, also the change_seq below which the space's feed may have lost tombstones
  // to GC (0 = none), read in the same REPEATABLE READ snapshot.
  absl::StatusOr<std::vector<ChangeEntry>> ListChanges(const std::string& space_id,
                                                       int64_t after_seq, int limit,
                                                       int64_t* gc_floor = nullptr);
  // The greatest change_seq this database handed out.
  absl::StatusOr<int64_t> LastChangeSeq();

  // Tombstone GC (V004, README "Tombstone GC").
  absl::StatusOr<ProgressSnapshot> ReadProgressSnapshot();
  // Partitions on which `shard_id`'s own progress marker came back through the topic.
  absl::StatusOr<std::vector<int32_t>> OwnProgressPartitions(const std::string& shard_id);
  // Every registered shard's settled offsets.
  absl::StatusOr<std::vector<ShardProgressRow>> ListProgress();
  // Drops the tombstones behind the horizon last written before `written_before_ms`; returns
  // how many.
  absl::StatusOr<int64_t> CollectTombstones(int64_t written_before_ms);

  // Bootstrap (README "Bootstrap").
  // Reads the whole replicated state in one REPEATABLE READ snapshot: `header` once, then every
  // head and sibling (heads first per record) in chunks to `chunk`; CANCELLED when a callback
  // returns false.
  absl::Status ExportSnapshot(const std::function<bool(const SnapshotHeader&)>& header,
                              const std::function<bool(std::vector<StoredRevision>&&)>& chunk);
  // True while the database holds no record and no consumer position (a new shard).
  absl::StatusOr<bool> IsEmpty();
  // Imports a peer's snapshot into an empty database in one transaction: the revisions (merged
  // as received, so heads and siblings come out as on the peer), the consumer positions, with
  // own-origin events merged below `merge_own_until` per partition, and the progress rows.
  // FAILED_PRECONDITION when the database is not empty.
  absl::Status ImportSnapshot(const SnapshotHeader& header,
                              const std::vector<StoredRevision>& revisions,
                              const std::map<int32_t, int64_t>& merge_own_until);
  // Merges a peer's snapshot into this shard's current state (a shard whose stored positions
  // fell below the log start; README "Recovery"): every revision merged as if received, the
  // consumer positions moved forward to the snapshot's (never back), the peer's progress rows
  // and tombstone positions stored. Nothing of this shard's own state is dropped: the merge is
  // a join, and no event this shard missed can have been collected by GC elsewhere (its own
  // progress markers held the horizon back). One transaction.
  absl::Status MergeSnapshot(const SnapshotHeader& header,
                             const std::vector<StoredRevision>& revisions);
  // Per partition, the offset below which own-origin events are merged (absent = none).
  absl::StatusOr<std::map<int32_t, int64_t>> LoadMergeOwnUntil();

 private:
  postgres::ConnectionPool& pool_;
  CommitHook hook_;
};

}  // namespace coffer::vault::repository
