// ChangeConsumer's start (Assign) when the replica state cannot be read yet: the log line says
// which read failed and why, and the consumer starts by itself once the store answers.
#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "pkg/log/log.h"
#include "services/vault/sync/change_consumer.h"
#include "services/vault/sync/change_event.h"
#include "tests/unit/services/vault/sync/sync_test_support.h"

namespace coffer::vault::sync::test {
namespace {

// Keeps every log line; readable from the test thread while the consumer's thread writes.
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // The captured lines that are JSON objects with msg == `msg`.
  std::vector<nlohmann::json> Lines(const std::string& msg) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<nlohmann::json> out;
    for (const std::string& line : lines_) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.value("msg", "") == msg) out.push_back(std::move(j));
    }
    return out;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& m) override {
    lines_.emplace_back(m.payload.data(), m.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;  // guarded by base_sink's mutex_
};

// The in-memory replica state whose LoadMergeOwnUntil fails while a fault is set.
class OwnUntilFaultStore final : public repository::ReplicaStateStore {
 public:
  explicit OwnUntilFaultStore(testing::InMemorySyncStore& inner) : inner_(inner) {}

  void SetOwnUntilFault(std::optional<absl::Status> fault) {
    std::lock_guard<std::mutex> lock(mu_);
    fault_ = std::move(fault);
  }
  int own_until_calls() const { return own_until_calls_.load(); }

  absl::StatusOr<repository::MergeOutcome> ApplyBatch(
      const std::vector<repository::IncomingRevision>& batch, int history_keep) override {
    return inner_.ApplyBatch(batch, history_keep);
  }
  absl::StatusOr<std::map<int32_t, int64_t>> LoadOffsets() override { return inner_.LoadOffsets(); }
  absl::StatusOr<std::map<int32_t, int64_t>> LoadMergeOwnUntil() override {
    ++own_until_calls_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (fault_) return *fault_;
    }
    return inner_.LoadMergeOwnUntil();
  }
  absl::StatusOr<std::vector<int32_t>> OwnProgressPartitions(const std::string& shard_id) override {
    return inner_.OwnProgressPartitions(shard_id);
  }

 private:
  testing::InMemorySyncStore& inner_;
  std::mutex mu_;
  std::optional<absl::Status> fault_;
  std::atomic<int> own_until_calls_{0};
};

class ChangeConsumerAssignTest : public SyncLoopTest {
 protected:
  void SetUp() override {
    SyncLoopTest::SetUp();
    log::Init({.service = "vault", .level = log::Level::kInfo}, sink_);
  }
  void TearDown() override { log::Init({}); }

  std::unique_ptr<ChangeConsumer> MakeConsumer() {
    ChangeConsumerOptions options;
    options.shard_id = "shard-b";
    options.topic = kTopic;
    static_cast<kafka::ClientConfig&>(options.consumer) = Client("consumer");
    options.consumer.properties["fetch.wait.max.ms"] = "10";
    options.poll_timeout = std::chrono::milliseconds(20);
    options.stall_recheck = std::chrono::milliseconds(100);
    options.lag_refresh = std::chrono::milliseconds(50);
    options.auth = auth_.get();
    return std::make_unique<ChangeConsumer>(options, faulty_, arbiter_->Make(), hlc_, *metrics_);
  }

  int64_t StoredNext() { return store_.offsets()[PartitionForSpace(kSpaceA, kPartitions)]; }

  std::shared_ptr<CaptureSink> sink_ = std::make_shared<CaptureSink>();
  OwnUntilFaultStore faulty_{store_};
  domain::Hlc hlc_;
};

TEST_F(ChangeConsumerAssignTest, UnreadableOwnMergeLimitsAreLoggedWithTheirErrorThenItStarts) {
  const absl::Status denied =
      absl::PermissionDeniedError("permission denied for table sync_merge_own_until");
  faulty_.SetOwnUntilFault(denied);
  repository::StoredRevision r = Revision("shard-a", "r1");
  Produce(PartitionForSpace(r.space_id, kPartitions), EventKey(r), EncodeChangeEvent(r, "e"));
  auto consumer = MakeConsumer();
  consumer->Start();
  ASSERT_TRUE(WaitUntil([&] { return !sink_->Lines("change consumer cannot start yet").empty(); }));
  const nlohmann::json line = sink_->Lines("change consumer cannot start yet").front();
  EXPECT_EQ(line.value("status", ""), denied.ToString());
  EXPECT_EQ(line.value("topic", ""), kTopic);
  // Not assigned: nothing was read, so nothing merged.
  EXPECT_EQ(StoredNext(), 0);

  // The store answers again (e.g. the GRANT was fixed): the next try assigns and merges.
  faulty_.SetOwnUntilFault(std::nullopt);
  ASSERT_TRUE(WaitUntil([&] { return StoredNext() == 1; }));
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("r1")).has_value());
  for (const nlohmann::json& l : sink_->Lines("change consumer cannot start yet")) {
    EXPECT_EQ(l.value("status", ""), denied.ToString());  // never "OK"
  }
}

}  // namespace
}  // namespace coffer::vault::sync::test
