// GrpcServer's bounds (security audit H5): the thread quota, keepalive, idle connections, and
// the option checks. Real servers on loopback; nothing waits a fixed time for something not to
// happen.
#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "grpcx_test.grpc.pb.h"
#include "pkg/grpcx/channel.h"
#include "pkg/grpcx/server.h"

namespace coffer::grpcx {
namespace {

namespace pb = ::coffer::test::grpcx;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Echo whose calls with wait_for_cancel block until the test opens the gate; counts running
// handlers.
class GatedEchoService final : public pb::Echo::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* /*context*/, const pb::EchoRequest* request,
                    pb::EchoResponse* response) override {
    if (request->delay_ms() > 0) std::this_thread::sleep_for(request->delay_ms() * 1ms);
    if (request->wait_for_cancel()) {
      std::unique_lock<std::mutex> lock(mu_);
      ++running_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return open_; });
      --running_;
    }
    response->set_message(request->message());
    return grpc::Status::OK;
  }

  // Waits (at most 30 s) until `n` gated calls are running; false on timeout.
  bool WaitRunning(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 30s, [&] { return running_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
  bool open_ = false;
};

std::shared_ptr<grpc::Channel> Loopback(int port) {
  auto channel = MakeChannel("127.0.0.1:" + std::to_string(port));
  EXPECT_TRUE(channel.ok()) << channel.status();
  return *channel;
}

grpc::Status Call(const std::shared_ptr<grpc::Channel>& channel, const pb::EchoRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 60s);
  pb::EchoResponse response;
  return pb::Echo::NewStub(channel)->Echo(&context, request, &response);
}

std::map<std::string, int> ArgMap(const GrpcServerOptions& options) {
  std::map<std::string, int> out;
  for (const auto& [name, value] : ServerChannelArguments(options)) out[name] = value;
  return out;
}

TEST(ServerOptionsTest, ChannelArgumentsFollowTheOptions) {
  GrpcServerOptions o;
  o.max_concurrent_streams = 7;
  o.keepalive_time = 1234ms;
  o.keepalive_timeout = 567ms;
  o.min_client_ping_interval = 8900ms;
  o.max_connection_idle = 4321ms;
  o.max_connection_age = 99000ms;
  o.max_connection_age_grace = 5000ms;
  auto args = ArgMap(o);
  EXPECT_EQ(args[GRPC_ARG_ALLOW_REUSEPORT], 0);
  EXPECT_EQ(args[GRPC_ARG_MAX_CONCURRENT_STREAMS], 7);
  EXPECT_EQ(args[GRPC_ARG_KEEPALIVE_TIME_MS], 1234);
  EXPECT_EQ(args[GRPC_ARG_KEEPALIVE_TIMEOUT_MS], 567);
  EXPECT_EQ(args[GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS], 1);
  EXPECT_EQ(args[GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA], 0);
  EXPECT_EQ(args[GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS], 8900);
  EXPECT_EQ(args[GRPC_ARG_MAX_CONNECTION_IDLE_MS], 4321);
  EXPECT_EQ(args[GRPC_ARG_MAX_CONNECTION_AGE_MS], 99000);
  EXPECT_EQ(args[GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS], 5000);
}

TEST(ServerOptionsTest, DefaultsBoundEverythingButConnectionAge) {
  auto args = ArgMap(GrpcServerOptions{});
  EXPECT_EQ(args.count(GRPC_ARG_MAX_CONCURRENT_STREAMS), 1u);
  EXPECT_EQ(args.count(GRPC_ARG_KEEPALIVE_TIME_MS), 1u);
  EXPECT_EQ(args.count(GRPC_ARG_MAX_CONNECTION_IDLE_MS), 1u);
  // Watch streams of the CLI do not reconnect by themselves: no age limit unless asked for.
  EXPECT_EQ(args.count(GRPC_ARG_MAX_CONNECTION_AGE_MS), 0u);
  EXPECT_GT(GrpcServerOptions{}.max_threads, GrpcServerOptions{}.sync_max_idle_threads);
}

TEST(ServerOptionsTest, ZeroTurnsBoundsOff) {
  GrpcServerOptions o;
  o.max_concurrent_streams = 0;
  o.keepalive_time = 0ms;
  o.min_client_ping_interval = 0ms;
  o.max_connection_idle = 0ms;
  auto args = ArgMap(o);
  EXPECT_EQ(args.size(), 1u) << "only SO_REUSEPORT off";
}

TEST(ServerOptionsTest, OutOfRangeOptionsAreRefusedBeforeGrpcCouldAbort) {
  GrpcServerOptions o;
  o.max_threads = 2;  // gRPC aborts the process when the quota cannot hold its idle threads
  o.sync_min_idle_threads = 2;
  absl::Status s = ValidateServerOptions(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("max_threads"));
  o.address = "127.0.0.1:0";
  GrpcServer server(o);
  EXPECT_EQ(server.Start().status().code(), absl::StatusCode::kInvalidArgument);

  GrpcServerOptions negative;
  negative.keepalive_timeout = -1ms;
  EXPECT_EQ(ValidateServerOptions(negative).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateServerOptions(GrpcServerOptions{}).ok());
}

// Each running sync call holds a thread; past the quota a call is refused at once instead of
// creating yet another thread, and the server serves again once calls end.
TEST(ServerBoundsTest, CallsBeyondTheThreadQuotaAreRefusedAtOnce) {
  GatedEchoService echo;
  GrpcServerOptions o;
  o.address = "127.0.0.1:0";
  o.max_threads = 4;
  o.sync_min_idle_threads = 2;
  o.sync_max_idle_threads = 2;
  o.shutdown_grace = 100ms;
  GrpcServer server(o);
  server.RegisterService(&echo);
  ASSERT_TRUE(server.Start().ok());
  auto channel = Loopback(server.port());

  // 4 threads: 3 calls run, the 4th thread is the last poller, which cannot hand its call off.
  pb::EchoRequest gated;
  gated.set_wait_for_cancel(true);
  std::vector<std::thread> callers;
  std::vector<grpc::Status> results(3);
  struct Joiner {  // also when an assertion returns early
    GatedEchoService& echo;
    std::vector<std::thread>& threads;
    ~Joiner() {
      echo.Open();
      for (std::thread& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } joiner{echo, callers};
  for (int i = 0; i < 3; ++i) {
    callers.emplace_back([&, i] { results[i] = Call(channel, gated); });
    ASSERT_TRUE(echo.WaitRunning(i + 1)) << "call " << i << " never ran";
  }
  pb::EchoRequest quick;
  quick.set_message("hi");
  grpc::Status refused = Call(channel, quick);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();

  echo.Open();
  for (std::thread& t : callers) t.join();
  for (const grpc::Status& s : results) EXPECT_TRUE(s.ok()) << s.error_message();
  // The threads go back to polling: calls are served again (retried for up to 60 s: the freed
  // threads return to the quota on their own schedule).
  bool served = false;
  for (auto give_up = std::chrono::steady_clock::now() + 60s;
       !served && std::chrono::steady_clock::now() < give_up;) {
    served = Call(channel, quick).ok();
    if (!served) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(served);
}

// A connection without calls is closed after max_connection_idle; the client reconnects.
TEST(ServerBoundsTest, IdleConnectionIsClosedAndTheClientReconnects) {
  GatedEchoService echo;
  GrpcServerOptions o;
  o.address = "127.0.0.1:0";
  o.max_connection_idle = 200ms;
  GrpcServer server(o);
  server.RegisterService(&echo);
  ASSERT_TRUE(server.Start().ok());
  auto channel = Loopback(server.port());
  pb::EchoRequest quick;
  quick.set_message("hi");
  ASSERT_TRUE(Call(channel, quick).ok());  // the channel was READY: a call went through
  // The server's GOAWAY moves the channel out of READY (without a call of ours). On a loaded
  // machine the 200 ms may already have passed, so READY is not asserted first.
  if (channel->GetState(false) == GRPC_CHANNEL_READY) {
    EXPECT_TRUE(
        channel->WaitForStateChange(GRPC_CHANNEL_READY, std::chrono::system_clock::now() + 60s));
  }
  EXPECT_NE(channel->GetState(false), GRPC_CHANNEL_READY);
  EXPECT_TRUE(Call(channel, quick).ok());
}

// Server keepalive pings (here every 100 ms) are answered by gRPC clients: a call spanning many
// of them, and a later one, succeed (the defaults must never cut the CLI's streams).
TEST(ServerBoundsTest, KeepalivePingsLeaveHealthyCallsAlone) {
  GatedEchoService echo;
  GrpcServerOptions o;
  o.address = "127.0.0.1:0";
  o.keepalive_time = 100ms;
  o.keepalive_timeout = 10000ms;
  GrpcServer server(o);
  server.RegisterService(&echo);
  ASSERT_TRUE(server.Start().ok());
  auto channel = Loopback(server.port());
  pb::EchoRequest slow;
  slow.set_message("slow");
  slow.set_delay_ms(1500);
  EXPECT_TRUE(Call(channel, slow).ok());
  pb::EchoRequest quick;
  quick.set_message("hi");
  EXPECT_TRUE(Call(channel, quick).ok());
  EXPECT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
}

}  // namespace
}  // namespace coffer::grpcx
