// ChangeFeed: the client change feed of one shard (docs/architecture.md §5, SyncService in
// proto/coffer/vault/v1/sync.proto): every record of a space changed after a cursor, in commit
// order, tombstones (deleted and purged records) included.
//
// Order: records.change_seq is assigned while each transaction commits, under a per-space
// advisory lock (migrations/V002__sync.sql, narrowed from per-shard by V003), so it is
// commit-ordered within a space: once a reader of space S saw position N, no change of S at or
// below N can still appear. A cursor (which names its space) is therefore just "position N".
//
// Cursor: base64url("c2|<shard_id>|<space_id>|<change_seq>|<gc_floor>"); "c1|...|<change_seq>"
// (before tombstone GC) is still read. Not secret (positions only).
// A cursor of another shard → reset FOREIGN_SHARD (positions are per database); a position
// beyond anything this database handed out (a restored or replaced database) → reset EXPIRED;
// a cursor of another space or a malformed one → INVALID_ARGUMENT "cursor: ...".
//
// Lifecycle: borrows its collaborators. Threading: thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/vault/domain/record.h"
#include "services/vault/repository/sync_stores.h"
#include "services/vault/service/caller.h"
#include "services/vault/service/record_cipher.h"
#include "services/vault/service/space_access.h"

namespace coffer::vault::service {

enum class FeedReset { kNone, kForeignShard, kExpired };

// A decoded cursor (format above): c1 cursors decode with gc_floor 0.
struct FeedCursor {
  std::string shard;
  std::string space;
  int64_t seq = 0;
  int64_t gc_floor = 0;
};

// The cursor codec ChangeFeed uses, public so tests/fuzz/sync_cursor checks the same code.
std::string EncodeFeedCursor(const std::string& shard_id, const std::string& space_id,
                             int64_t change_seq, int64_t gc_floor);
// INVALID_ARGUMENT "cursor: malformed" for anything EncodeFeedCursor (or the c1 form) did not
// produce.
absl::StatusOr<FeedCursor> DecodeFeedCursor(const std::string& text);

// What a decoded cursor means for a page of `space_id` on shard `shard_id` (the check Page makes
// before reading): kForeignShard when another shard issued it, INVALID_ARGUMENT "cursor: ..." when
// it was issued for another space, kNone when it may be used.
absl::StatusOr<FeedReset> CheckFeedCursor(const FeedCursor& cursor, const std::string& shard_id,
                                          const std::string& space_id);

struct FeedChange {
  domain::Revision record;  // the head now; sibling_count set
  std::string cursor;       // position just after this change
};

struct FeedPage {
  std::vector<FeedChange> changes;
  std::string next_cursor;
  bool has_more = false;
  FeedReset reset = FeedReset::kNone;
};

class ChangeFeed {
 public:
  static constexpr int kDefaultPageSize = 500;
  static constexpr int kMaxPageSize = 1000;

  ChangeFeed(std::string shard_id, repository::ChangeFeedStore& repo, SpaceAccess& access,
             const RecordCipher& cipher)
      : shard_id_(std::move(shard_id)), repo_(repo), access_(access), cipher_(cipher) {}

  // The canonical space id the caller may read (empty = personal), NOT_FOUND otherwise.
  absl::StatusOr<std::string> ResolveSpace(const Caller& caller, const std::string& space_id);

  // One page after `cursor` (empty = from the beginning). page_size 0 = default; capped.
  absl::StatusOr<FeedPage> Page(const std::string& space_id, const std::string& cursor,
                                int page_size);

  std::string EncodeCursor(const std::string& space_id, int64_t change_seq, int64_t gc_floor) const;

 private:
  const std::string shard_id_;
  repository::ChangeFeedStore& repo_;
  SpaceAccess& access_;
  const RecordCipher& cipher_;
};

}  // namespace coffer::vault::service
