// ChangeConsumer against the in-memory replica state and librdkafka's mock cluster: what is
// merged, skipped, quarantined or retried, and what the stored positions say afterwards.
#include "services/vault/sync/change_consumer.h"

#include "services/vault/sync/change_event.h"
#include "tests/unit/services/vault/sync/sync_test_support.h"

namespace coffer::vault::sync::test {
namespace {

class ChangeConsumerTest : public SyncLoopTest {
 protected:
  std::unique_ptr<ChangeConsumer> MakeConsumer(ReplicationGate* gate = nullptr) {
    ChangeConsumerOptions options;
    options.shard_id = "shard-b";
    options.topic = kTopic;
    static_cast<kafka::ClientConfig&>(options.consumer) = Client("consumer");
    options.consumer.properties["fetch.wait.max.ms"] = "10";
    options.poll_timeout = std::chrono::milliseconds(20);
    options.stall_recheck = std::chrono::milliseconds(100);
    options.lag_refresh = std::chrono::milliseconds(50);
    options.gate = gate;
    options.auth = auth_.get();
    return std::make_unique<ChangeConsumer>(options, store_, arbiter_->Make(), hlc_, *metrics_);
  }

  // Publishes `r` as its origin shard's relay would.
  void Publish(const repository::StoredRevision& r, bool sign = true) {
    Produce(PartitionForSpace(r.space_id, kPartitions), EventKey(r), EncodeChangeEvent(r, "e"),
            sign);
  }

  int64_t StoredNext() { return store_.offsets()[PartitionForSpace(kSpaceA, kPartitions)]; }

  domain::Hlc hlc_;
};

TEST_F(ChangeConsumerTest, MergesOtherShardsEventsSkipsItsOwnAndStoresThePositions) {
  Publish(Revision("shard-a", "r1"));
  Publish(Revision("shard-b", "mine"));  // an own event read back: never merged again
  Publish(Revision("shard-c", "r2"));
  auto consumer = MakeConsumer();
  consumer->Start();
  ASSERT_TRUE(WaitUntil([&] { return StoredNext() == 3; }));
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("r1")).has_value());
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("r2")).has_value());
  EXPECT_FALSE(store_.Record(kSpaceA, RecordId("mine")).has_value());
  EXPECT_EQ(metrics_->echoes_skipped.Value(), 1);
  EXPECT_EQ(consumer->stall_reason(), "");
}

TEST_F(ChangeConsumerTest, ConcurrentRevisionsBecomeSiblingsAndReplayChangesNothing) {
  repository::StoredRevision a = Revision("shard-a", "r1");
  repository::StoredRevision c = Revision("shard-c", "r1");
  Publish(a);
  Publish(c);
  Publish(a);  // replayed
  auto consumer = MakeConsumer();
  consumer->Start();
  // The metrics count a batch after its commit, one counter after another: wait until they
  // account for all three events, the conflict (counted last) included.
  ASSERT_TRUE(WaitUntil([&] {
    return StoredNext() == 3 &&
           metrics_->merges_applied.Value() + metrics_->merges_unchanged.Value() == 3 &&
           metrics_->conflicts_created.Value() == 1;
  }));
  std::optional<repository::StoredRecord> r = store_.Record(kSpaceA, RecordId("r1"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->siblings.size(), 1u);
  EXPECT_EQ(metrics_->merges_applied.Value(), 2);
  EXPECT_EQ(metrics_->merges_unchanged.Value(), 1);
  EXPECT_EQ(metrics_->conflicts_created.Value(), 1);
}

TEST_F(ChangeConsumerTest, ForgedAndGarbageEventsAreQuarantinedAndTheNextValidOneApplies) {
  Publish(Revision("shard-a", "forged"), /*sign=*/false);
  Produce(PartitionForSpace(kSpaceA, kPartitions), "junk", "\xff\x00not a change event");
  Publish(Revision("shard-a", "valid"));
  auto consumer = MakeConsumer();
  consumer->Start();
  // Dead letters are counted after their batch committed: wait for the count too.
  ASSERT_TRUE(WaitUntil([&] {
    return StoredNext() == 3 &&
           metrics_->events_quarantined.Add({{"kind", "mac"}}).Value() +
                   metrics_->events_quarantined.Add({{"kind", "decode"}}).Value() ==
               2;
  }));
  EXPECT_FALSE(store_.Record(kSpaceA, RecordId("forged")).has_value());
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("valid")).has_value());
  std::vector<repository::DeadLetter> letters = store_.dead_letters();
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_EQ(letters[0].kind, "mac");
  EXPECT_EQ(letters[1].kind, "decode");
  EXPECT_EQ(letters[0].offset, 0);
  EXPECT_EQ(letters[1].offset, 1);
  EXPECT_EQ(metrics_->events_quarantined.Add({{"kind", "mac"}}).Value(), 1);
}

TEST_F(ChangeConsumerTest, EventWhoseMergeFailsForGoodIsQuarantinedAloneAndTheBatchApplies) {
  // As PostgreSQL would reject one revision's row (a constraint, SQLSTATE 23xxx).
  store_.SetMergeFault([](const repository::StoredRevision& r) {
    return r.record_id == RecordId("poison")
               ? absl::InvalidArgumentError("violates check constraint")
               : absl::OkStatus();
  });
  Publish(Revision("shard-a", "before"));
  Publish(Revision("shard-a", "poison"));
  Publish(Revision("shard-a", "after"));
  auto consumer = MakeConsumer();
  consumer->Start();
  ASSERT_TRUE(WaitUntil([&] { return StoredNext() == 3; }));
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("before")).has_value());
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("after")).has_value());
  std::vector<repository::DeadLetter> letters = store_.dead_letters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].kind, "merge");
  EXPECT_EQ(letters[0].offset, 1);
  EXPECT_FALSE(letters[0].value.empty());  // kept as read, for a retry after a fix
}

TEST_F(ChangeConsumerTest, TransientFailureIsRetriedFromTheStoredOffsetsNeverQuarantined) {
  Publish(Revision("shard-a", "r0"));
  auto consumer = MakeConsumer();
  consumer->Start();
  ASSERT_TRUE(WaitUntil([&] { return StoredNext() == 1; }));
  // A serialization failure (SQLSTATE 40001) on every try.
  store_.SetMergeFault(
      [](const repository::StoredRevision&) { return absl::AbortedError("could not serialize"); });
  const int calls = store_.apply_calls();
  Publish(Revision("shard-a", "r1"));
  ASSERT_TRUE(WaitUntil([&] { return store_.apply_calls() >= calls + 2; }));
  EXPECT_TRUE(store_.dead_letters().empty());
  EXPECT_EQ(consumer->stall_reason(), "");
  EXPECT_EQ(StoredNext(), 1);
  store_.SetMergeFault(nullptr);
  ASSERT_TRUE(WaitUntil([&] { return StoredNext() == 2; }));
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("r1")).has_value());
  EXPECT_TRUE(store_.dead_letters().empty());
}

TEST_F(ChangeConsumerTest, ManyMergeFailuresInARowStallInsteadOfQuarantiningTheTopic) {
  store_.SetMergeFault(
      [](const repository::StoredRevision&) { return absl::InvalidArgumentError("broken"); });
  for (int i = 0; i < 25; ++i) Publish(Revision("shard-a", "r" + std::to_string(i)));
  auto consumer = MakeConsumer();
  consumer->Start();
  // The gauge is set just after the reason: wait for both.
  ASSERT_TRUE(WaitUntil([&] {
    return !consumer->stall_reason().empty() && metrics_->consumer_stalled.Value() == 1;
  }));
  EXPECT_NE(consumer->stall_reason().find("in a row"), std::string::npos);
  EXPECT_EQ(store_.dead_letters().size(), 20u);
  EXPECT_EQ(metrics_->consumer_stalled.Value(), 1);
  // Fixed (e.g. a migration rolled out): it resumes and applies the rest. The stall is cleared
  // just after the batch that succeeded committed (its offsets): wait for both.
  store_.SetMergeFault(nullptr);
  ASSERT_TRUE(WaitUntil([&] { return StoredNext() == 25 && consumer->stall_reason().empty(); }));
  EXPECT_EQ(consumer->stall_reason(), "");
  EXPECT_EQ(store_.dead_letters().size(), 20u);
}

TEST_F(ChangeConsumerTest, GateOpensOnceOwnProgressMarkersCameBackOnEveryPartition) {
  ReplicationGate gate(/*open=*/false);
  auto consumer = MakeConsumer(&gate);
  consumer->Start();
  ProgressMarker marker{"shard-b", {{0, 0}, {1, 0}, {2, 0}}};
  for (int32_t p = 0; p < kPartitions - 1; ++p) {
    Produce(p, ProgressKey("shard-b"), EncodeProgressMarker(marker, "m"));
  }
  ASSERT_TRUE(WaitUntil([&] { return store_.progress().size() == 2u; }));
  EXPECT_FALSE(gate.is_open());
  Produce(kPartitions - 1, ProgressKey("shard-b"), EncodeProgressMarker(marker, "m"));
  // The gauge is set just after the gate opens: wait for both.
  ASSERT_TRUE(
      WaitUntil([&] { return gate.is_open() && metrics_->replication_joined.Value() == 1; }));
  EXPECT_EQ(metrics_->replication_joined.Value(), 1);
}

TEST_F(ChangeConsumerTest, AStandbyReplicaAppliesNothingUntilTheLeaderIsGone) {
  auto leader = MakeConsumer();
  leader->Start();
  ASSERT_TRUE(WaitUntil([&] { return leader->is_leader(); }));
  auto standby = MakeConsumer();
  standby->Start();
  Publish(Revision("shard-a", "r1"));
  ASSERT_TRUE(WaitUntil([&] { return StoredNext() == 1; }));
  EXPECT_FALSE(standby->is_leader());
  leader->Stop();  // releases leadership
  ASSERT_TRUE(WaitUntil([&] { return standby->is_leader(); }));
  Publish(Revision("shard-a", "r2"));
  ASSERT_TRUE(WaitUntil([&] { return StoredNext() == 2; }));
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("r2")).has_value());
}

}  // namespace
}  // namespace coffer::vault::sync::test
