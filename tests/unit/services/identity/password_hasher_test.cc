// PasswordHasher: the Argon2id concurrency bound. Work inside a slot blocks on a gate the test
// opens, so "N at once" and "the N+1th is refused" are shown by counters, never by timing.
#include "services/identity/service/password_hasher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "pkg/testing/status_matchers.h"

namespace coffer::identity {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::StatusIs;
using ::testing::HasSubstr;

// Cheapest Argon2id libsodium accepts: real hashing, fast tests.
constexpr crypto::PasswordHashParams kFast{.ops_limit = 1, .mem_limit = 8 * 1024};

// Polls `done` until it holds; fails the test after a generous bound (a stuck test, not a slow
// machine).
template <typename Pred>
bool WaitUntil(Pred done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Work that records how many run at once and blocks until the test opens the gate.
class Gate {
 public:
  void Work() {
    const int now = ++running_;
    int seen = max_running_.load();
    while (now > seen && !max_running_.compare_exchange_weak(seen, now)) {
    }
    opened_.wait();
    --running_;
  }
  void Open() { open_.set_value(); }
  int running() const { return running_.load(); }
  int max_running() const { return max_running_.load(); }

 private:
  std::promise<void> open_;
  std::shared_future<void> opened_ = open_.get_future().share();
  std::atomic<int> running_{0};
  std::atomic<int> max_running_{0};
};

PasswordHasherOptions Options(int max_concurrent, std::chrono::milliseconds queue_timeout) {
  return PasswordHasherOptions{kFast, max_concurrent, queue_timeout};
}

TEST(PasswordHasherTest, AtMostNRunAtOnceAndTheOthersWaitForASlot) {
  constexpr int kSlots = 3;
  constexpr int kCallers = 10;
  // Long enough that nobody is refused: every caller eventually gets a slot.
  PasswordHasher hasher(Options(kSlots, std::chrono::minutes(10)), nullptr);
  Gate gate;
  std::atomic<int> ok{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&] {
      if (hasher.RunInSlot([&] { gate.Work(); }).ok()) ++ok;
    });
  }
  // in_flight counts a slot before its work starts: wait for the work too (gate.running()), or
  // the last slot holder may not have reached the gate yet.
  ASSERT_TRUE(WaitUntil([&] {
    const auto s = hasher.stats();
    return s.in_flight == kSlots && s.waiting == kCallers - kSlots && gate.running() == kSlots;
  }));
  EXPECT_EQ(gate.running(), kSlots);
  gate.Open();
  for (auto& t : callers) t.join();
  EXPECT_EQ(ok.load(), kCallers);
  EXPECT_EQ(gate.max_running(), kSlots);
  const auto s = hasher.stats();
  EXPECT_EQ(s.max_in_flight, kSlots);
  EXPECT_EQ(s.in_flight, 0);
  EXPECT_EQ(s.waiting, 0);
  EXPECT_EQ(s.completed, static_cast<std::uint64_t>(kCallers));
  EXPECT_EQ(s.refused, 0u);
}

TEST(PasswordHasherTest, TheNPlusFirstIsRefusedAfterTheQueueTimeout) {
  constexpr int kSlots = 2;
  prometheus::Registry registry;
  IdentityMetrics metrics(registry);
  PasswordHasher hasher(Options(kSlots, std::chrono::milliseconds(50)), &metrics);
  Gate gate;
  std::vector<std::thread> holders;
  for (int i = 0; i < kSlots; ++i) {
    holders.emplace_back([&] { EXPECT_THAT(hasher.RunInSlot([&] { gate.Work(); }), IsOk()); });
  }
  ASSERT_TRUE(WaitUntil([&] { return hasher.stats().in_flight == kSlots; }));
  EXPECT_EQ(metrics.password_hashes_in_flight.Value(), kSlots);

  // Every slot stays held until the gate opens, so these wait the queue timeout and give up.
  bool ran = false;
  EXPECT_THAT(hasher.RunInSlot([&] { ran = true; }),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("in progress")));
  EXPECT_FALSE(ran);
  const std::string hash = *crypto::HashPassword("pw", kFast);
  EXPECT_THAT(hasher.Verify(hash, "pw"), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(hasher.Hash("pw"), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(hasher.stats().refused, 3u);
  EXPECT_EQ(metrics.password_hash_refusals.Value(), 3);
  EXPECT_EQ(metrics.password_hashes_waiting.Value(), 0);

  gate.Open();
  for (auto& t : holders) t.join();
  EXPECT_EQ(metrics.password_hashes_in_flight.Value(), 0);
  // Free again: real Argon2id work goes through.
  auto verified = hasher.Verify(hash, "pw");
  ASSERT_THAT(verified, IsOk());
  EXPECT_TRUE(*verified);
  EXPECT_FALSE(*hasher.Verify(hash, "other"));
  auto made = hasher.Hash("pw");
  ASSERT_THAT(made, IsOk());
  EXPECT_TRUE(crypto::VerifyPassword(*made, "pw"));
  EXPECT_FALSE(hasher.NeedsRehash(*made));
  EXPECT_EQ(hasher.stats().max_in_flight, kSlots);
}

TEST(PasswordHasherTest, AWaiterTakesTheSlotThatIsFreedWithinTheTimeout) {
  PasswordHasher hasher(Options(1, std::chrono::minutes(10)), nullptr);
  Gate gate;
  std::thread holder([&] { EXPECT_THAT(hasher.RunInSlot([&] { gate.Work(); }), IsOk()); });
  ASSERT_TRUE(WaitUntil([&] { return hasher.stats().in_flight == 1; }));
  std::atomic<bool> waiter_ran{false};
  std::thread waiter([&] { EXPECT_THAT(hasher.RunInSlot([&] { waiter_ran = true; }), IsOk()); });
  ASSERT_TRUE(WaitUntil([&] { return hasher.stats().waiting == 1; }));
  EXPECT_FALSE(waiter_ran.load());
  gate.Open();
  holder.join();
  waiter.join();
  EXPECT_TRUE(waiter_ran.load());
  EXPECT_EQ(hasher.stats().refused, 0u);
  EXPECT_EQ(hasher.stats().max_in_flight, 1);
}

TEST(PasswordHasherTest, ZeroQueueTimeoutRefusesAtOnce) {
  PasswordHasher hasher(Options(1, std::chrono::milliseconds(0)), nullptr);
  Gate gate;
  std::thread holder([&] { EXPECT_THAT(hasher.RunInSlot([&] { gate.Work(); }), IsOk()); });
  ASSERT_TRUE(WaitUntil([&] { return hasher.stats().in_flight == 1; }));
  EXPECT_THAT(hasher.RunInSlot([] {}), StatusIs(absl::StatusCode::kResourceExhausted));
  gate.Open();
  holder.join();
  EXPECT_THAT(hasher.RunInSlot([] {}), IsOk());
}

TEST(PasswordHasherTest, SlotHookRunsInsideTheSlot) {
  PasswordHasher hasher(Options(1, std::chrono::minutes(10)), nullptr);
  int in_flight_seen_by_hook = -1;
  hasher.SetSlotHookForTest([&] { in_flight_seen_by_hook = hasher.stats().in_flight; });
  ASSERT_THAT(hasher.Hash("pw"), IsOk());
  EXPECT_EQ(in_flight_seen_by_hook, 1);
}

}  // namespace
}  // namespace coffer::identity
