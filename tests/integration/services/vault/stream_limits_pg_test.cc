// Bounds of long-lived calls over a real gRPC server on PostgreSQL (security audit H5, M6):
// Watch streams capped per user and per replica, upload concurrency and buffer share per user,
// and a stalled upload ended by the server with its buffer released. Waits are on conditions
// (metrics, stream messages), never fixed sleeps.
#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <condition_variable>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <sstream>
#include <thread>

#include "coffer/vault/v1/files.grpc.pb.h"
#include "coffer/vault/v1/sync.grpc.pb.h"
#include "coffer/vault/v1/vault.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "pkg/auth/jwks_source.h"
#include "pkg/auth/jwt.h"
#include "pkg/crypto/ed25519.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/app/vault_app.h"

namespace coffer::vault {
namespace {

using ::testing::HasSubstr;
namespace pb = ::coffer::vault::v1;
using namespace std::chrono_literals;

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * 1024;

bool Eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 45s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return cond();
}

// The retry delay of a status's google.rpc.RetryInfo, or -1 without one.
int64_t RetryDelaySeconds(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return -1;
  for (const auto& any : details.details()) {
    google::rpc::RetryInfo info;
    if (any.UnpackTo(&info)) return info.retry_delay().seconds();
  }
  return -1;
}

class VaultLimitsPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COFFER_PG_TEST_DATABASE(db_);
    COFFER_ASSERT_OK_AND_ASSIGN(key_, crypto::Ed25519PrivateKey::Generate());
    jwks_.Set(auth::JwkSet{{auth::Jwk::FromPublicKey("test-key", key_->PublicKey())}});
  }

  void TearDown() override {
    if (app_) app_->Shutdown();
  }

  void StartApp(const std::function<void(app::VaultConfig&)>& tweak) {
    app::VaultConfig config;
    config.db_dsn = db_->dsn();
    config.db_pool_size = 8;
    config.kek = "k1:" + crypto::Base64Encode(std::string(32, '\x42'));
    config.shard_id = "shard-a";
    config.shutdown_grace_ms = 1000;
    config.watch_heartbeat_ms = 60000;
    tweak(config);
    COFFER_ASSERT_OK_AND_ASSIGN(app_, app::VaultApp::Create(config, {&jwks_, nullptr}));
    COFFER_ASSERT_OK(app_->Start());
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(app_->grpc_port()),
                                       grpc::InsecureChannelCredentials());
    sync_ = pb::SyncService::NewStub(channel);
    files_ = pb::FileService::NewStub(channel);
  }

  std::string Token(const std::string& subject) {
    auth::Claims claims;
    claims.iss = "coffer-identity";
    claims.sub = subject;
    claims.aud = {"coffer"};
    const int64_t now = time(nullptr);
    claims.iat = now;
    claims.exp = now + 3600;
    claims.scope = {"vault"};
    auto token = auth::SignJwt(claims, "test-key", *key_);
    EXPECT_TRUE(token.ok());
    return token.value_or("");
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + 120s);
    return ctx;
  }

  std::string Metrics() {
    httplib::Client admin("127.0.0.1", app_->admin_port());
    auto response = admin.Get("/metrics");
    return response ? response->body : "";
  }

  // The value of one series ("name{labels}" exactly as exposed), or -1 when absent.
  double Metric(const std::string& series) {
    std::istringstream lines(Metrics());
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return -1;
  }

  // ---- Watch ----
  struct Watch {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<pb::WatchResponse>> reader;
    void Close() {
      if (!ctx) return;
      ctx->TryCancel();
      pb::WatchResponse ignored;
      while (reader->Read(&ignored)) {
      }
      reader->Finish();
      ctx.reset();
    }
  };
  Watch OpenWatch(const std::string& token) {
    Watch w;
    w.ctx = Ctx(token);
    w.reader = sync_->Watch(w.ctx.get(), pb::WatchRequest());
    return w;
  }
  // True when the stream was accepted (its catch-up ends with a heartbeat).
  static bool Accepted(Watch& w) {
    pb::WatchResponse msg;
    return w.reader->Read(&msg) && msg.has_heartbeat();
  }
  static grpc::Status Refusal(Watch& w) {
    pb::WatchResponse msg;
    EXPECT_FALSE(w.reader->Read(&msg));
    grpc::Status status = w.reader->Finish();
    w.ctx.reset();
    return status;
  }

  // ---- Upload ----
  struct Upload {
    std::unique_ptr<grpc::ClientContext> ctx;
    pb::UploadFileResponse response;
    std::unique_ptr<grpc::ClientWriter<pb::UploadFileRequest>> writer;
    bool Send(const std::string& chunk) {
      pb::UploadFileRequest msg;
      msg.set_chunk(chunk);
      return writer->Write(msg);
    }
    void Cancel() {
      if (!ctx) return;
      ctx->TryCancel();
      writer->Finish();
      ctx.reset();
    }
  };
  // Opens an upload and sends its metadata (size `size`, SHA-256 of `content`, or any digest).
  Upload OpenUpload(const std::string& token, int64_t size, const std::string& content = "") {
    Upload u;
    u.ctx = Ctx(token);
    u.writer = files_->UploadFile(u.ctx.get(), &u.response);
    pb::UploadFileRequest msg;
    msg.mutable_metadata()->set_file_name("f.bin");
    msg.mutable_metadata()->set_size_bytes(size);
    msg.mutable_metadata()->set_sha256_hex(
        content.empty() ? std::string(64, 'a') : crypto::HexEncode(crypto::Sha256(content)));
    u.writer->Write(msg);
    return u;
  }
  // A whole upload of `content` in 256 KiB chunks.
  grpc::Status UploadAll(const std::string& token, const std::string& content) {
    Upload u = OpenUpload(token, static_cast<int64_t>(content.size()), content);
    for (size_t at = 0; at < content.size(); at += 256 * kKiB) {
      if (!u.Send(content.substr(at, 256 * kKiB))) break;
    }
    u.writer->WritesDone();
    return u.writer->Finish();
  }

  int64_t Count(const std::string& sql) {
    pqxx::connection conn(db_->dsn());
    pqxx::nontransaction txn(conn);
    return txn.exec(sql)[0][0].as<int64_t>();
  }

  std::unique_ptr<testing::PgTestDatabase> db_;
  std::optional<crypto::Ed25519PrivateKey> key_;
  auth::StaticJwksSource jwks_;
  std::unique_ptr<app::VaultApp> app_;
  std::unique_ptr<pb::SyncService::Stub> sync_;
  std::unique_ptr<pb::FileService::Stub> files_;
};

TEST_F(VaultLimitsPgTest, WatchStreamsAreCappedPerUserAndAClosedOneFreesItsSlot) {
  StartApp([](app::VaultConfig& c) { c.max_watch_streams_per_user = 3; });
  const std::string alice = Token("alice");
  const std::string bob = Token("bob");
  std::vector<Watch> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(OpenWatch(alice));
    ASSERT_TRUE(Accepted(open.back())) << "stream " << i;
  }
  // The fourth is refused at once, naming the limit, with a retry hint.
  Watch extra = OpenWatch(alice);
  grpc::Status refused = Refusal(extra);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("limit 3 per user"));
  EXPECT_GT(RetryDelaySeconds(refused), 0);
  // Another user's Watch still opens.
  open.push_back(OpenWatch(bob));
  ASSERT_TRUE(Accepted(open.back()));

  EXPECT_EQ(Metric("coffer_vault_open_streams{kind=\"watch\"}"), 4);
  EXPECT_EQ(Metric("coffer_vault_streams_refused_total{kind=\"watch\",limit=\"user\"}"), 1);
  const std::string metrics = Metrics();
  EXPECT_EQ(metrics.find("alice"), std::string::npos);
  EXPECT_EQ(metrics.find(alice), std::string::npos);

  // Closing one of alice's streams frees its slot.
  open[0].Close();
  ASSERT_TRUE(Eventually([&] { return Metric("coffer_vault_open_streams{kind=\"watch\"}") == 3; }));
  open.push_back(OpenWatch(alice));
  EXPECT_TRUE(Accepted(open.back()));
  for (Watch& w : open) w.Close();
  EXPECT_TRUE(Eventually([&] { return Metric("coffer_vault_open_streams{kind=\"watch\"}") == 0; }));
}

TEST_F(VaultLimitsPgTest, WatchStreamsAreCappedPerReplica) {
  StartApp([](app::VaultConfig& c) { c.max_watch_streams = 2; });
  Watch a = OpenWatch(Token("alice"));
  ASSERT_TRUE(Accepted(a));
  Watch b = OpenWatch(Token("bob"));
  ASSERT_TRUE(Accepted(b));
  Watch c = OpenWatch(Token("carol"));
  grpc::Status refused = Refusal(c);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("limit 2 per server"));
  EXPECT_EQ(Metric("coffer_vault_streams_refused_total{kind=\"watch\",limit=\"replica\"}"), 1);
  a.Close();
  b.Close();
}

// Threads of this process (server and client), from /proc.
int64_t ProcessThreads() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Threads:", 0) == 0) return std::stoll(line.substr(8));
  }
  return -1;
}

// Many Watch streams of one client on gRPC's callback client API (no client thread per stream).
class WatchFleet {
 public:
  struct Stream final : grpc::ClientReadReactor<pb::WatchResponse> {
    WatchFleet* fleet = nullptr;
    grpc::ClientContext ctx;
    pb::WatchResponse msg;
    bool caught_up = false;
    void OnReadDone(bool ok) override {
      if (!ok) return;
      {
        std::lock_guard lock(fleet->mu_);
        if (msg.has_heartbeat() && !caught_up) {
          caught_up = true;
          ++fleet->caught_up_;
        }
        if (msg.has_change()) fleet->changes_[msg.change().record().id()] += 1;
      }
      fleet->cv_.notify_all();
      StartRead(&msg);
    }
    void OnDone(const grpc::Status& s) override {
      {
        std::lock_guard lock(fleet->mu_);
        ++fleet->ended_;
        fleet->codes_.push_back(s.error_code());
      }
      fleet->cv_.notify_all();
    }
  };

  // The server allows 128 calls per connection (max_concurrent_streams): at most 100 streams
  // per connection here, each connection a channel of its own.
  WatchFleet(int port, const std::string& token, int n) : streams_(n) {
    for (int i = 0; i < n; ++i) {
      if (i % 100 == 0) {
        grpc::ChannelArguments args;
        args.SetInt("coffer-test-connection", i);  // distinct arguments: no shared subchannel
        stubs_.push_back(pb::SyncService::NewStub(grpc::CreateCustomChannel(
            "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(), args)));
      }
      Stream& s = streams_[i];
      s.fleet = this;
      s.ctx.AddMetadata("authorization", "Bearer " + token);
      stubs_.back()->async()->Watch(&s.ctx, &request_, &s);
      s.StartRead(&s.msg);
      s.StartCall();
    }
  }
  // Every stream must have ended before the fleet goes (the reactors live in it).
  ~WatchFleet() {
    for (Stream& s : streams_) s.ctx.TryCancel();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return ended_ == static_cast<int>(streams_.size()); });
  }

  bool WaitFor(const std::function<bool()>& cond) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 60s, cond);
  }
  bool AllCaughtUp() {
    return WaitFor([&] { return caught_up_ == static_cast<int>(streams_.size()) || ended_ > 0; }) &&
           ended_ == 0;
  }
  bool AllReceived(const std::string& id) {
    return WaitFor([&] { return changes_[id] == static_cast<int>(streams_.size()); });
  }
  bool AllEnded() {
    return WaitFor([&] { return ended_ == static_cast<int>(streams_.size()); });
  }
  std::vector<grpc::StatusCode> codes() {
    std::lock_guard lock(mu_);
    return codes_;
  }

 private:
  pb::WatchRequest request_;
  std::vector<std::unique_ptr<pb::SyncService::Stub>> stubs_;
  std::vector<Stream> streams_;
  std::mutex mu_;
  std::condition_variable cv_;
  int caught_up_ = 0;
  int ended_ = 0;
  std::map<std::string, int> changes_;
  std::vector<grpc::StatusCode> codes_;
};

// Watch runs on the callback API (issue 19): an idle stream holds no server thread. 300 streams
// of one user open on a replica whose gRPC server may run at most 128 threads (the sync API
// needed a thread per stream, so this was refused past ~128), the process gains far fewer
// threads than streams, one write reaches every stream, closing them frees every slot, and a
// shutdown with streams open ends them all.
TEST_F(VaultLimitsPgTest, ManyIdleWatchStreamsHoldNoThreadsAndAllReceiveAWrite) {
  constexpr int kStreams = 300;
  StartApp([](app::VaultConfig& c) {
    c.max_watch_streams_per_user = 1000;
    c.grpc_max_threads = 128;
    c.max_uploads = 16;
    c.max_downloads = 16;
    c.watch_threads = 2;
  });
  const std::string alice = Token("alice");
  auto records = pb::RecordService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(app_->grpc_port()), grpc::InsecureChannelCredentials()));
  const int64_t threads_before = ProcessThreads();
  {
    WatchFleet fleet(app_->grpc_port(), alice, kStreams);
    ASSERT_TRUE(fleet.AllCaughtUp());
    EXPECT_EQ(Metric("coffer_vault_open_streams{kind=\"watch\"}"), kStreams);
    const int64_t threads_open = ProcessThreads();
    EXPECT_LT(threads_open - threads_before, kStreams / 3)
        << "threads before " << threads_before << ", with the streams open " << threads_open;

    pb::CreateRecordRequest create;
    create.mutable_record()->set_type(pb::RECORD_TYPE_TEXT);
    create.mutable_record()->set_name("seen by all");
    create.mutable_record()->mutable_text()->set_text("hello");
    pb::CreateRecordResponse created;
    ASSERT_TRUE(records->CreateRecord(Ctx(alice).get(), create, &created).ok());
    EXPECT_TRUE(fleet.AllReceived(created.record().id()));
  }  // cancels every stream
  EXPECT_TRUE(Eventually([&] { return Metric("coffer_vault_open_streams{kind=\"watch\"}") == 0; }));

  // Streams still open at shutdown are ended by it (the server cancels them after its grace).
  WatchFleet fleet(app_->grpc_port(), alice, 20);
  ASSERT_TRUE(fleet.AllCaughtUp());
  app_->Shutdown();
  ASSERT_TRUE(fleet.AllEnded());
  for (grpc::StatusCode code : fleet.codes()) EXPECT_NE(code, grpc::StatusCode::OK);
}

// The audit's M6 scenario, scaled down: a 2 MiB budget, files of up to 1 MiB. Four uploads of
// alice stall holding content; they hold at most her share (1 MiB), so bob can still upload a
// file of the largest size. A fifth concurrent upload of hers is refused at once.
TEST_F(VaultLimitsPgTest, FourStalledUploadsOfOneUserDoNotBlockAnotherUsersUpload) {
  StartApp([](app::VaultConfig& c) {
    c.max_file_bytes = 1 * kMiB;
    c.max_upload_buffer_bytes = 2 * kMiB;  // per user: max(a quarter, one file) = 1 MiB
    c.max_uploads_per_user = 4;
    c.file_stream_idle_timeout_ms = 120000;  // nothing times out during this test
  });
  const std::string alice = Token("alice");
  const std::string chunk(256 * kKiB, 'x');
  std::vector<Upload> stalled;
  for (int i = 0; i < 4; ++i) {
    stalled.push_back(OpenUpload(alice, 1 * kMiB));
    ASSERT_TRUE(stalled.back().Send(chunk));
  }
  ASSERT_TRUE(Eventually([&] { return Metric("coffer_vault_upload_buffer_bytes") == 1 * kMiB; }));
  EXPECT_EQ(Metric("coffer_vault_open_streams{kind=\"upload\"}"), 4);

  Upload fifth = OpenUpload(alice, 10);
  fifth.writer->WritesDone();
  grpc::Status refused = fifth.writer->Finish();
  fifth.ctx.reset();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("limit 4 per user"));
  EXPECT_GT(RetryDelaySeconds(refused), 0);

  // Alice cannot take more than her share (the budget's other half stays free for others).
  stalled[0].Send(chunk);
  grpc::Status over = stalled[0].writer->Finish();
  stalled[0].ctx.reset();
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(over.error_message(), HasSubstr("the limit per user"));
  EXPECT_GT(RetryDelaySeconds(over), 0);
  ASSERT_TRUE(Eventually([&] { return Metric("coffer_vault_upload_buffer_bytes") == 768 * kKiB; }));

  // Bob uploads a file of the largest size while alice's three uploads still stall.
  const std::string content(1 * kMiB, 'b');
  grpc::Status bobs = UploadAll(Token("bob"), content);
  EXPECT_TRUE(bobs.ok()) << bobs.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM blobs"), 1);

  for (Upload& u : stalled) u.Cancel();
  EXPECT_TRUE(Eventually([&] {
    return Metric("coffer_vault_upload_buffer_bytes") == 0 &&
           Metric("coffer_vault_open_streams{kind=\"upload\"}") == 0;
  }));
}

// A client that sends part of a file and then nothing (without closing): the server ends the
// upload after the idle timeout with DEADLINE_EXCEEDED, and its buffer is released without the
// client doing anything: the whole budget is free again for another user's file.
TEST_F(VaultLimitsPgTest, StalledUploadIsEndedAndItsBufferReleasedWithoutTheClient) {
  StartApp([](app::VaultConfig& c) {
    c.max_file_bytes = 1 * kMiB;
    c.max_upload_buffer_bytes = 1 * kMiB;
    c.file_stream_idle_timeout_ms = 1500;
  });
  Upload stalled = OpenUpload(Token("alice"), 1 * kMiB);
  const std::string chunk(256 * kKiB, 'x');
  ASSERT_TRUE(stalled.Send(chunk));
  ASSERT_TRUE(stalled.Send(chunk));
  // No further message and no half-close: the server's watchdog acts.
  ASSERT_TRUE(Eventually(
      [&] { return Metric("coffer_vault_stream_idle_timeouts_total{kind=\"upload\"}") == 1; }));
  EXPECT_TRUE(Eventually([&] {
    return Metric("coffer_vault_upload_buffer_bytes") == 0 &&
           Metric("coffer_vault_open_streams{kind=\"upload\"}") == 0;
  }));
  grpc::Status ended = stalled.writer->Finish();
  stalled.ctx.reset();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << ended.error_message();
  EXPECT_THAT(ended.error_message(), HasSubstr("no upload message for 1.5 s"));
  EXPECT_THAT(ended.error_message(), HasSubstr("nothing was stored"));

  // The whole budget is free: another user's file of the full budget's size goes through.
  grpc::Status bobs = UploadAll(Token("bob"), std::string(1 * kMiB, 'b'));
  EXPECT_TRUE(bobs.ok()) << bobs.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM blobs"), 1);
}

}  // namespace
}  // namespace coffer::vault
