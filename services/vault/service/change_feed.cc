#include "services/vault/service/change_feed.h"

#include <limits>

#include "pkg/crypto/encoding.h"
#include "pkg/status/status.h"

namespace coffer::vault::service {
namespace {

// A position as EncodeFeedCursor writes it: decimal digits without sign, blanks or leading zeros,
// at most INT64_MAX, so one position has one spelling.
bool ParseNonNegative(const std::string& text, int64_t* out) {
  if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) return false;
  uint64_t value = 0;  // 19 digits fit
  for (char ch : text) {
    if (ch < '0' || ch > '9') return false;
    value = value * 10 + static_cast<uint64_t>(ch - '0');
  }
  if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  *out = static_cast<int64_t>(value);
  return true;
}

}  // namespace

// c1|shard|space|seq (before tombstone GC) or c2|shard|space|seq|gc_floor, where gc_floor is the
// space's GC floor when the cursor was issued (README "Tombstone GC").
std::string EncodeFeedCursor(const std::string& shard_id, const std::string& space_id,
                             int64_t change_seq, int64_t gc_floor) {
  return crypto::Base64UrlEncode("c2|" + shard_id + "|" + space_id + "|" +
                                 std::to_string(change_seq) + "|" + std::to_string(gc_floor));
}

absl::StatusOr<FeedCursor> DecodeFeedCursor(const std::string& text) {
  absl::StatusOr<std::string> raw = crypto::Base64UrlDecode(text);
  if (!raw.ok()) return absl::InvalidArgumentError("cursor: malformed");
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= raw->size(); ++i) {
    if (i == raw->size() || (*raw)[i] == '|') {
      parts.push_back(raw->substr(start, i - start));
      start = i + 1;
    }
  }
  const bool v1 = parts.size() == 4 && parts[0] == "c1";
  const bool v2 = parts.size() == 5 && parts[0] == "c2";
  if ((!v1 && !v2) || parts[1].empty()) return absl::InvalidArgumentError("cursor: malformed");
  FeedCursor c{parts[1], parts[2], 0, 0};
  if (!ParseNonNegative(parts[3], &c.seq) || (v2 && !ParseNonNegative(parts[4], &c.gc_floor))) {
    return absl::InvalidArgumentError("cursor: malformed");
  }
  return c;
}

absl::StatusOr<FeedReset> CheckFeedCursor(const FeedCursor& cursor, const std::string& shard_id,
                                          const std::string& space_id) {
  if (cursor.shard != shard_id) return FeedReset::kForeignShard;
  if (cursor.space != space_id)
    return absl::InvalidArgumentError("cursor: issued for another space");
  return FeedReset::kNone;
}

std::string ChangeFeed::EncodeCursor(const std::string& space_id, int64_t change_seq,
                                     int64_t gc_floor) const {
  return EncodeFeedCursor(shard_id_, space_id, change_seq, gc_floor);
}

absl::StatusOr<std::string> ChangeFeed::ResolveSpace(const Caller& caller,
                                                     const std::string& space_id) {
  return access_.Resolve(caller, space_id, domain::Role::kReader, "space_id");
}

absl::StatusOr<FeedPage> ChangeFeed::Page(const std::string& space_id, const std::string& cursor,
                                          int page_size) {
  if (page_size < 0) return absl::InvalidArgumentError("page_size: must not be negative");
  int size = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  FeedPage page;
  int64_t after = 0;
  int64_t cursor_floor = 0;  // the GC floor the cursor was issued under
  if (!cursor.empty()) {
    COFFER_ASSIGN_OR_RETURN(FeedCursor c, DecodeFeedCursor(cursor));
    COFFER_ASSIGN_OR_RETURN(page.reset, CheckFeedCursor(c, shard_id_, space_id));
    if (page.reset != FeedReset::kNone) return page;
    COFFER_ASSIGN_OR_RETURN(int64_t last, repo_.LastChangeSeq());
    // Beyond what this database handed out (a replaced database): re-read the space.
    if (c.seq > last) {
      page.reset = FeedReset::kExpired;
      return page;
    }
    after = c.seq;
    cursor_floor = c.gc_floor;
  }
  // The listing carries the GC floor of its own snapshot. A cursor issued before GC dropped a
  // tombstone after its position would skip that delete (the client never saw it): reset, and
  // the client re-reads the space. A read from the start is consistent with the floor as it is.
  int64_t gc_floor = 0;
  COFFER_ASSIGN_OR_RETURN(std::vector<repository::ChangeEntry> entries,
                          repo_.ListChanges(space_id, after, size + 1, &gc_floor));
  if (!cursor.empty() && cursor_floor < gc_floor && after < gc_floor) {
    page.reset = FeedReset::kExpired;
    return page;
  }
  page.has_more = entries.size() > static_cast<size_t>(size);
  if (page.has_more) entries.resize(size);
  int64_t position = after;
  for (const repository::ChangeEntry& e : entries) {
    FeedChange change;
    COFFER_ASSIGN_OR_RETURN(change.record, cipher_.Open(e.head));
    change.record.sibling_count = e.sibling_count;
    position = e.change_seq;
    change.cursor = EncodeCursor(space_id, position, gc_floor);
    page.changes.push_back(std::move(change));
  }
  page.next_cursor = EncodeCursor(space_id, position, gc_floor);
  return page;
}

}  // namespace coffer::vault::service
