// IdleWatchdog: deterministic expiry (driven by Expire with a time of the test's choosing), its
// own thread, and a real stalled client stream ended with the status the handler chose.
#include "pkg/grpcx/idle_watchdog.h"

#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "grpcx_test.grpc.pb.h"
#include "pkg/grpcx/channel.h"
#include "pkg/grpcx/server.h"

namespace coffer::grpcx {
namespace {

namespace pb = ::coffer::test::grpcx;
using ::testing::HasSubstr;
using namespace std::chrono_literals;
using Clock = IdleWatchdog::Clock;

TEST(IdleWatchdogTest, FiresArmedGuardsPastTheirDeadlineOnce) {
  IdleWatchdog watchdog(/*run_thread=*/false);
  int a = 0;
  int b = 0;
  int c = 0;
  IdleWatchdog::Guard ga = watchdog.Track([&] { ++a; });
  IdleWatchdog::Guard gb = watchdog.Track([&] { ++b; });
  IdleWatchdog::Guard gc = watchdog.Track([&] { ++c; });  // never armed
  ga.Arm(100ms);
  gb.Arm(1h);
  EXPECT_EQ(watchdog.tracked(), 3);
  EXPECT_EQ(watchdog.armed(), 2);
  const auto now = Clock::now();
  EXPECT_EQ(watchdog.Expire(now + 1min), 1);
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 0);
  EXPECT_TRUE(ga.fired());
  EXPECT_FALSE(gb.fired());
  EXPECT_EQ(watchdog.Expire(now + 2h), 1);
  EXPECT_EQ(b, 1);
  ga.Arm(1ms);  // a fired guard never fires again
  EXPECT_EQ(watchdog.Expire(now + 3h), 0);
  EXPECT_EQ(a, 1);
  EXPECT_EQ(c, 0);
}

TEST(IdleWatchdogTest, DisarmedOrReArmedGuardDoesNotFireEarly) {
  IdleWatchdog watchdog(/*run_thread=*/false);
  int fired = 0;
  IdleWatchdog::Guard g = watchdog.Track([&] { ++fired; });
  g.Arm(1ms);
  g.Disarm();
  EXPECT_EQ(watchdog.Expire(Clock::now() + 1h), 0);
  g.Arm(1ms);
  g.Arm(1h);  // progress: the deadline moves
  EXPECT_EQ(watchdog.Expire(Clock::now() + 1min), 0);
  EXPECT_EQ(watchdog.Expire(Clock::now() + 2h), 1);
  EXPECT_EQ(fired, 1);
}

TEST(IdleWatchdogTest, DestroyedGuardIsForgottenAndMovedGuardKeepsItsEntry) {
  IdleWatchdog watchdog(/*run_thread=*/false);
  int fired = 0;
  {
    IdleWatchdog::Guard g = watchdog.Track([&] { ++fired; });
    g.Arm(1ms);
  }
  EXPECT_EQ(watchdog.tracked(), 0);
  EXPECT_EQ(watchdog.Expire(Clock::now() + 1h), 0);

  IdleWatchdog::Guard first = watchdog.Track([&] { ++fired; });
  IdleWatchdog::Guard moved = std::move(first);
  moved.Arm(1ms);
  EXPECT_EQ(watchdog.tracked(), 1);
  EXPECT_EQ(watchdog.Expire(Clock::now() + 1h), 1);
  EXPECT_TRUE(moved.fired());
  EXPECT_EQ(fired, 1);
}

// The watchdog's thread sleeps until the earliest deadline, and is woken when a guard is armed
// with an earlier one than it sleeps for.
TEST(IdleWatchdogTest, ItsThreadFiresByItselfAtTheEarliestDeadline) {
  IdleWatchdog watchdog;
  std::mutex mu;
  std::condition_variable cv;
  bool fired = false;
  IdleWatchdog::Guard late = watchdog.Track([] {});
  late.Arm(1h);  // the thread now sleeps for an hour
  IdleWatchdog::Guard soon = watchdog.Track([&] {
    std::lock_guard<std::mutex> lock(mu);
    fired = true;
    cv.notify_all();
  });
  soon.Arm(20ms);
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, 30s, [&] { return fired; }));
  EXPECT_TRUE(soon.fired());
  EXPECT_FALSE(late.fired());
}

// A client-streaming handler that waits for messages under the watchdog.
class CollectService final : public pb::Echo::Service {
 public:
  CollectService(IdleWatchdog& watchdog, std::chrono::milliseconds timeout)
      : watchdog_(watchdog), timeout_(timeout) {}

  grpc::Status Collect(grpc::ServerContext* context, grpc::ServerReader<pb::EchoRequest>* reader,
                       pb::EchoResponse* response) override {
    IdleWatchdog::Guard idle = watchdog_.Track(
        CancelCallWith(context, grpc::StatusCode::DEADLINE_EXCEEDED, "no message in time"));
    pb::EchoRequest msg;
    std::string joined;
    for (;;) {
      idle.Arm(timeout_);
      const bool got = reader->Read(&msg);
      idle.Disarm();
      if (!got) break;
      joined += msg.message();
    }
    if (idle.fired())
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "no message in time");
    response->set_message(joined);
    return grpc::Status::OK;
  }

 private:
  IdleWatchdog& watchdog_;
  const std::chrono::milliseconds timeout_;
};

class StalledStreamTest : public ::testing::Test {
 protected:
  explicit StalledStreamTest(std::chrono::milliseconds idle_timeout = 1000ms)
      : service_(watchdog_, idle_timeout) {}

  void SetUp() override {
    GrpcServerOptions options;
    options.address = "127.0.0.1:0";
    server_ = std::make_unique<GrpcServer>(options);
    server_->RegisterService(&service_);
    ASSERT_TRUE(server_->Start().ok());
    auto channel = MakeChannel("127.0.0.1:" + std::to_string(server_->port()));
    ASSERT_TRUE(channel.ok());
    stub_ = pb::Echo::NewStub(*channel);
  }

  IdleWatchdog watchdog_;
  CollectService service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<pb::Echo::Stub> stub_;
};

// The client sends one message and then nothing, without half-closing: the watchdog ends the
// call with the status and message the handler chose, and the blocked Read returns.
TEST_F(StalledStreamTest, StalledClientGetsDeadlineExceededWithoutDoingAnything) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 60s);
  // Headers travel with the first message: the server's 1 s guard starts when the call arrives,
  // and a loaded client pausing between opening the call and writing must not look like a stall.
  context.set_initial_metadata_corked(true);
  pb::EchoResponse response;
  auto writer = stub_->Collect(&context, &response);
  pb::EchoRequest msg;
  msg.set_message("first");
  ASSERT_TRUE(writer->Write(msg));
  // No WritesDone: Finish waits for the server's verdict.
  grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("no message in time"));
  // The watchdog's cancellation sends that status itself, so the client may have it before the
  // handler's Read returned: wait (at most 30 s) for the handler to return and drop its guard.
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (watchdog_.tracked() != 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(watchdog_.tracked(), 0) << "the handler never returned and dropped its guard";
}

// A healthy stream under the watchdog: the guard armed around every Read never fires. Its idle
// timeout is generous (a loaded machine may pause the client between two messages for longer
// than the stalled test's second).
class SendingStreamTest : public StalledStreamTest {
 protected:
  SendingStreamTest() : StalledStreamTest(30s) {}
};

TEST_F(SendingStreamTest, StreamThatKeepsSendingCompletes) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 60s);
  pb::EchoResponse response;
  auto writer = stub_->Collect(&context, &response);
  pb::EchoRequest msg;
  for (const char* part : {"a", "b", "c"}) {
    msg.set_message(part);
    ASSERT_TRUE(writer->Write(msg));
  }
  ASSERT_TRUE(writer->WritesDone());
  grpc::Status status = writer->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.message(), "abc");
}

}  // namespace
}  // namespace coffer::grpcx
