// ChangeFeed paging and cursors, and Bootstrap's decisions, against the in-memory stores.
#include <limits>

#include "services/vault/repository/in_memory_repositories.h"
#include "services/vault/service/record_cipher.h"
#include "services/vault/service/space_access.h"
#include "services/vault/sync/bootstrap.h"
#include "services/vault/sync/change_feed.h"
#include "tests/unit/services/vault/sync/sync_test_support.h"

namespace coffer::vault::sync::test {
namespace {

class ChangeFeedTest : public SyncLoopTest {
 protected:
  void SetUp() override {
    SyncLoopTest::SetUp();
    cipher_ = std::make_unique<service::RecordCipher>(*ring_);
    feed_ = std::make_unique<ChangeFeed>("shard-b", store_, access_, *cipher_);
  }

  // A revision of `name` written on shard-a, sealed as stored, merged into this shard.
  void Arrive(const std::string& name, int64_t offset, bool purged = false) {
    domain::Revision r;
    r.space_id = kSpaceA;
    r.record_id = RecordId(name);
    r.stamp = Revision("shard-a", name).stamp;
    r.purged = r.deleted = purged;
    r.content.name = name;
    r.created_at_ms = r.updated_at_ms = Revision("shard-a", name).updated_at_ms;
    if (purged) r.created_at_ms = r.updated_at_ms -= 60000;
    absl::StatusOr<repository::StoredRevision> sealed = cipher_->Seal(r);
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    repository::IncomingRevision in;
    in.partition = 0;
    in.offset = offset;
    in.revision = *sealed;
    ASSERT_TRUE(store_.ApplyBatch({in}, 0).ok());
  }

  repository::InMemorySpaceRepository spaces_;
  service::SpaceAccess access_{spaces_, [] { return int64_t{1}; }};
  std::unique_ptr<service::RecordCipher> cipher_;
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

class BootstrapTest : public SyncLoopTest {
 protected:
  void SetUp() override {
    SyncLoopTest::SetUp();
    kafka::ConsumerConfig config;
    static_cast<kafka::ClientConfig&>(config) = Client("probe");
    auto probe = kafka::Consumer::Create(config);
    ASSERT_TRUE(probe.ok());
    probe_ = *std::move(probe);
    options_.shard_id = "shard-b";
    options_.topic = kTopic;
  }
  BootstrapOptions options_;
  std::unique_ptr<kafka::Consumer> probe_;
};

TEST_F(BootstrapTest, ShardWithStateResumesFromItsStoredPositions) {
  store_.SetOffsets({{0, 5}});
  absl::StatusOr<BootstrapResult> r = Bootstrap(options_, store_, *probe_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, BootstrapResult::kNotNeeded);
  EXPECT_EQ(store_.offsets(), (std::map<int32_t, int64_t>{{0, 5}}));
}

TEST_F(BootstrapTest, EmptyShardOnACompleteLogStartsAtZeroAndMergesItsEarlierSelf) {
  // An earlier incarnation of shard-b wrote to partition 1.
  Produce(1, "k", "v");
  Produce(1, "k", "v");
  absl::StatusOr<BootstrapResult> r = Bootstrap(options_, store_, *probe_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, BootstrapResult::kFromLogStart);
  EXPECT_EQ(store_.offsets(), (std::map<int32_t, int64_t>{{0, 0}, {1, 0}, {2, 0}}));
  EXPECT_EQ(*store_.LoadMergeOwnUntil(), (std::map<int32_t, int64_t>{{0, 0}, {1, 2}, {2, 0}}));
  // Twice is harmless: the second finds state.
  EXPECT_EQ(*Bootstrap(options_, store_, *probe_), BootstrapResult::kNotNeeded);
}

TEST_F(BootstrapTest, SnapshotModeAndRecoveryNeedAPeer) {
  options_.mode = BootstrapMode::kSnapshot;
  absl::Status s = Bootstrap(options_, store_, *probe_).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(std::string(s.message()).find("--bootstrap-peer"), std::string::npos);
  absl::Status recover = RecoverFromPeer(options_, store_, *probe_);
  EXPECT_TRUE(absl::IsFailedPrecondition(recover)) << recover;
  EXPECT_TRUE(*store_.IsEmpty());
}

}  // namespace
}  // namespace coffer::vault::sync::test
