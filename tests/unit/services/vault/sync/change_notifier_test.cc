// ChangeNotifier's in-process wake-ups (no database: the notifier is not started, Publish works
// without it): per-space generations and waiters, and Stop() waking every waiter.
#include "services/vault/sync/change_notifier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

namespace coffer::vault::sync {
namespace {

using namespace std::chrono_literals;

// Polls until `n` threads wait in the notifier (at most 60 s): a wake-up is only tested when the
// waiter really waits, not when it starts after the event and returns at once.
bool WaitForWaiters(ChangeNotifier& notifier, int n) {
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  while (notifier.waiters() < n) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(ChangeNotifierTest, AWaiterWakesWhenItsSpaceChanges) {
  ChangeNotifier notifier("");
  const uint64_t seen = notifier.Generation("space-a");
  auto woken =
      std::async(std::launch::async, [&] { return notifier.WaitForChange("space-a", seen, 60s); });
  ASSERT_TRUE(WaitForWaiters(notifier, 1));
  notifier.Publish("space-a");
  EXPECT_TRUE(woken.get());
  EXPECT_GT(notifier.Generation("space-a"), seen);
}

TEST(ChangeNotifierTest, OtherSpacesChangesDoNotCountForASpace) {
  ChangeNotifier notifier("");
  const uint64_t seen_a = notifier.Generation("space-a");
  const uint64_t any = notifier.AnyGeneration();
  notifier.Publish("space-b");
  const uint64_t b_once = notifier.Generation("space-b");
  notifier.Publish("space-b");
  EXPECT_EQ(notifier.Generation("space-a"), seen_a);
  EXPECT_GT(notifier.Generation("space-b"), b_once);
  EXPECT_EQ(notifier.AnyGeneration(), any + 2);
  // Space A did not change: its waiter sees no change (deterministic: B changed before).
  EXPECT_FALSE(notifier.WaitForChange("space-a", seen_a, 10ms));
  // A generation already past `seen` returns at once.
  EXPECT_TRUE(notifier.WaitForChange("space-b", 0, 30s));
  EXPECT_TRUE(notifier.WaitForAnyChange(any, 30s));
}

TEST(ChangeNotifierTest, StopWakesTheWaitersOfEverySpace) {
  ChangeNotifier notifier("");
  auto a = std::async(std::launch::async, [&] {
    return notifier.WaitForChange("space-a", notifier.Generation("space-a"), 60s);
  });
  auto b = std::async(std::launch::async, [&] {
    return notifier.WaitForChange("space-b", notifier.Generation("space-b"), 60s);
  });
  auto any = std::async(std::launch::async,
                        [&] { return notifier.WaitForAnyChange(notifier.AnyGeneration(), 60s); });
  ASSERT_TRUE(WaitForWaiters(notifier, 3));
  notifier.Stop();
  // Each returns false (stopped, not changed) long before its 60 s.
  EXPECT_EQ(a.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(b.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(any.wait_for(30s), std::future_status::ready);
  EXPECT_FALSE(a.get());
  EXPECT_FALSE(b.get());
  EXPECT_FALSE(any.get());
}

// A replica sees millions of spaces change over its life; only the entries of spaces someone
// waits on or watches are kept. A dropped space must never show a generation (or head-cache
// epoch) it had before a later change, or a cached head would be served after that change.
TEST(ChangeNotifierTest, IdleSpacesAreForgottenWithoutReusingAGeneration) {
  ChangeNotifier notifier("");
  const uint64_t watched_sub = notifier.Subscribe("watched", [] {});
  notifier.Publish("watched");
  notifier.Publish("cached");
  const uint64_t cached_epoch = notifier.Epoch("cached");
  const uint64_t watched_gen = notifier.Generation("watched");
  auto waiter = std::async(std::launch::async, [&] {
    return notifier.WaitForChange("waited", notifier.Generation("waited"), 60s);
  });
  ASSERT_TRUE(WaitForWaiters(notifier, 1));

  const size_t n = 3 * ChangeNotifier::kMinSweep;
  for (size_t i = 0; i < n; ++i) notifier.Publish("space-" + std::to_string(i));
  // Swept at least once: far fewer entries than spaces changed, the watched and waited kept.
  EXPECT_LT(notifier.spaces(), n);
  EXPECT_EQ(notifier.Generation("watched"), watched_gen);
  EXPECT_EQ(waiter.wait_for(0s), std::future_status::timeout);
  notifier.Publish("waited");
  EXPECT_TRUE(waiter.get());

  // "cached" was dropped: its epoch moved (a spurious miss, never a stale hit) and stays put
  // until it changes; a change after that moves it again.
  const uint64_t dropped_epoch = notifier.Epoch("cached");
  EXPECT_NE(dropped_epoch, cached_epoch);
  EXPECT_EQ(notifier.Epoch("cached"), dropped_epoch);
  notifier.Publish("cached");
  EXPECT_GT(notifier.Epoch("cached"), dropped_epoch);
  EXPECT_GT(notifier.Epoch("cached"), cached_epoch);  // not a counter restarted from zero
  notifier.Unsubscribe("watched", watched_sub);
}

}  // namespace
}  // namespace coffer::vault::sync
