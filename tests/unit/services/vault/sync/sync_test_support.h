// Shared pieces of the replication loop's unit tests: a mock Kafka cluster with the change topic,
// a keyring and event authenticator, revisions, and waiting on a condition.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pkg/crypto/encoding.h"
#include "pkg/crypto/keyring.h"
#include "pkg/kafka/consumer.h"
#include "pkg/kafka/producer.h"
#include "pkg/testing/kafka_mock.h"
#include "prometheus/registry.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/sync/event_auth.h"
#include "services/vault/sync/sync_metrics.h"
#include "tests/support/vault/in_memory_sync_store.h"

namespace coffer::vault::sync::test {

inline constexpr char kTopic[] = "coffer.vault.changes.v1";
inline constexpr int kPartitions = 3;
inline constexpr char kSpaceA[] = "7e0e5c1a-4a4e-5f2b-9a77-0d5a5c8a1f10";

// Polls `done` every 5 ms until it holds or `timeout` passes; true when it held.
inline bool WaitUntil(const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// A record id (a UUID, as the consumer requires) named by `name` in a test.
inline std::string RecordId(const std::string& name) {
  char out[37];
  const uint64_t h = std::hash<std::string>{}(name);
  std::snprintf(out, sizeof out, "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(h >> 32),
                static_cast<unsigned>((h >> 16) & 0xffff), static_cast<unsigned>(h & 0xfff),
                static_cast<unsigned>((h >> 12) & 0xfff),
                static_cast<unsigned long long>(h & 0xffffffffffffULL));
  return out;
}

// Revision `version` of the record named `record` (RecordId) written on `origin`.
inline repository::StoredRevision Revision(const std::string& origin, const std::string& record,
                                           int64_t version = 1, uint64_t counter = 1,
                                           std::string payload = "p") {
  repository::StoredRevision r;
  r.space_id = kSpaceA;
  r.record_id = RecordId(record);
  r.type = domain::RecordType::kText;
  r.stamp.version = version;
  r.stamp.vector.Set(origin, counter);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  r.stamp.hlc = domain::HlcTimestamp::Pack(static_cast<uint64_t>(now_ms), counter);
  r.stamp.origin_shard = origin;
  r.key_id = "k1";
  r.name_ct = "n";
  r.metadata_ct = "m";
  r.payload_ct = std::move(payload);
  r.created_at_ms = r.updated_at_ms = now_ms;
  return r;
}

class SyncLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<crypto::Keyring> ring =
        crypto::Keyring::Parse("k1:" + crypto::Base64Encode(std::string(32, 'k')));
    ASSERT_TRUE(ring.ok()) << ring.status();
    ring_ = std::make_unique<crypto::Keyring>(*std::move(ring));
    auth_ = std::make_unique<EventAuthenticator>(*ring_);
    metrics_ = std::make_unique<SyncMetrics>(registry_);
    absl::StatusOr<std::unique_ptr<coffer::testing::KafkaMockCluster>> cluster =
        coffer::testing::KafkaMockCluster::Create(1);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_TRUE(cluster_->CreateTopic(kTopic, kPartitions).ok());
  }

  kafka::ClientConfig Client(const std::string& id) const {
    kafka::ClientConfig c;
    c.bootstrap_servers = cluster_->bootstrap_servers();
    c.client_id = id;
    return c;
  }

  // Writes a message straight to the topic (as a shard's relay, or an intruder, would).
  void Produce(int32_t partition, std::optional<std::string> key, const std::string& value,
               bool sign = true) {
    kafka::ProducerConfig config;
    static_cast<kafka::ClientConfig&>(config) = Client("test-producer");
    auto producer = kafka::Producer::Create(config);
    ASSERT_TRUE(producer.ok()) << producer.status();
    kafka::ProducerRecord record;
    record.topic = kTopic;
    record.partition = partition;
    record.key = std::move(key);
    record.value = value;
    if (sign) record.headers = auth_->Sign(record.key, record.value);
    absl::Status delivered = absl::UnknownError("no report");
    ASSERT_TRUE((*producer)
                    ->Produce(record, [&](const kafka::DeliveryReport& r) { delivered = r.status; })
                    .ok());
    ASSERT_TRUE((*producer)->Flush(std::chrono::seconds(10)).ok());
    ASSERT_TRUE(delivered.ok()) << delivered;
  }

  // Every message of the topic, read from offset 0 until `count` arrived or 20 s passed.
  std::vector<kafka::Message> ReadTopic(size_t count) {
    kafka::ConsumerConfig config;
    static_cast<kafka::ClientConfig&>(config) = Client("test-reader");
    auto consumer = kafka::Consumer::Create(config);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return {};
    std::vector<kafka::TopicPartitionOffset> all;
    for (int32_t p = 0; p < kPartitions; ++p) all.push_back({kTopic, p, 0});
    EXPECT_TRUE((*consumer)->Assign(all).ok());
    std::vector<kafka::Message> out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      auto m = (*consumer)->Poll(std::chrono::milliseconds(100));
      if (m.ok() && m->has_value()) out.push_back(**std::move(m));
    }
    return out;
  }

  prometheus::Registry registry_;
  std::unique_ptr<crypto::Keyring> ring_;
  std::unique_ptr<EventAuthenticator> auth_;
  std::unique_ptr<SyncMetrics> metrics_;
  std::unique_ptr<coffer::testing::KafkaMockCluster> cluster_;
  testing::InMemorySyncStore store_;
  std::shared_ptr<testing::LeaderArbiter> arbiter_ = testing::LeaderArbiter::Create();
};

}  // namespace coffer::vault::sync::test
