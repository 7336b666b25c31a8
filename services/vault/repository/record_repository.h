// RecordRepository: storage of record revisions (heads, conflict siblings, history, outbox).
//
// Why an interface: the service layer's rules (authorization, check-and-set, encryption) are
// tested against InMemoryRecordRepository, and the SQL against real PostgreSQL
// (PgRecordRepository), each on its own.
//
// Everything here is already encrypted: name, metadata and payload are opaque envelopes. Every
// write is one atomic unit that also appends to history and the outbox.
//
// Threading: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/vault/domain/merge.h"
#include "services/vault/domain/record.h"

namespace coffer::vault::repository {

// One revision as stored. The ciphertexts are empty in a purged tombstone.
struct StoredRevision {
  std::string space_id;
  std::string record_id;
  domain::RecordType type = domain::RecordType::kText;
  domain::RevisionStamp stamp;
  bool deleted = false;
  bool purged = false;
  std::string key_id;  // KEK id the envelopes were sealed under; empty when purged
  std::string name_ct;
  std::string metadata_ct;
  std::string payload_ct;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;

  friend bool operator==(const StoredRevision&, const StoredRevision&) = default;
};

// A record's current state on this shard.
struct StoredRecord {
  StoredRevision head;
  // Conflict siblings, in descending (hlc, origin_shard) order.
  std::vector<StoredRevision> siblings;
  // Internal check-and-set token, see ReplaceHead.
  int64_t state_seq = 0;
  // Set by Get: the space's position as of the read, the greatest change_seq of the space it saw.
  // Changes of a space commit in change_seq order, so the read reflects every change of the space
  // at or below this position (service/head_cache.h compares it with session tokens).
  int64_t space_position = 0;
};

// The head a local write was computed from, which its check-and-set requires to be still there.
// version and state_seq move with every change of the row; the head's (hlc, origin_shard), which
// names a revision everywhere, tells one incarnation of a record id from another (tombstone GC
// drops a record, and a later create of the same id starts state_seq and version again at 1; a
// shard bootstrapped again starts its rows' state_seq again), so a copy kept in memory from
// before can never match a different head.
struct HeadCheck {
  int64_t version = 0;
  int64_t state_seq = 0;
  uint64_t hlc = 0;
  std::string origin_shard;

  static HeadCheck Of(const StoredRecord& record) {
    return {record.head.stamp.version, record.state_seq, record.head.stamp.hlc,
            record.head.stamp.origin_shard};
  }
};

// Which heads ListHeads returns. Everything else (names, metadata) is encrypted and filtered by
// the service after decryption.
struct HeadFilter {
  std::vector<domain::RecordType> types;  // empty = all
  bool in_trash = false;                  // deleted heads only, else live ones only
  bool in_conflict = false;               // only heads with siblings
};

// Position in a record's history, newest first: (version, hlc, origin_shard) descending.
struct HistoryCursor {
  int64_t version = 0;
  uint64_t hlc = 0;
  std::string origin_shard;
};

class RecordRepository {
 public:
  virtual ~RecordRepository() = default;

  // Records are identified by (space_id, record_id) (docs/architecture.md §2): one id in two spaces
  // is two unrelated records.
  //
  // Writes (Insert, ReplaceHead, Purge) return the change_seq they committed at (> 0: the space's
  // position after the write, which the API hands out as a session token), or 0 when they stored
  // nothing.
  //
  // Stores the first revision of a new record (head, history, outbox). Returns 0, storing
  // nothing, when the space already holds a record with this id.
  virtual absl::StatusOr<int64_t> Insert(const StoredRevision& revision) = 0;

  // The record with this id in this space, or nullopt.
  virtual absl::StatusOr<std::optional<StoredRecord>> Get(const std::string& space_id,
                                                          const std::string& record_id) = 0;

  // A local write: replaces the head with `revision`, drops every sibling (the revision's vector
  // dominates them), appends to history and the outbox, and keeps at most `history_keep` (0 = all)
  // revisions in history, dropping those with version <= revision.version - history_keep.
  // Succeeds only while the record's head is `expected` (HeadCheck); returns 0 (storing nothing)
  // otherwise, so the caller re-reads.
  virtual absl::StatusOr<int64_t> ReplaceHead(const StoredRevision& revision,
                                              const HeadCheck& expected, int history_keep) = 0;

  // Like ReplaceHead for a purge tombstone (no ciphertexts): drops siblings and all history.
  virtual absl::StatusOr<int64_t> Purge(const StoredRevision& tombstone,
                                        const HeadCheck& expected) = 0;

  // Heads of a space matching `filter`, never purged ones, in record id order, with their
  // siblings filled in only when filter.in_conflict is set.
  virtual absl::StatusOr<std::vector<StoredRecord>> ListHeads(const std::string& space_id,
                                                              const HeadFilter& filter) = 0;

  // Up to `limit` kept revisions of a record, newest first, strictly after `after` (nullopt =
  // from the newest).
  virtual absl::StatusOr<std::vector<StoredRevision>> ListHistory(
      const std::string& space_id, const std::string& record_id,
      const std::optional<HistoryCursor>& after, int limit) = 0;

  // The kept revision of a record with this version (the greatest (hlc, origin) when several
  // concurrent ones share it), or nullopt.
  virtual absl::StatusOr<std::optional<StoredRevision>> GetHistoryVersion(
      const std::string& space_id, const std::string& record_id, int64_t version) = 0;

  // Every head and sibling of a space, purged tombstones included, ordered by (record_id,
  // origin_shard, vector[origin_shard]): the replicated state the convergence digest hashes.
  virtual absl::StatusOr<std::vector<StoredRevision>> ListSpaceState(
      const std::string& space_id) = 0;

  // Outbox rows not yet published (for shard status).
  virtual absl::StatusOr<int64_t> OutboxBacklog() = 0;
};

}  // namespace coffer::vault::repository
