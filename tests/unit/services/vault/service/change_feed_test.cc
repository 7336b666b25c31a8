// ChangeFeed paging and cursors against the in-memory sync store (tests/support/vault).
#include "services/vault/service/change_feed.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "pkg/crypto/encoding.h"
#include "pkg/crypto/keyring.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/repository/in_memory_repositories.h"
#include "services/vault/service/record_cipher.h"
#include "services/vault/service/space_access.h"
#include "tests/support/vault/in_memory_sync_store.h"

namespace coffer::vault::service {
namespace {

constexpr char kSpaceA[] = "7e0e5c1a-4a4e-5f2b-9a77-0d5a5c8a1f10";

// A record id (a UUID) named by `name` in a test.
std::string RecordId(const std::string& name) {
  char out[37];
  const uint64_t h = std::hash<std::string>{}(name);
  std::snprintf(out, sizeof out, "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(h >> 32),
                static_cast<unsigned>((h >> 16) & 0xffff), static_cast<unsigned>(h & 0xfff),
                static_cast<unsigned>((h >> 12) & 0xfff),
                static_cast<unsigned long long>(h & 0xffffffffffffULL));
  return out;
}

class ChangeFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<crypto::Keyring> ring =
        crypto::Keyring::Parse("k1:" + crypto::Base64Encode(std::string(32, 'k')));
    ASSERT_TRUE(ring.ok()) << ring.status();
    ring_ = std::make_unique<crypto::Keyring>(*std::move(ring));
    cipher_ = std::make_unique<RecordCipher>(*ring_);
    feed_ = std::make_unique<ChangeFeed>("shard-b", store_, access_, *cipher_);
  }

  // A revision of `name` written on shard-a, sealed as stored, merged into this shard.
  void Arrive(const std::string& name, int64_t offset, bool purged = false) {
    domain::Revision r;
    r.space_id = kSpaceA;
    r.record_id = RecordId(name);
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    r.stamp.version = 1;
    r.stamp.vector.Set("shard-a", 1);
    r.stamp.hlc = domain::HlcTimestamp::Pack(static_cast<uint64_t>(now_ms), 1);
    r.stamp.origin_shard = "shard-a";
    r.purged = r.deleted = purged;
    r.content.name = name;
    r.created_at_ms = r.updated_at_ms = now_ms;
    if (purged) r.created_at_ms = r.updated_at_ms -= 60000;
    absl::StatusOr<repository::StoredRevision> sealed = cipher_->Seal(r);
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    repository::IncomingRevision in;
    in.partition = 0;
    in.offset = offset;
    in.revision = *sealed;
    ASSERT_TRUE(store_.ApplyBatch({in}, 0).ok());
  }

  std::unique_ptr<crypto::Keyring> ring_;
  vault::testing::InMemorySyncStore store_;
  repository::InMemorySpaceRepository spaces_;
  SpaceAccess access_{spaces_, [] { return int64_t{1}; }};
  std::unique_ptr<RecordCipher> cipher_;
  std::unique_ptr<ChangeFeed> feed_;
};

TEST_F(ChangeFeedTest, PagesInCommitOrderAndACursorResumesAfterItsPosition) {
  Arrive("one", 0);
  Arrive("two", 1);
  Arrive("three", 2);
  absl::StatusOr<FeedPage> first = feed_->Page(kSpaceA, "", 2);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->changes.size(), 2u);
  EXPECT_TRUE(first->has_more);
  EXPECT_EQ(first->changes[0].record.content.name, "one");
  EXPECT_EQ(first->changes[1].record.content.name, "two");
  absl::StatusOr<FeedPage> second = feed_->Page(kSpaceA, first->next_cursor, 2);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->changes.size(), 1u);
  EXPECT_EQ(second->changes[0].record.content.name, "three");
  EXPECT_FALSE(second->has_more);
  // A change after the last page shows up from the last cursor, and only it.
  Arrive("four", 3);
  absl::StatusOr<FeedPage> third = feed_->Page(kSpaceA, second->next_cursor, 10);
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(third->changes.size(), 1u);
  EXPECT_EQ(third->changes[0].record.content.name, "four");
}

TEST_F(ChangeFeedTest, CursorsOfAnotherShardSpaceOrFutureResetOrAreRefused) {
  Arrive("one", 0);
  ChangeFeed other_shard("shard-c", store_, access_, *cipher_);
  const std::string foreign = other_shard.EncodeCursor(kSpaceA, 1, 0);
  EXPECT_EQ(feed_->Page(kSpaceA, foreign, 10)->reset, FeedReset::kForeignShard);
  const std::string beyond = feed_->EncodeCursor(kSpaceA, 99, 0);
  EXPECT_EQ(feed_->Page(kSpaceA, beyond, 10)->reset, FeedReset::kExpired);
  const std::string other_space = feed_->EncodeCursor("00000000-0000-4000-8000-000000000001", 1, 0);
  absl::Status s = feed_->Page(kSpaceA, other_space, 10).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(std::string(s.message()).find("cursor"), std::string::npos);
  for (const std::string& bad :
       std::vector<std::string>{"%%%", "YzJ8", crypto::Base64UrlEncode("c2|shard-b|x|-1|0")}) {
    absl::Status malformed = feed_->Page(kSpaceA, bad, 10).status();
    EXPECT_TRUE(absl::IsInvalidArgument(malformed)) << bad;
    EXPECT_EQ(std::string(malformed.message()), "cursor: malformed");
  }
  EXPECT_TRUE(absl::IsInvalidArgument(feed_->Page(kSpaceA, "", -1).status()));
}

// Found by tests/fuzz/sync_cursor (corpus regress-cursor-leading-zero): positions were read with
// std::stoll, so "01", "+1" and " 1" all named position 1 (several spellings of one cursor).
TEST(FeedCursorTest, APositionHasOneSpelling) {
  const std::string space = "7e0e5c1a-4a4e-4f2b-9a77-0d5a5c8a1f10";
  absl::StatusOr<FeedCursor> c =
      DecodeFeedCursor(EncodeFeedCursor("shard-a", space, std::numeric_limits<int64_t>::max(), 0));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->shard, "shard-a");
  EXPECT_EQ(c->space, space);
  EXPECT_EQ(c->seq, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(c->gc_floor, 0);
  for (const char* seq : {"01", "+1", " 1", "1 ", "-0", "00", "", "9223372036854775808",
                          "99999999999999999999", "1e3", "0x1"}) {
    for (const std::string& raw :
         {"c2|shard-a|" + space + "|" + seq + "|0", "c2|shard-a|" + space + "|0|" + seq,
          std::string("c1|shard-a||") + seq}) {
      absl::StatusOr<FeedCursor> bad = DecodeFeedCursor(crypto::Base64UrlEncode(raw));
      EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << raw;
    }
  }
  EXPECT_EQ(DecodeFeedCursor(crypto::Base64UrlEncode("c1|shard-a||0"))->seq, 0);
  // The scope check Page makes: another shard resets, another space is refused.
  EXPECT_EQ(*CheckFeedCursor(*c, "shard-a", space), FeedReset::kNone);
  EXPECT_EQ(*CheckFeedCursor(*c, "shard-b", space), FeedReset::kForeignShard);
  EXPECT_TRUE(absl::IsInvalidArgument(CheckFeedCursor(*c, "shard-a", "").status()));
}

TEST_F(ChangeFeedTest, CursorIssuedBeforeGcDroppedATombstoneAfterItResets) {
  Arrive("kept", 0);
  absl::StatusOr<FeedPage> page = feed_->Page(kSpaceA, "", 10);
  ASSERT_TRUE(page.ok());
  // A purge after the cursor, collected by GC before the client read again.
  Arrive("gone", 1, /*purged=*/true);
  repository::IncomingRevision own;
  own.partition = 0;
  own.offset = 2;
  own.merge = false;
  own.own_tombstone = true;
  own.revision.space_id = kSpaceA;
  own.revision.record_id = RecordId("gone");
  repository::IncomingRevision marker;
  marker.partition = 0;
  marker.offset = 3;
  marker.merge = false;
  marker.progress_shard = "shard-b";
  marker.progress_settled = 10;
  ASSERT_TRUE(store_.ApplyBatch({own, marker}, 0).ok());
  ASSERT_EQ(*store_.CollectTombstones(std::numeric_limits<int64_t>::max()), 1);
  absl::StatusOr<FeedPage> after = feed_->Page(kSpaceA, page->next_cursor, 10);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->reset, FeedReset::kExpired);
  // Read again from the start, it is consistent: the purged record is simply not there.
  absl::StatusOr<FeedPage> fresh = feed_->Page(kSpaceA, "", 10);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->reset, FeedReset::kNone);
  ASSERT_EQ(fresh->changes.size(), 1u);
}

}  // namespace
}  // namespace coffer::vault::service
