// PeerBootstrap (the configured peer behind BootstrapIfEmpty and the consumer's Recover) against
// a fake peer shard on loopback that streams its in-memory state with WriteSnapshot, the
// in-memory stores and librdkafka's mock cluster: the token file (read on every attempt, sent as
// a bearer token), the snapshot imported or merged, and the peers it refuses.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "coffer/vault/v1/admin.grpc.pb.h"
#include "services/vault/sync/bootstrap.h"
#include "services/vault/sync/snapshot_export.h"
#include "tests/unit/services/vault/sync/sync_test_support.h"

namespace coffer::vault::sync::test {
namespace {

// Another shard's AdminService.ExportSnapshot: its state (an in-memory store) under its shard
// id, to callers presenting the expected bearer token.
class FakePeer final : public v1::AdminService::Service {
 public:
  FakePeer(std::string shard_id, testing::InMemorySyncStore& state)
      : shard_id_(std::move(shard_id)), state_(state) {}

  void ExpectToken(const std::string& token) {
    std::lock_guard<std::mutex> lock(mu_);
    token_ = token;
  }
  int calls() const { return calls_.load(); }

  grpc::Status ExportSnapshot(grpc::ServerContext* ctx, const v1::ExportSnapshotRequest*,
                              grpc::ServerWriter<v1::ExportSnapshotResponse>* writer) override {
    ++calls_;
    auto it = ctx->client_metadata().find("authorization");
    const std::string presented =
        it == ctx->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (presented != "Bearer " + token_) {
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad token");
      }
    }
    absl::Status s = WriteSnapshot(
        shard_id_, state_, [&](const v1::ExportSnapshotResponse& m) { return writer->Write(m); });
    return s.ok() ? grpc::Status::OK : grpc::Status(grpc::StatusCode::INTERNAL, s.ToString());
  }

 private:
  const std::string shard_id_;
  testing::InMemorySyncStore& state_;
  std::mutex mu_;
  std::string token_;
  std::atomic<int> calls_{0};
};

class PeerBootstrapTest : public SyncLoopTest {
 protected:
  void SetUp() override {
    SyncLoopTest::SetUp();
    kafka::ConsumerConfig config;
    static_cast<kafka::ClientConfig&>(config) = Client("probe");
    absl::StatusOr<std::unique_ptr<kafka::Consumer>> probe = kafka::Consumer::Create(config);
    ASSERT_TRUE(probe.ok()) << probe.status();
    probe_ = *std::move(probe);
    token_file_ = std::filesystem::path(::testing::TempDir()) /
                  ("peer_bootstrap_token_" +
                   std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove(token_file_);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::filesystem::remove(token_file_);
  }

  // Starts the fake peer as shard `peer_shard`, serving `peer_state_`.
  void StartPeer(const std::string& peer_shard) {
    peer_ = std::make_unique<FakePeer>(peer_shard, peer_state_);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &peer_port_);
    builder.RegisterService(peer_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  void WriteToken(const std::string& contents) {
    std::ofstream out(token_file_, std::ios::trunc);
    out << contents;
  }

  // The peer as configured: none when `with_peer` is false.
  BootstrapPeerConfig Config(BootstrapMode mode, bool with_peer = true) const {
    BootstrapPeerConfig config;
    config.shard_id = "shard-b";
    config.topic = kTopic;
    config.mode = mode;
    if (with_peer) {
      config.peer_addr = "127.0.0.1:" + std::to_string(peer_port_);
      config.token_file = token_file_.string();
    }
    return config;
  }

  // The peer's state: two records, positions, and progress rows of shard-a and of this shard.
  void FillPeer() {
    repository::SnapshotHeader header;
    header.positions = {{0, 3}, {1, 2}, {2, 1}};
    header.progress = {{"shard-a", 0, 2}, {"shard-b", 1, 1}};
    ASSERT_TRUE(peer_state_
                    .ImportSnapshot(header, {Revision("shard-a", "r1"), Revision("shard-c", "r2")},
                                    /*merge_own_until=*/{})
                    .ok());
  }

  std::unique_ptr<kafka::Consumer> probe_;
  testing::InMemorySyncStore peer_state_;
  std::unique_ptr<FakePeer> peer_;
  std::unique_ptr<grpc::Server> server_;
  int peer_port_ = 0;
  std::filesystem::path token_file_;
};

TEST_F(PeerBootstrapTest, WithoutAPeerAnEmptyShardStartsAtTheLogStartAndCannotRecover) {
  PeerBootstrap bootstrap(Config(BootstrapMode::kAuto, /*with_peer=*/false), store_, *probe_);
  absl::StatusOr<BootstrapResult> r = bootstrap.BootstrapIfEmpty();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, BootstrapResult::kFromLogStart);
  EXPECT_EQ(store_.offsets(), (std::map<int32_t, int64_t>{{0, 0}, {1, 0}, {2, 0}}));

  absl::Status recovered = bootstrap.Recover();
  EXPECT_TRUE(absl::IsFailedPrecondition(recovered)) << recovered;
  EXPECT_NE(std::string(recovered.message()).find("--bootstrap-peer"), std::string::npos);
}

TEST_F(PeerBootstrapTest, APeerWithoutAReadableTokenIsRefusedBeforeAnyCall) {
  StartPeer("shard-a");
  PeerBootstrap bootstrap(Config(BootstrapMode::kSnapshot), store_, *probe_);
  const absl::Status no_token =
      absl::InvalidArgumentError("--bootstrap-token-file: cannot read a token from it");
  EXPECT_EQ(bootstrap.BootstrapIfEmpty().status(), no_token);  // no file
  WriteToken(" \n\n");
  EXPECT_EQ(bootstrap.BootstrapIfEmpty().status(), no_token);  // blank
  EXPECT_EQ(bootstrap.Recover(), no_token);
  EXPECT_EQ(peer_->calls(), 0);
  EXPECT_TRUE(*store_.IsEmpty());
}

TEST_F(PeerBootstrapTest, SnapshotModeImportsThePeersStateWithItsPositions) {
  FillPeer();
  StartPeer("shard-a");
  peer_->ExpectToken("tok-1");
  WriteToken("tok-1\n");
  PeerBootstrap bootstrap(Config(BootstrapMode::kSnapshot), store_, *probe_);

  absl::StatusOr<BootstrapResult> r = bootstrap.BootstrapIfEmpty();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, BootstrapResult::kFromSnapshot);
  EXPECT_EQ(peer_->calls(), 1);
  EXPECT_EQ(store_.record_count(), 2u);
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("r1")).has_value());
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("r2")).has_value());
  EXPECT_EQ(store_.offsets(), (std::map<int32_t, int64_t>{{0, 3}, {1, 2}, {2, 1}}));
  // This shard's own rows in the peer's registry describe an earlier view of it: dropped.
  std::vector<repository::ShardProgressRow> progress = store_.progress();
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(progress[0].shard_id, "shard-a");
  EXPECT_EQ(progress[0].settled_offset, 2);

  // Done once: the shard now has state and does not ask the peer again.
  EXPECT_EQ(*bootstrap.BootstrapIfEmpty(), BootstrapResult::kNotNeeded);
  EXPECT_EQ(peer_->calls(), 1);
}

TEST_F(PeerBootstrapTest, TheTokenFileIsReadAgainOnEveryAttempt) {
  FillPeer();
  StartPeer("shard-a");
  peer_->ExpectToken("rotated");
  WriteToken("old");
  PeerBootstrap bootstrap(Config(BootstrapMode::kSnapshot), store_, *probe_);

  absl::Status refused = bootstrap.BootstrapIfEmpty().status();
  EXPECT_TRUE(absl::IsUnauthenticated(refused)) << refused;
  EXPECT_NE(std::string(refused.message()).find("peer ExportSnapshot"), std::string::npos);
  EXPECT_TRUE(*store_.IsEmpty());

  WriteToken("rotated");
  absl::StatusOr<BootstrapResult> r = bootstrap.BootstrapIfEmpty();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, BootstrapResult::kFromSnapshot);
  EXPECT_EQ(peer_->calls(), 2);
}

TEST_F(PeerBootstrapTest, APeerThatIsThisShardIsRefusedAndNothingIsImported) {
  FillPeer();
  StartPeer("shard-b");  // a misconfigured --bootstrap-peer pointing at this shard
  peer_->ExpectToken("t");
  WriteToken("t");
  PeerBootstrap bootstrap(Config(BootstrapMode::kSnapshot), store_, *probe_);
  absl::Status s = bootstrap.BootstrapIfEmpty().status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(std::string(s.message()).find("the peer is this shard"), std::string::npos);
  EXPECT_TRUE(*store_.IsEmpty());
  absl::Status recovered = bootstrap.Recover();
  EXPECT_TRUE(absl::IsFailedPrecondition(recovered)) << recovered;
}

TEST_F(PeerBootstrapTest, RecoverMergesThePeersStateAndNeverMovesAPositionBack) {
  FillPeer();
  StartPeer("shard-a");
  peer_->ExpectToken("t");
  WriteToken("t");
  // This shard's own state: a record of its own, and partition 0 already past the peer's.
  repository::SnapshotHeader own;
  own.positions = {{0, 5}, {1, 1}};
  ASSERT_TRUE(store_.ImportSnapshot(own, {Revision("shard-b", "mine")}, {}).ok());
  PeerBootstrap bootstrap(Config(BootstrapMode::kAuto), store_, *probe_);

  absl::Status recovered = bootstrap.Recover();
  ASSERT_TRUE(recovered.ok()) << recovered;
  EXPECT_EQ(store_.offsets(), (std::map<int32_t, int64_t>{{0, 5}, {1, 2}, {2, 1}}));
  EXPECT_EQ(store_.record_count(), 3u);
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("mine")).has_value());
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("r1")).has_value());
  EXPECT_TRUE(store_.Record(kSpaceA, RecordId("r2")).has_value());
}

}  // namespace
}  // namespace coffer::vault::sync::test
