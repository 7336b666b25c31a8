// DeadLetters (the operator's side) and TombstoneCollector against the in-memory stores.
#include "services/vault/sync/dead_letters.h"

#include "services/vault/sync/change_event.h"
#include "services/vault/sync/tombstone_collector.h"
#include "tests/unit/services/vault/sync/sync_test_support.h"

namespace coffer::vault::sync::test {
namespace {

class DeadLettersTest : public SyncLoopTest {
 protected:
  void SetUp() override {
    SyncLoopTest::SetUp();
    letters_ = std::make_unique<DeadLetters>("shard-b", store_, store_, *auth_, 0);
  }

  // An incoming dead letter as the consumer would have stored it.
  int64_t Quarantine(const repository::StoredRevision& r, const std::string& kind, bool sign) {
    repository::IncomingRevision in;
    in.partition = 1;
    in.offset = next_offset_++;
    in.merge = false;
    repository::DeadLetter d;
    d.direction = "in";
    d.kind = kind;
    d.error = "as received";
    d.partition = in.partition;
    d.offset = in.offset;
    d.origin_shard = r.stamp.origin_shard;
    d.key = EventKey(r);
    d.value = EncodeChangeEvent(r, "e");
    if (sign) {
      for (const kafka::Header& h : auth_->Sign(d.key, d.value)) {
        (h.key == kMacKeyIdHeader ? d.mac_key_id : d.mac) = h.value;
      }
    }
    in.dead_letter = d;
    EXPECT_TRUE(store_.ApplyBatch({in}, 0).ok());
    return store_.dead_letters().back().id;
  }

  std::unique_ptr<DeadLetters> letters_;
  int64_t next_offset_ = 0;
};

TEST_F(DeadLettersTest, RetryAppliesAnEventThatNowPassesAndDropsItsDeadLetter) {
  const int64_t id = Quarantine(Revision("shard-a", "r1"), "merge", /*sign=*/true);
  ASSERT_TRUE(letters_->Retry(id).ok());
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("r1")).has_value());
  EXPECT_TRUE(store_.dead_letters().empty());
  EXPECT_TRUE(absl::IsNotFound(letters_->Retry(id)));
}

TEST_F(DeadLettersTest, RetryNeverLetsAForgedEventIn) {
  const int64_t id = Quarantine(Revision("shard-a", "forged"), "mac", /*sign=*/false);
  absl::Status s = letters_->Retry(id);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(std::string(s.message()).find("mac"), std::string::npos);
  EXPECT_FALSE(store_.Record(kSpaceA, RecordId("forged")).has_value());
  EXPECT_EQ(store_.dead_letters().size(), 1u);
}

TEST_F(DeadLettersTest, RetryOfAnEventThatStillFailsItsMergeKeepsIt) {
  store_.SetMergeFault(
      [](const repository::StoredRevision&) { return absl::InvalidArgumentError("still bad"); });
  const int64_t id = Quarantine(Revision("shard-a", "r1"), "merge", /*sign=*/true);
  EXPECT_TRUE(absl::IsFailedPrecondition(letters_->Retry(id)));
  EXPECT_EQ(store_.dead_letters().size(), 1u);
}

TEST_F(DeadLettersTest, OutgoingRetryRequeuesTheRevisionAndDiscardDrops) {
  store_.AddOutbox(Revision("shard-b", "big"));
  repository::DeadLetter d;
  d.direction = "out";
  d.kind = "too_large";
  d.value = EncodeChangeEvent(Revision("shard-b", "big"), "e");
  ASSERT_TRUE(*store_.DeadLetterOutbox(store_.ReadOutbox(1)->front().id, d));
  EXPECT_EQ(store_.outbox_size(), 0u);
  const int64_t id = store_.dead_letters().front().id;
  ASSERT_TRUE(letters_->Retry(id).ok());
  EXPECT_EQ(store_.outbox_size(), 1u);
  const int64_t other = Quarantine(Revision("shard-a", "x"), "schema", true);
  ASSERT_TRUE(letters_->Discard(other).ok());
  EXPECT_TRUE(absl::IsNotFound(letters_->Discard(other)));
  EXPECT_TRUE(store_.dead_letters().empty());
}

TEST_F(DeadLettersTest, ListValidatesItsArgumentsAndNamesTheField) {
  EXPECT_NE(std::string(letters_->List("sideways", 0, 10).status().message()).find("direction"),
            std::string::npos);
  EXPECT_NE(std::string(letters_->List("in", 0, 0).status().message()).find("page_size"),
            std::string::npos);
  EXPECT_NE(std::string(letters_->List("in", -1, 10).status().message()).find("page_token"),
            std::string::npos);
  Quarantine(Revision("shard-a", "a"), "mac", false);
  absl::StatusOr<std::vector<repository::DeadLetter>> listed = letters_->List("in", 0, 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE(listed->front().value.empty());  // contents only through GetDeadLetter
  EXPECT_GT(listed->front().value_bytes, 0);
}

TEST_F(DeadLettersTest, CollectorDropsOnlyTombstonesEveryRegisteredShardSettledPast) {
  // A purged record whose tombstone this shard read back at partition 1, offset 4.
  repository::StoredRevision t = Revision("shard-b", "gone", 2, 2, "");
  t.purged = t.deleted = true;
  t.updated_at_ms -= 60000;
  repository::IncomingRevision own;
  own.partition = 1;
  own.offset = 4;
  own.merge = true;
  own.revision = t;
  repository::IncomingRevision mark = own;
  mark.merge = false;
  mark.own_tombstone = true;
  ASSERT_TRUE(store_.ApplyBatch({own, mark}, 0).ok());
  auto progress = [&](const std::string& shard, int64_t settled) {
    repository::IncomingRevision p;
    p.partition = 1;
    p.offset = next_offset_++ + 100;
    p.merge = false;
    p.progress_shard = shard;
    p.progress_settled = settled;
    ASSERT_TRUE(store_.ApplyBatch({p}, 0).ok());
  };
  TombstoneCollector gc({"shard-b", std::chrono::milliseconds(10), std::chrono::seconds(1)}, store_,
                        arbiter_->Make(), *metrics_);
  progress("shard-a", 10);
  progress("shard-b", 3);  // shard-b has not settled past offset 4 yet
  EXPECT_EQ(*gc.CollectOnce(), 0);
  EXPECT_EQ(metrics_->registered_shards.Value(), 2);
  progress("shard-b", 5);
  EXPECT_EQ(*gc.CollectOnce(), 1);
  EXPECT_FALSE(store_.Record(kSpaceA, RecordId("gone")).has_value());
  EXPECT_EQ(metrics_->tombstones_collected.Value(), 1);
}

}  // namespace
}  // namespace coffer::vault::sync::test
