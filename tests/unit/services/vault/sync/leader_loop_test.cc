// LeaderLoop with in-process leadership: one leader at a time, take-over after a lost session,
// the rounds each role runs, and release on Stop.
#include "services/vault/sync/leader_loop.h"

#include <atomic>

#include "tests/unit/services/vault/sync/sync_test_support.h"

namespace coffer::vault::sync::test {
namespace {

class LeaderLoopTest : public ::testing::Test {
 protected:
  struct Counted {
    std::atomic<int> lead{0}, standby{0}, lost{0};
    std::atomic<bool> confirm{false};  // the lead round confirms leadership
  };

  std::unique_ptr<LeaderLoop> Start(Counted& c) {
    auto loop = std::make_unique<LeaderLoop>(
        LeaderLoopOptions{"relay", "shard-a", std::chrono::milliseconds(5)}, arbiter_->Make(),
        metrics_);
    LeaderLoop* self = loop.get();
    loop->Start({.lead =
                     [&c, self] {
                       if (c.confirm && !self->ConfirmLeadership()) return;
                       ++c.lead;
                       self->Sleep(std::chrono::milliseconds(2));
                     },
                 .standby = [&c] { ++c.standby; },
                 .lost = [&c] { ++c.lost; }});
    return loop;
  }

  double Changes(const std::string& change) {
    return metrics_.leadership_changes.Add({{"role", "relay"}, {"change", change}}).Value();
  }

  prometheus::Registry registry_;
  SyncMetrics metrics_{registry_};
  std::shared_ptr<testing::LeaderArbiter> arbiter_ = testing::LeaderArbiter::Create();
};

TEST_F(LeaderLoopTest, OneLoopLeadsTheOtherStandsByAndTakesOverAfterStop) {
  Counted a, b;
  auto first = Start(a);
  ASSERT_TRUE(WaitUntil([&] { return a.lead > 0; }));
  auto second = Start(b);
  ASSERT_TRUE(WaitUntil([&] { return b.standby > 2; }));
  EXPECT_EQ(b.lead, 0);
  EXPECT_TRUE(first->is_leader());
  EXPECT_FALSE(second->is_leader());
  first->Stop();
  EXPECT_FALSE(first->is_leader());
  EXPECT_EQ(a.lost, 1);  // the lost round runs once, on the way out
  ASSERT_TRUE(WaitUntil([&] { return b.lead > 0; }));
  EXPECT_TRUE(second->is_leader());
  EXPECT_EQ(Changes("acquired"), 2);
  EXPECT_EQ(Changes("lost"), 1);
}

TEST_F(LeaderLoopTest, ALostSessionNoticedInARoundEndsLeadershipAndTheLoopCompetesAgain) {
  Counted a;
  a.confirm = true;
  auto loop = Start(a);
  ASSERT_TRUE(WaitUntil([&] { return a.lead > 0; }));
  arbiter_->RevokeHolder();
  // Noticed at the next confirmation: lost, then (nobody else competing) acquired again.
  ASSERT_TRUE(WaitUntil([&] { return a.lost == 1 && arbiter_->acquisitions() == 2; }));
  const int before = a.lead;
  ASSERT_TRUE(WaitUntil([&] { return a.lead > before; }));
  EXPECT_EQ(Changes("lost"), 1);
}

TEST_F(LeaderLoopTest, NobodyLeadsWhileTheArbiterIsUnreachable) {
  arbiter_->SetReachable(false);
  Counted a;
  auto loop = Start(a);
  ASSERT_TRUE(WaitUntil([&] { return a.standby > 3; }));
  EXPECT_EQ(a.lead, 0);
  EXPECT_FALSE(loop->is_leader());
  arbiter_->SetReachable(true);
  ASSERT_TRUE(WaitUntil([&] { return a.lead > 0; }));
}

TEST_F(LeaderLoopTest, StopWakesASleepingRoundAndReleasesLeadership) {
  auto loop = std::make_unique<LeaderLoop>(
      LeaderLoopOptions{"gc", "shard-a", std::chrono::milliseconds(5)}, arbiter_->Make(), metrics_);
  std::atomic<bool> sleeping{false};
  LeaderLoop* self = loop.get();
  loop->Start({.lead =
                   [&] {
                     sleeping = true;
                     self->Sleep(std::chrono::hours(1));
                   },
               .standby = nullptr,
               .lost = nullptr});
  ASSERT_TRUE(WaitUntil([&] { return sleeping.load(); }));
  loop->Stop();  // returns, although the round sleeps for an hour
  auto other = arbiter_->Make();
  absl::StatusOr<bool> got = other->TryAcquire();
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got);
}

}  // namespace
}  // namespace coffer::vault::sync::test
