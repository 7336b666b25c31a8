// Producer and Consumer against librdkafka's in-process mock cluster: round trips with keys,
// headers and several partitions, watermarks, and fault injection (brokers down, request errors).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pkg/kafka/consumer.h"
#include "pkg/kafka/errors.h"
#include "pkg/kafka/producer.h"
#include "pkg/testing/kafka_mock.h"
#include "pkg/testing/status_matchers.h"

namespace coffer::kafka {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::KafkaMockCluster;
using ::coffer::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::SizeIs;
using namespace std::chrono_literals;

constexpr char kTopic[] = "coffer.test.changes";

ProducerConfig ProducerFor(const KafkaMockCluster& cluster) {
  ProducerConfig config;
  config.bootstrap_servers = cluster.bootstrap_servers();
  config.client_id = "test-producer";
  config.properties["linger.ms"] = "1";
  return config;
}

ConsumerConfig ConsumerFor(const KafkaMockCluster& cluster) {
  ConsumerConfig config;
  config.bootstrap_servers = cluster.bootstrap_servers();
  config.client_id = "test-consumer";
  return config;
}

// Produces `record` and polls until its delivery report arrives (or `timeout` passes).
std::optional<DeliveryReport> ProduceAndWait(Producer& producer, const ProducerRecord& record,
                                             std::chrono::milliseconds timeout = 10s) {
  auto report = std::make_shared<std::optional<DeliveryReport>>();
  absl::Status status =
      producer.Produce(record, [report](const DeliveryReport& r) { *report = r; });
  if (!status.ok()) {
    DeliveryReport failed;
    failed.status = status;
    return failed;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!report->has_value() && std::chrono::steady_clock::now() < deadline) {
    producer.Poll(50ms);
  }
  return *report;
}

// Polls until `count` messages arrived or `timeout` passed; fails the test on non-retryable
// errors.
std::vector<Message> ConsumeN(Consumer& consumer, size_t count,
                              std::chrono::milliseconds timeout = 10s) {
  std::vector<Message> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto polled = consumer.Poll(100ms);
    if (!polled.ok()) {
      EXPECT_TRUE(IsRetryable(polled.status())) << polled.status();
      continue;
    }
    if (polled->has_value()) out.push_back(std::move(**polled));
  }
  return out;
}

class KafkaMockClusterTest : public ::testing::Test {
 protected:
  void StartCluster(int brokers, int partitions) {
    auto cluster = KafkaMockCluster::Create(brokers);
    ASSERT_THAT(cluster, IsOk());
    cluster_ = std::move(*cluster);
    ASSERT_THAT(cluster_->CreateTopic(kTopic, partitions), IsOk());
  }

  std::unique_ptr<KafkaMockCluster> cluster_;
};

TEST_F(KafkaMockClusterTest, BrokersListenOnLoopback) {
  StartCluster(3, 1);
  const std::string& servers = cluster_->bootstrap_servers();
  // Three "127.0.0.1:<port>" entries.
  EXPECT_THAT(servers, ::testing::MatchesRegex(
                           R"(127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+)"));
}

TEST_F(KafkaMockClusterTest, RoundTripKeepsKeysHeadersPartitionsAndOrder) {
  StartCluster(3, 4);
  auto producer = Producer::Create(ProducerFor(*cluster_));
  ASSERT_THAT(producer, IsOk());

  constexpr int kMessages = 20;
  std::vector<DeliveryReport> reports;
  for (int i = 0; i < kMessages; ++i) {
    ProducerRecord record;
    record.topic = kTopic;
    record.partition = i % 4;
    if (i != 7) record.key = "key-" + std::to_string(i);  // message 7 has a null key
    record.value = "value-" + std::to_string(i);
    record.headers = {{"event-id", "e" + std::to_string(i)}, {"empty", ""}};
    ASSERT_THAT(
        (*producer)->Produce(record, [&reports](const DeliveryReport& r) { reports.push_back(r); }),
        IsOk());
  }
  ASSERT_THAT((*producer)->Flush(10s), IsOk());
  ASSERT_THAT(reports, SizeIs(kMessages));
  std::map<int32_t, std::vector<int64_t>> offsets_by_partition;
  for (const DeliveryReport& r : reports) {
    ASSERT_THAT(r.status, IsOk());
    EXPECT_EQ(r.topic, kTopic);
    offsets_by_partition[r.partition].push_back(r.offset);
  }
  ASSERT_THAT(offsets_by_partition, SizeIs(4));
  for (const auto& [partition, offsets] : offsets_by_partition) {
    EXPECT_THAT(offsets, ElementsAre(0, 1, 2, 3, 4)) << "partition " << partition;
  }

  auto consumer = Consumer::Create(ConsumerFor(*cluster_));
  ASSERT_THAT(consumer, IsOk());
  std::vector<TopicPartitionOffset> assignment;
  for (int32_t p = 0; p < 4; ++p) assignment.push_back({kTopic, p, kOffsetBeginning});
  ASSERT_THAT((*consumer)->Assign(assignment), IsOk());
  std::vector<Message> messages = ConsumeN(**consumer, kMessages);
  ASSERT_THAT(messages, SizeIs(kMessages));

  std::map<int32_t, int64_t> next_offset;
  for (const Message& m : messages) {
    const int i = std::stoi(m.value.substr(std::string("value-").size()));
    EXPECT_EQ(m.topic, kTopic);
    EXPECT_EQ(m.partition, i % 4);
    EXPECT_EQ(m.offset, next_offset[m.partition]++) << "records of a partition come in order";
    if (i == 7) {
      EXPECT_FALSE(m.key.has_value());
    } else {
      EXPECT_EQ(m.key, "key-" + std::to_string(i));
    }
    EXPECT_THAT(m.headers,
                ElementsAre(Header{"event-id", "e" + std::to_string(i)}, Header{"empty", ""}));
    EXPECT_GT(m.timestamp_ms, 0);
  }
  // Nothing more arrives.
  auto extra = (*consumer)->Poll(300ms);
  ASSERT_THAT(extra, IsOk());
  EXPECT_FALSE(extra->has_value());
}

TEST_F(KafkaMockClusterTest, PartitionCountComesFromMetadata) {
  StartCluster(1, 8);
  auto producer = Producer::Create(ProducerFor(*cluster_));
  ASSERT_THAT(producer, IsOk());
  auto consumer = Consumer::Create(ConsumerFor(*cluster_));
  ASSERT_THAT(consumer, IsOk());
  auto count = (*producer)->PartitionCount(kTopic);
  ASSERT_THAT(count, IsOk());
  EXPECT_EQ(*count, 8);
  count = (*consumer)->PartitionCount(kTopic);
  ASSERT_THAT(count, IsOk());
  EXPECT_EQ(*count, 8);
  EXPECT_THAT((*consumer)->PartitionCount("no.such.topic"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(KafkaMockClusterTest, WatermarksReflectProducedCounts) {
  StartCluster(2, 2);
  auto producer = Producer::Create(ProducerFor(*cluster_));
  ASSERT_THAT(producer, IsOk());
  auto consumer = Consumer::Create(ConsumerFor(*cluster_));
  ASSERT_THAT(consumer, IsOk());

  auto empty = (*consumer)->QueryWatermarks(kTopic, 0);
  ASSERT_THAT(empty, IsOk());
  EXPECT_EQ(empty->low, 0);
  EXPECT_EQ(empty->high, 0);

  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT((*producer)->Produce({kTopic, 0, "k", "v", {}}, nullptr), IsOk());
  }
  for (int i = 0; i < 2; ++i) {
    ASSERT_THAT((*producer)->Produce({kTopic, 1, "k", "v", {}}, nullptr), IsOk());
  }
  ASSERT_THAT((*producer)->Flush(10s), IsOk());

  auto p0 = (*consumer)->QueryWatermarks(kTopic, 0);
  ASSERT_THAT(p0, IsOk());
  EXPECT_EQ(p0->low, 0);
  EXPECT_EQ(p0->high, 5);
  auto p1 = (*producer)->QueryWatermarks(kTopic, 1);
  ASSERT_THAT(p1, IsOk());
  EXPECT_EQ(p1->low, 0);
  EXPECT_EQ(p1->high, 2);
}

TEST_F(KafkaMockClusterTest, AssignStartsAtTheGivenOffset) {
  StartCluster(1, 1);
  auto producer = Producer::Create(ProducerFor(*cluster_));
  ASSERT_THAT(producer, IsOk());
  for (int i = 0; i < 6; ++i) {
    ASSERT_THAT(
        (*producer)->Produce({kTopic, 0, std::nullopt, "v" + std::to_string(i), {}}, nullptr),
        IsOk());
  }
  ASSERT_THAT((*producer)->Flush(10s), IsOk());

  auto consumer = Consumer::Create(ConsumerFor(*cluster_));
  ASSERT_THAT(consumer, IsOk());
  ASSERT_THAT((*consumer)->Assign({{kTopic, 0, 4}}), IsOk());
  std::vector<Message> messages = ConsumeN(**consumer, 2);
  ASSERT_THAT(messages, SizeIs(2));
  EXPECT_EQ(messages[0].offset, 4);
  EXPECT_EQ(messages[0].value, "v4");
  EXPECT_EQ(messages[1].offset, 5);
  EXPECT_EQ(messages[1].value, "v5");
}

TEST_F(KafkaMockClusterTest, OffsetOutsideTheLogIsReportedNotSkipped) {
  StartCluster(1, 1);
  auto producer = Producer::Create(ProducerFor(*cluster_));
  ASSERT_THAT(producer, IsOk());
  ASSERT_THAT((*producer)->Produce({kTopic, 0, "k", "v", {}}, nullptr), IsOk());
  ASSERT_THAT((*producer)->Flush(10s), IsOk());

  auto consumer = Consumer::Create(ConsumerFor(*cluster_));
  ASSERT_THAT(consumer, IsOk());
  ASSERT_THAT((*consumer)->Assign({{kTopic, 0, 1000}}), IsOk());
  absl::Status error;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (error.ok() && std::chrono::steady_clock::now() < deadline) {
    auto polled = (*consumer)->Poll(100ms);
    if (!polled.ok()) {
      error = polled.status();
    } else {
      ASSERT_FALSE(polled->has_value()) << "got a record at offset " << (*polled)->offset;
    }
  }
  EXPECT_THAT(error, StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_FALSE(IsRetryable(error));
}

TEST_F(KafkaMockClusterTest, ProduceToUnknownPartitionIsPermanent) {
  StartCluster(1, 2);
  auto producer = Producer::Create(ProducerFor(*cluster_));
  ASSERT_THAT(producer, IsOk());
  auto report = ProduceAndWait(**producer, {kTopic, 9, "k", "v", {}});
  ASSERT_TRUE(report.has_value());
  EXPECT_THAT(report->status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(IsRetryable(report->status));
}

TEST_F(KafkaMockClusterTest, InjectedProduceErrorsAreRetriedWithoutDuplicates) {
  StartCluster(1, 1);
  auto producer = Producer::Create(ProducerFor(*cluster_));
  ASSERT_THAT(producer, IsOk());
  cluster_->PushProduceErrors({RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                               RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                               RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT});
  auto report = ProduceAndWait(**producer, {kTopic, 0, "k", "once", {}});
  ASSERT_TRUE(report.has_value());
  ASSERT_THAT(report->status, IsOk());
  EXPECT_EQ(report->offset, 0);

  auto marks = (*producer)->QueryWatermarks(kTopic, 0);
  ASSERT_THAT(marks, IsOk());
  EXPECT_EQ(marks->high, 1) << "the idempotent producer wrote the record exactly once";
}

TEST_F(KafkaMockClusterTest, PermanentProduceErrorReachesTheCallback) {
  StartCluster(1, 1);
  auto producer = Producer::Create(ProducerFor(*cluster_));
  ASSERT_THAT(producer, IsOk());
  cluster_->PushProduceErrors({RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE});
  auto report = ProduceAndWait(**producer, {kTopic, 0, "k", "big", {}});
  ASSERT_TRUE(report.has_value());
  EXPECT_THAT(report->status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(Classify(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), ErrorClass::kPermanent);
}

TEST_F(KafkaMockClusterTest, BrokerDownGivesRetryableErrorsThenDeliveryWorksAfterUp) {
  StartCluster(1, 1);
  ProducerConfig config = ProducerFor(*cluster_);
  config.properties["message.timeout.ms"] = "1500";
  config.properties["reconnect.backoff.max.ms"] = "500";
  std::vector<absl::Status> client_errors;
  config.on_error = [&client_errors](const absl::Status& s) { client_errors.push_back(s); };
  auto producer = Producer::Create(config);
  ASSERT_THAT(producer, IsOk());

  auto first = ProduceAndWait(**producer, {kTopic, 0, "k", "before", {}});
  ASSERT_TRUE(first.has_value());
  ASSERT_THAT(first->status, IsOk());

  ASSERT_THAT(cluster_->SetBrokerDown(1), IsOk());
  auto lost = ProduceAndWait(**producer, {kTopic, 0, "k", "while-down", {}});
  ASSERT_TRUE(lost.has_value()) << "the message times out after message.timeout.ms";
  EXPECT_FALSE(lost->status.ok());
  EXPECT_TRUE(IsRetryable(lost->status)) << lost->status;
  EXPECT_FALSE((*producer)->IsFatal());
  ASSERT_FALSE(client_errors.empty()) << "the dropped connection is reported through on_error";
  for (const absl::Status& s : client_errors) {
    EXPECT_TRUE(IsRetryable(s)) << s;
  }

  ASSERT_THAT(cluster_->SetBrokerUp(1), IsOk());
  // As an owner would: resend while the failure is retryable. The reconnect backoff may make
  // the first attempts after "up" time out too.
  std::optional<DeliveryReport> after;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  do {
    after = ProduceAndWait(**producer, {kTopic, 0, "k", "after-up", {}});
    ASSERT_TRUE(after.has_value());
    if (!after->status.ok()) {
      ASSERT_TRUE(IsRetryable(after->status)) << after->status;
    }
  } while (!after->status.ok() && std::chrono::steady_clock::now() < deadline);
  EXPECT_THAT(after->status, IsOk());
  EXPECT_FALSE((*producer)->IsFatal());
  EXPECT_THAT((*producer)->FatalError(), IsOk());

  auto consumer = Consumer::Create(ConsumerFor(*cluster_));
  ASSERT_THAT(consumer, IsOk());
  ASSERT_THAT((*consumer)->Assign({{kTopic, 0, kOffsetBeginning}}), IsOk());
  std::vector<Message> messages = ConsumeN(**consumer, 2);
  ASSERT_THAT(messages, SizeIs(2));
  EXPECT_EQ(messages[0].value, "before");
  EXPECT_EQ(messages[1].value, "after-up");
}

TEST_F(KafkaMockClusterTest, MessageQueuedWhileBrokerIsDownIsDeliveredAfterUp) {
  StartCluster(1, 1);
  auto producer = Producer::Create(ProducerFor(*cluster_));
  ASSERT_THAT(producer, IsOk());
  auto first = ProduceAndWait(**producer, {kTopic, 0, "k", "first", {}});
  ASSERT_TRUE(first.has_value());
  ASSERT_THAT(first->status, IsOk());

  ASSERT_THAT(cluster_->SetBrokerDown(1), IsOk());
  std::optional<DeliveryReport> report;
  ASSERT_THAT((*producer)->Produce({kTopic, 0, "k", "queued", {}},
                                   [&report](const DeliveryReport& r) { report = r; }),
              IsOk());
  EXPECT_THAT((*producer)->Flush(1s), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_FALSE(report.has_value());
  EXPECT_EQ((*producer)->OutstandingCount(), 1);

  ASSERT_THAT(cluster_->SetBrokerUp(1), IsOk());
  ASSERT_THAT((*producer)->Flush(15s), IsOk());
  ASSERT_TRUE(report.has_value());
  EXPECT_THAT(report->status, IsOk());
  EXPECT_EQ(report->offset, 1);
}

TEST_F(KafkaMockClusterTest, DestroyingTheProducerReportsOutstandingMessages) {
  StartCluster(1, 1);
  std::optional<DeliveryReport> report;
  {
    auto producer = Producer::Create(ProducerFor(*cluster_));
    ASSERT_THAT(producer, IsOk());
    ASSERT_THAT(cluster_->SetBrokerDown(1), IsOk());
    ASSERT_THAT((*producer)->Produce({kTopic, 0, "k", "never", {}},
                                     [&report](const DeliveryReport& r) { report = r; }),
                IsOk());
    (*producer)->Poll(200ms);
    EXPECT_FALSE(report.has_value());
  }
  ASSERT_TRUE(report.has_value()) << "the destructor hands the message back";
  EXPECT_FALSE(report->status.ok());
  EXPECT_TRUE(IsRetryable(report->status)) << report->status;
}

TEST_F(KafkaMockClusterTest, FatalErrorMakesTheProducerUnusableUntilRecreated) {
  StartCluster(1, 1);
  ProducerConfig config = ProducerFor(*cluster_);
  std::vector<absl::Status> client_errors;
  config.on_error = [&client_errors](const absl::Status& s) { client_errors.push_back(s); };
  auto producer = Producer::Create(config);
  ASSERT_THAT(producer, IsOk());
  EXPECT_FALSE((*producer)->IsFatal());

  // librdkafka's hook for fabricating the fatal error an idempotent producer raises when its
  // guarantee is lost.
  ASSERT_EQ(rd_kafka_test_fatal_error((*producer)->handle(),
                                      RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "test"),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_TRUE((*producer)->IsFatal());
  absl::Status fatal = (*producer)->FatalError();
  EXPECT_TRUE(IsFatal(fatal)) << fatal;
  EXPECT_THAT(std::string(fatal.message()), ::testing::HasSubstr("OUT_OF_ORDER_SEQUENCE"));

  absl::Status rejected = (*producer)->Produce({kTopic, 0, "k", "v", {}}, nullptr);
  EXPECT_TRUE(IsFatal(rejected)) << rejected;
  (*producer)->Poll(100ms);
  ASSERT_FALSE(client_errors.empty());
  EXPECT_TRUE(IsFatal(client_errors.back())) << client_errors.back();

  // The owner recreates the producer, which works again.
  producer = Producer::Create(config);
  ASSERT_THAT(producer, IsOk());
  auto report = ProduceAndWait(**producer, {kTopic, 0, "k", "v", {}});
  ASSERT_TRUE(report.has_value());
  EXPECT_THAT(report->status, IsOk());
}

TEST(KafkaClientConfigTest, UnknownPropertyIsInvalidArgument) {
  ProducerConfig config;
  config.bootstrap_servers = "127.0.0.1:1";
  config.properties["no.such.property"] = "secret-value";
  auto producer = Producer::Create(config);
  EXPECT_THAT(producer,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(::testing::HasSubstr("no.such.property"),
                                        ::testing::Not(::testing::HasSubstr("secret-value")))));
}

}  // namespace
}  // namespace coffer::kafka
