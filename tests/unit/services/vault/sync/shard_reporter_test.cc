// ShardReporter against the in-memory stores and librdkafka's mock cluster: GetShardStatus's
// positions, watermarks and lag, what it reports when a source cannot be read, /replicationz's
// consumer and kafka checks, and ExportSnapshot under this shard's id.
#include "services/vault/sync/shard_reporter.h"

#include <memory>
#include <optional>
#include <vector>

#include "services/vault/repository/in_memory_repositories.h"
#include "services/vault/sync/change_event.h"
#include "tests/unit/services/vault/sync/sync_test_support.h"

namespace coffer::vault::sync::test {
namespace {

class ShardReporterTest : public SyncLoopTest {
 protected:
  void SetUp() override {
    SyncLoopTest::SetUp();
    kafka::ConsumerConfig config;
    static_cast<kafka::ClientConfig&>(config) = Client("probe");
    absl::StatusOr<std::unique_ptr<kafka::Consumer>> probe = kafka::Consumer::Create(config);
    ASSERT_TRUE(probe.ok()) << probe.status();
    probe_ = *std::move(probe);
  }

  ShardReporter Reporter(kafka::Consumer* probe, const ChangeConsumer* consumer = nullptr,
                         const std::string& topic = kTopic) {
    return ShardReporter(ShardReporterSources{"shard-b", topic, records_, store_, store_,
                                              /*relay=*/nullptr, consumer, probe});
  }

  // Writes `count` messages to `partition` (the values are not events: only counted here).
  void Fill(int32_t partition, int count) {
    for (int i = 0; i < count; ++i) Produce(partition, "k", "v" + std::to_string(i));
  }

  repository::InMemoryRecordRepository records_;
  std::unique_ptr<kafka::Consumer> probe_;
};

PartitionStatus Partition(int32_t p, int64_t next, int64_t high = -1, int64_t lag = -1) {
  return PartitionStatus{p, next, high, lag};
}

void ExpectPartitions(const std::vector<PartitionStatus>& got,
                      const std::vector<PartitionStatus>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].partition, want[i].partition) << i;
    EXPECT_EQ(got[i].next_offset, want[i].next_offset) << i;
    EXPECT_EQ(got[i].high_watermark, want[i].high_watermark) << i;
    EXPECT_EQ(got[i].lag, want[i].lag) << i;
  }
}

TEST_F(ShardReporterTest, AShardAloneReportsItsBacklogAndStoredPositionsWithoutKafka) {
  ASSERT_TRUE(records_.Insert(Revision("shard-b", "r1")).ok());
  ASSERT_TRUE(records_.Insert(Revision("shard-b", "r2")).ok());
  store_.SetOffsets({{0, 4}, {2, 9}});
  ShardReporter reporter = Reporter(/*probe=*/nullptr);

  const ShardStatus status = reporter.Status();
  EXPECT_EQ(status.shard_id, "shard-b");
  EXPECT_EQ(status.outbox_backlog, 2);
  EXPECT_FALSE(status.relay_leader);
  EXPECT_FALSE(status.consumer_leader);
  EXPECT_EQ(status.consumer_stall_reason, "");
  // Without Kafka: the stored positions only, watermark and lag unknown.
  ExpectPartitions(status.partitions, {Partition(0, 4), Partition(2, 9)});
  EXPECT_TRUE(reporter.ConsumerHealth().ok());
  EXPECT_TRUE(reporter.KafkaHealth().ok());
}

TEST_F(ShardReporterTest, WithKafkaEveryPartitionGetsItsHighWatermarkAndLag) {
  Fill(0, 1);
  Fill(1, 3);
  // Partition 0 never read (no stored position); partition 2 stored past its (empty) log.
  store_.SetOffsets({{1, 1}, {2, 5}});
  ShardReporter reporter = Reporter(probe_.get());

  const ShardStatus status = reporter.Status();
  ExpectPartitions(status.partitions,
                   {Partition(0, 0, 1, 1), Partition(1, 1, 3, 2), Partition(2, 5, 0, 0)});
  EXPECT_TRUE(reporter.KafkaHealth().ok());
}

TEST_F(ShardReporterTest, UnreadablePositionsAreLeftOutAndKafkaStillListsItsPartitions) {
  store_.SetOffsets({{1, 1}});
  store_.SetDown(absl::UnavailableError("database down"));

  ExpectPartitions(Reporter(/*probe=*/nullptr).Status().partitions, {});
  // Kafka names the partitions: each is reported from position 0.
  ExpectPartitions(Reporter(probe_.get()).Status().partitions,
                   {Partition(0, 0, 0, 0), Partition(1, 0, 0, 0), Partition(2, 0, 0, 0)});
}

TEST_F(ShardReporterTest, AMissingTopicFailsTheKafkaCheckAndLeavesWatermarksUnknown) {
  store_.SetOffsets({{0, 2}});
  ShardReporter reporter = Reporter(probe_.get(), /*consumer=*/nullptr, "no.such.topic");
  absl::Status kafka = reporter.KafkaHealth();
  EXPECT_TRUE(absl::IsNotFound(kafka)) << kafka;
  EXPECT_NE(std::string(kafka.message()).find("no.such.topic"), std::string::npos);
  ExpectPartitions(reporter.Status().partitions, {Partition(0, 2)});
}

TEST_F(ShardReporterTest, AStalledConsumerFailsTheConsumerCheckWithItsReason) {
  // Every merge fails for good: after 20 quarantined events in a row the consumer stalls.
  store_.SetMergeFault(
      [](const repository::StoredRevision&) { return absl::InvalidArgumentError("broken"); });
  for (int i = 0; i < 25; ++i) {
    repository::StoredRevision r = Revision("shard-a", "r" + std::to_string(i));
    Produce(PartitionForSpace(r.space_id, kPartitions), EventKey(r), EncodeChangeEvent(r, "e"));
  }
  ChangeConsumerOptions options;
  options.shard_id = "shard-b";
  options.topic = kTopic;
  static_cast<kafka::ClientConfig&>(options.consumer) = Client("consumer");
  options.consumer.properties["fetch.wait.max.ms"] = "10";
  options.poll_timeout = std::chrono::milliseconds(20);
  options.stall_recheck = std::chrono::milliseconds(100);
  options.auth = auth_.get();
  domain::Hlc hlc;
  ChangeConsumer consumer(options, store_, arbiter_->Make(), hlc, *metrics_);
  ShardReporter reporter = Reporter(probe_.get(), &consumer);
  EXPECT_TRUE(reporter.ConsumerHealth().ok());  // not started: not stalled

  consumer.Start();
  ASSERT_TRUE(WaitUntil([&] { return !consumer.stall_reason().empty(); }));
  const std::string reason = consumer.stall_reason();
  absl::Status health = reporter.ConsumerHealth();
  EXPECT_TRUE(absl::IsUnavailable(health)) << health;
  EXPECT_EQ(health.message(), "change consumer stalled: " + reason);
  const ShardStatus status = reporter.Status();
  EXPECT_TRUE(status.consumer_leader);
  EXPECT_EQ(status.consumer_stall_reason, reason);
  EXPECT_TRUE(reporter.KafkaHealth().ok());  // the broker itself is fine
  consumer.Stop();
}

TEST_F(ShardReporterTest, ExportSnapshotStreamsThisShardsState) {
  store_.SetOffsets({{0, 3}});
  std::vector<v1::ExportSnapshotResponse> written;
  ASSERT_TRUE(Reporter(/*probe=*/nullptr)
                  .ExportSnapshot([&](const v1::ExportSnapshotResponse& m) {
                    written.push_back(m);
                    return true;
                  })
                  .ok());
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0].shard_id(), "shard-b");
  ASSERT_EQ(written[0].positions_size(), 1);
  EXPECT_EQ(written[0].positions(0).next_offset(), 3);

  store_.SetDown(absl::UnavailableError("database down"));
  written.clear();
  absl::Status down = Reporter(/*probe=*/nullptr).ExportSnapshot([&](const auto& m) {
    written.push_back(m);
    return true;
  });
  EXPECT_TRUE(absl::IsUnavailable(down)) << down;
  EXPECT_TRUE(written.empty());
}

}  // namespace
}  // namespace coffer::vault::sync::test
