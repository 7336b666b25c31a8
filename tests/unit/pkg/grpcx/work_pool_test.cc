// WorkPool: tasks run on its threads, timers fire in deadline order on a pool thread, Stop drops
// what has not started. Waits are on conditions, never fixed sleeps.
#include "pkg/grpcx/work_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace coffer::grpcx {
namespace {

using namespace std::chrono_literals;

// Collects events from pool threads and lets the test wait for a count.
struct Log {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> seen;
  void Add(int v) {
    {
      std::lock_guard lock(mu);
      seen.push_back(v);
    }
    cv.notify_all();
  }
  bool WaitFor(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 30s, [&] { return seen.size() >= n; });
  }
};

TEST(WorkPoolTest, RunsEveryPostedTaskOnItsOwnThreads) {
  WorkPool pool({.threads = 3, .name = "test"});
  Log log;
  std::mutex mu;
  std::set<std::thread::id> threads;
  for (int i = 0; i < 200; ++i) {
    pool.Post([&, i] {
      {
        std::lock_guard lock(mu);
        threads.insert(std::this_thread::get_id());
      }
      log.Add(i);
    });
  }
  ASSERT_TRUE(log.WaitFor(200));
  std::lock_guard lock(mu);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  EXPECT_LE(threads.size(), 3u);
}

TEST(WorkPoolTest, TimersFireInDeadlineOrderNotPostingOrder) {
  WorkPool pool({.threads = 1, .name = "test"});
  Log log;
  const auto now = WorkPool::Clock::now();
  pool.PostAt(now + 300ms, [&] { log.Add(3); });
  pool.PostAt(now + 100ms, [&] { log.Add(1); });
  pool.PostAt(now + 200ms, [&] { log.Add(2); });
  pool.PostAt(now - 1s, [&] { log.Add(0); });  // already due: runs at once
  ASSERT_TRUE(log.WaitFor(4));
  std::lock_guard lock(log.mu);
  EXPECT_EQ(log.seen, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_GE(WorkPool::Clock::now(), now + 300ms);
}

TEST(WorkPoolTest, StopDropsPendingTimersAndLaterPosts) {
  std::atomic<int> ran{0};
  WorkPool pool({.threads = 2, .name = "test"});
  pool.PostAt(WorkPool::Clock::now() + 1h, [&] { ++ran; });
  EXPECT_EQ(pool.timers(), 1u);
  pool.Stop();  // returns at once: the hour-long timer is dropped, not waited for
  EXPECT_EQ(pool.timers(), 0u);
  pool.Post([&] { ++ran; });
  EXPECT_EQ(pool.queued(), 0u);
  EXPECT_EQ(ran.load(), 0);
}

TEST(WorkPoolTest, StopWaitsForTheRunningTask) {
  std::atomic<bool> started{false}, finished{false};
  std::mutex mu;
  std::condition_variable cv;
  WorkPool pool({.threads = 1, .name = "test"});
  pool.Post([&] {
    {
      std::lock_guard lock(mu);
      started = true;
    }
    cv.notify_all();
    std::this_thread::sleep_for(100ms);  // a task in progress, not a wait for an absence
    finished = true;
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return started.load(); }));
  }
  pool.Stop();
  EXPECT_TRUE(finished.load());
}

}  // namespace
}  // namespace coffer::grpcx
