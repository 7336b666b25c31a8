// Own binary: BlockShutdownSignals must run before any other thread exists, and a
// process-directed SIGTERM would kill a test binary whose gRPC threads did not block it.
#include "pkg/grpcx/signals.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <future>

namespace coffer::grpcx {
namespace {

TEST(ShutdownSignals, WaiterReceivesProcessDirectedSignals) {
  BlockShutdownSignals();  // before the waiter thread exists, as main() does
  for (int sig : {SIGTERM, SIGINT}) {
    std::future<int> received =
        std::async(std::launch::async, [] { return WaitForShutdownSignal(); });
    ASSERT_EQ(kill(getpid(), sig), 0);
    ASSERT_EQ(received.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    EXPECT_EQ(received.get(), sig);
  }
}

TEST(ShutdownSignals, SignalSentBeforeWaitingIsNotLost) {
  BlockShutdownSignals();
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);  // stays pending while blocked
  EXPECT_EQ(WaitForShutdownSignal(), SIGTERM);
}

}  // namespace
}  // namespace coffer::grpcx
