// Bootstrap's decisions against the in-memory stores and librdkafka's mock cluster.
#include "services/vault/sync/bootstrap.h"

#include "tests/unit/services/vault/sync/sync_test_support.h"

namespace coffer::vault::sync::test {
namespace {

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
