// OutboxRelay against the in-memory outbox and librdkafka's mock cluster: what reaches the
// topic, what leaves the outbox, and what goes to the dead letters.
#include "services/vault/sync/outbox_relay.h"

#include "services/vault/sync/change_event.h"
#include "tests/unit/services/vault/sync/sync_test_support.h"

namespace coffer::vault::sync::test {
namespace {

class OutboxRelayTest : public SyncLoopTest {
 protected:
  std::unique_ptr<OutboxRelay> MakeRelay(std::map<std::string, std::string> properties = {},
                                         std::chrono::milliseconds progress = {}) {
    OutboxRelayOptions options;
    options.shard_id = "shard-a";
    options.topic = kTopic;
    static_cast<kafka::ClientConfig&>(options.producer) = Client("relay");
    options.producer.properties = std::move(properties);
    options.poll_interval = std::chrono::milliseconds(20);
    options.delivery_timeout = std::chrono::seconds(10);
    options.progress_interval = progress;
    options.auth = auth_.get();
    return std::make_unique<OutboxRelay>(options, store_, arbiter_->Make(), *metrics_);
  }
};

TEST_F(OutboxRelayTest, PublishesEveryRowSignedOnItsSpacesPartitionAndEmptiesTheOutbox) {
  for (int i = 0; i < 5; ++i) store_.AddOutbox(Revision("shard-a", "r" + std::to_string(i)));
  auto relay = MakeRelay();
  relay->Start();
  ASSERT_TRUE(WaitUntil([&] { return store_.outbox_size() == 0; }));
  std::vector<kafka::Message> events = ReadTopic(5);
  ASSERT_EQ(events.size(), 5u);
  for (const kafka::Message& m : events) {
    EXPECT_TRUE(auth_->Verify(m.key, m.value, m.headers).ok());
    EXPECT_EQ(m.partition, PartitionForSpace(kSpaceA, kPartitions));
    absl::StatusOr<repository::StoredRevision> r = DecodeChangeEvent(m.value);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*m.key, EventKey(*r));
  }
  EXPECT_TRUE(relay->is_leader());
  EXPECT_TRUE(store_.dead_letters().empty());
}

TEST_F(OutboxRelayTest, RowKafkaRefusesForItsSizeIsDeadLetteredAndTheRowsBehindItFlow) {
  store_.AddOutbox(Revision("shard-a", "small-1"));
  store_.AddOutbox(Revision("shard-a", "huge", 1, 1, std::string(20000, 'x')));
  store_.AddOutbox(Revision("shard-a", "small-2"));
  // The producer refuses anything over 4 KB, as a broker would refuse an event over its
  // max.message.bytes.
  auto relay = MakeRelay({{"message.max.bytes", "4096"}});
  relay->Start();
  // The dead letter is counted just after the row moved: wait for both.
  ASSERT_TRUE(WaitUntil([&] {
    return store_.outbox_size() == 0 &&
           metrics_->relay_dead_letters.Add({{"kind", "too_large"}}).Value() >= 1;
  }));
  std::vector<repository::DeadLetter> letters = store_.dead_letters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].direction, "out");
  EXPECT_EQ(letters[0].kind, "too_large");
  absl::StatusOr<repository::StoredRevision> kept = DecodeChangeEvent(letters[0].value);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->record_id, RecordId("huge"));
  EXPECT_EQ(ReadTopic(2).size(), 2u);
  EXPECT_EQ(metrics_->relay_dead_letters.Add({{"kind", "too_large"}}).Value(), 1);
}

TEST_F(OutboxRelayTest, UnreadableRowIsDeadLetteredWithoutContentAndDoesNotBlock) {
  store_.AddUnreadableOutbox("row 7: unknown record type");
  store_.AddOutbox(Revision("shard-a", "after"));
  auto relay = MakeRelay();
  relay->Start();
  ASSERT_TRUE(WaitUntil([&] { return store_.outbox_size() == 0; }));
  std::vector<repository::DeadLetter> letters = store_.dead_letters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].kind, "unreadable");
  EXPECT_TRUE(letters[0].value.empty());
  EXPECT_NE(letters[0].error.find("unknown record type"), std::string::npos);
  EXPECT_EQ(ReadTopic(1).size(), 1u);
}

TEST_F(OutboxRelayTest, RowsWaitWhileTheDatabaseIsDownAndLeaveOnceItIsBack) {
  store_.SetDown(absl::UnavailableError("database down"));
  store_.AddOutbox(Revision("shard-a", "r1"));
  auto relay = MakeRelay();
  relay->Start();
  // The relay led and tried: its reads failed (proof it ran, not merely that it had not yet).
  ASSERT_TRUE(WaitUntil([&] { return relay->is_leader() && store_.down_refusals() >= 2; }));
  EXPECT_EQ(store_.outbox_size(), 1u);
  store_.SetDown(std::nullopt);
  ASSERT_TRUE(WaitUntil([&] { return store_.outbox_size() == 0; }));
  EXPECT_EQ(ReadTopic(1).size(), 1u);
}

TEST_F(OutboxRelayTest, OnlyTheLeaderPublishesAndAStandbyTakesOverWhenItsSessionIsLost) {
  auto first = MakeRelay();
  first->Start();
  ASSERT_TRUE(WaitUntil([&] { return first->is_leader(); }));
  auto second = MakeRelay();
  second->Start();
  store_.AddOutbox(Revision("shard-a", "r1"));
  ASSERT_TRUE(WaitUntil([&] { return store_.outbox_size() == 0; }));
  EXPECT_FALSE(second->is_leader());
  // The leader's database session ends: it notices at its next round and the standby leads.
  arbiter_->RevokeHolder();
  ASSERT_TRUE(WaitUntil([&] { return arbiter_->acquisitions() >= 2; }));
  ASSERT_TRUE(WaitUntil([&] { return first->is_leader() != second->is_leader(); }));
  store_.AddOutbox(Revision("shard-a", "r2"));
  ASSERT_TRUE(WaitUntil([&] { return store_.outbox_size() == 0; }));
  EXPECT_EQ(ReadTopic(2).size(), 2u);
}

TEST_F(OutboxRelayTest, BlobTravelsChunkByChunkOnItsSpacesPartition) {
  repository::StoredBlob blob;
  blob.blob_id = RecordId("b1");
  blob.space_id = kSpaceA;
  blob.size_bytes = 2 * repository::kBlobChunkBytes + 6;  // three chunks
  blob.chunk_count = 3;
  blob.key_id = "k1";
  blob.info_ct = "info";
  store_.AddBlob(blob, {"c0", "c1", "c2"});
  auto relay = MakeRelay();
  relay->Start();
  std::vector<kafka::Message> events = ReadTopic(3);
  ASSERT_EQ(events.size(), 3u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(*events[i].key, BlobChunkKey(RecordId("b1")));
    absl::StatusOr<TopicEvent> e = DecodeTopicEvent(events[i].value);
    ASSERT_TRUE(e.ok()) << e.status();
    ASSERT_TRUE(e->blob_chunk.has_value());
    EXPECT_EQ(e->blob_chunk->index, static_cast<int>(i));
    EXPECT_EQ(e->blob_chunk->chunk_ct, "c" + std::to_string(i));
  }
  ASSERT_TRUE(WaitUntil([&] { return store_.ReadBlobOutbox(10)->empty(); }));
}

TEST_F(OutboxRelayTest, ProgressMarkerReportsOffsetsOnlyOnceTheWritesBeforeThemWerePublished) {
  store_.SetOffsets({{0, 7}, {1, 3}});
  auto relay = MakeRelay({}, std::chrono::milliseconds(50));
  relay->Start();
  // One marker per partition, each naming every partition (2 is reported as 0).
  std::vector<kafka::Message> events = ReadTopic(kPartitions);
  ASSERT_EQ(events.size(), static_cast<size_t>(kPartitions));
  for (const kafka::Message& m : events) {
    EXPECT_EQ(*m.key, ProgressKey("shard-a"));
    absl::StatusOr<TopicEvent> e = DecodeTopicEvent(m.value);
    ASSERT_TRUE(e.ok() && e->progress);
    EXPECT_EQ(e->progress->settled_offsets, (std::map<int32_t, int64_t>{{0, 7}, {1, 3}, {2, 0}}));
  }
}

}  // namespace
}  // namespace coffer::vault::sync::test
