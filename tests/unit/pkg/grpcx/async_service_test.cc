// GrpcServer's async-API services (RegisterAsyncService) and its own health service: calls run
// on the service's completion queue, shutdown drains them before the queue goes, health Watch is
// capped, and no server brings gRPC's callback queue threads (health_service.h says what they
// cost every call).
#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcx_test.grpc.pb.h"
#include "pkg/grpcx/channel.h"
#include "pkg/grpcx/health_service.h"
#include "pkg/grpcx/server.h"

namespace coffer::grpcx {
namespace {

namespace pb = ::coffer::test::grpcx;
using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using namespace std::chrono_literals;

// Echo on the async API: answers at once, or (wait_for_cancel) only when the call is cancelled.
class AsyncEcho {
 public:
  using Service = pb::Echo::WithAsyncMethod_Echo<pb::Echo::Service>;

  AsyncServiceHooks Hooks() {
    return {.threads = 1,
            .start =
                [this](grpc::ServerCompletionQueue* cq) {
                  cq_ = cq;
                  RequestOne();
                },
            .drain =
                [this] {
                  drains_.fetch_add(1);
                  std::unique_lock<std::mutex> lock(mu_);
                  drained_.wait(lock, [this] { return alive_ == 0; });
                }};
  }

  Service service;
  std::atomic<int> drains_{0};
  std::atomic<int> accepted_{0};

  int alive() {
    std::lock_guard<std::mutex> lock(mu_);
    return alive_;
  }

 private:
  struct Call {
    explicit Call(AsyncEcho& owner) : owner(owner) {}
    AsyncEcho& owner;
    grpc::ServerContext context;
    pb::EchoRequest request;
    grpc::ServerAsyncResponseWriter<pb::EchoResponse> writer{&context};
    bool finish_called = false, finish_back = false, done_back = false;
    AsyncTag accepted{[this](bool ok) { owner.OnAccepted(this, ok); }};
    AsyncTag finished{[this](bool) {
      finish_back = true;
      owner.MaybeRelease(this);
    }};
    AsyncTag done{[this](bool) {
      done_back = true;
      if (!finish_called) {
        finish_called = true;
        writer.FinishWithError(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"), &finished);
      }
      owner.MaybeRelease(this);
    }};
  };

  void RequestOne() {
    auto call = std::make_unique<Call>(*this);
    Call* raw = call.get();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++alive_;
      calls_.push_back(std::move(call));
    }
    raw->context.AsyncNotifyWhenDone(&raw->done);
    service.RequestEcho(&raw->context, &raw->request, &raw->writer, cq_, cq_, &raw->accepted);
  }

  // One queue thread: no two tags of a call run at once.
  void OnAccepted(Call* call, bool ok) {
    if (!ok) {  // the server is shutting down: no other tag of this call comes
      std::lock_guard<std::mutex> lock(mu_);
      --alive_;
      drained_.notify_all();
      return;
    }
    accepted_.fetch_add(1);
    RequestOne();
    if (call->request.wait_for_cancel()) return;  // ends when cancelled (done tag)
    pb::EchoResponse response;
    response.set_message(call->request.message());
    call->finish_called = true;
    call->writer.Finish(response, grpc::Status::OK, &call->finished);
  }

  void MaybeRelease(Call* call) {
    if (!call->finish_back || !call->done_back) return;
    std::lock_guard<std::mutex> lock(mu_);
    --alive_;
    drained_.notify_all();
  }

  grpc::ServerCompletionQueue* cq_ = nullptr;
  std::mutex mu_;
  std::condition_variable drained_;
  int alive_ = 0;
  std::vector<std::unique_ptr<Call>> calls_;  // freed with the test's AsyncEcho
};

std::shared_ptr<grpc::Channel> Loopback(int port) {
  auto channel = MakeChannel("127.0.0.1:" + std::to_string(port));
  EXPECT_TRUE(channel.ok()) << channel.status();
  return *channel;
}

// Names of this process's threads (Linux: /proc/self/task/*/comm).
std::vector<std::string> ThreadNames() {
  std::vector<std::string> names;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return names;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream comm(std::string("/proc/self/task/") + entry->d_name + "/comm");
    std::string name;
    std::getline(comm, name);
    names.push_back(name);
  }
  closedir(dir);
  return names;
}

TEST(AsyncServiceTest, CallsRunOnTheServiceQueueAndShutdownDrainsThemFirst) {
  AsyncEcho echo;
  GrpcServer server({.address = "127.0.0.1:0", .shutdown_grace = 200ms});
  server.RegisterAsyncService(&echo.service, echo.Hooks());
  ASSERT_TRUE(server.Start().ok());
  auto stub = pb::Echo::NewStub(Loopback(server.port()));

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  pb::EchoRequest request;
  request.set_message("hi");
  pb::EchoResponse response;
  ASSERT_TRUE(stub->Echo(&context, request, &response).ok());
  EXPECT_EQ(response.message(), "hi");

  // A call that only ends when cancelled: the server's shutdown cancels it after the grace
  // period; drain waits for it (and for the request still pending) before the queue goes.
  grpc::ClientContext open_context;
  open_context.set_deadline(std::chrono::system_clock::now() + 60s);
  pb::EchoRequest open;
  open.set_wait_for_cancel(true);
  pb::EchoResponse ignored;
  grpc::Status open_status;
  std::thread client([&] { open_status = stub->Echo(&open_context, open, &ignored); });
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (echo.accepted_.load() < 2 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(echo.accepted_.load(), 2);  // (not ASSERT: the client thread is joined below)
  server.Shutdown();
  client.join();
  EXPECT_FALSE(open_status.ok());
  EXPECT_EQ(echo.drains_.load(), 1);
  EXPECT_EQ(echo.alive(), 0);  // every call gave its tags back before the queue went
}

// gRPC 1.51 starts its callback-queue threads ("nexting_thread") for any callback-API service,
// its built-in health service included; they stalled every call of the server ~100 ms a second.
// A GrpcServer with health, reflection and an async service must not have them.
TEST(AsyncServiceTest, AServerBringsNoCallbackQueueThreads) {
  AsyncEcho echo;
  GrpcServer server({.address = "127.0.0.1:0"});
  server.RegisterAsyncService(&echo.service, echo.Hooks());
  ASSERT_TRUE(server.Start().ok());
  auto channel = Loopback(server.port());
  grpc::ClientContext context;
  HealthCheckResponse response;
  ASSERT_TRUE(Health::NewStub(channel)->Check(&context, HealthCheckRequest(), &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  const std::vector<std::string> names = ThreadNames();
  ASSERT_FALSE(names.empty());
  for (const std::string& name : names) EXPECT_NE(name, "nexting_thread");
  server.Shutdown();
}

TEST(HealthServiceTest, WatchersBeyondTheCapAreRefusedAndTheRestSeeChanges) {
  GrpcServer server({.address = "127.0.0.1:0", .shutdown_grace = 200ms});
  ASSERT_TRUE(server.Start().ok());
  auto stub = Health::NewStub(Loopback(server.port()));
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<HealthCheckResponse>>> watches;
  HealthCheckResponse response;
  // One client address gets kMaxWatchersPerPeer places (of kMaxWatchers for everyone), and a
  // watcher holds no server thread (Watch runs on the async API).
  const size_t threads_before = ThreadNames().size();
  for (int i = 0; i < HealthService::kMaxWatchersPerPeer; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(std::chrono::system_clock::now() + 60s);
    watches.push_back(stub->Watch(contexts.back().get(), HealthCheckRequest()));
    ASSERT_TRUE(watches.back()->Read(&response)) << i;  // the first answer: it is counted
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  }
  EXPECT_LT(ThreadNames().size(), threads_before + HealthService::kMaxWatchersPerPeer / 2);
  grpc::ClientContext refused_context;
  refused_context.set_deadline(std::chrono::system_clock::now() + 30s);
  auto refused = stub->Watch(&refused_context, HealthCheckRequest());
  EXPECT_FALSE(refused->Read(&response));
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  // An unknown name is watched too (SERVICE_UNKNOWN), after one watcher leaves.
  contexts.front()->TryCancel();
  EXPECT_FALSE(watches.front()->Finish().ok());
  HealthCheckRequest unknown;
  unknown.set_service("no.such.Service");
  grpc::ClientContext unknown_context;
  unknown_context.set_deadline(std::chrono::system_clock::now() + 30s);
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> unknown_watch;
  // The leaving watcher frees its place once its cancellation reached the server.
  for (int attempt = 0; attempt < 300; ++attempt) {
    grpc::ClientContext try_context;
    try_context.set_deadline(std::chrono::system_clock::now() + 30s);
    auto attempt_watch = stub->Watch(&try_context, unknown);
    if (attempt_watch->Read(&response)) {
      EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);
      try_context.TryCancel();
      attempt_watch->Finish();
      break;
    }
    ASSERT_EQ(attempt_watch->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    std::this_thread::sleep_for(10ms);
    ASSERT_LT(attempt, 299) << "a cancelled watcher never freed its place";
  }

  server.SetServing(false);
  for (size_t i = 1; i < watches.size(); ++i) {
    ASSERT_TRUE(watches[i]->Read(&response));
    EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  }
  server.Shutdown();
  for (size_t i = 1; i < watches.size(); ++i) {
    while (watches[i]->Read(&response)) {
    }
    EXPECT_FALSE(watches[i]->Finish().ok());
  }
}

}  // namespace
}  // namespace coffer::grpcx
