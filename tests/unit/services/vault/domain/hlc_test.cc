#include "services/vault/domain/hlc.h"

#include <gtest/gtest.h>

namespace coffer::vault::domain {
namespace {

TEST(HlcTest, FollowsWallClockWithZeroLogical) {
  uint64_t now_ms = 1'700'000'000'000;
  Hlc hlc([&] { return now_ms; });
  uint64_t t = hlc.Now();
  EXPECT_EQ(HlcTimestamp::PhysicalMs(t), now_ms);
  EXPECT_EQ(HlcTimestamp::Logical(t), 0u);
  now_ms += 5;
  uint64_t t2 = hlc.Now();
  EXPECT_EQ(HlcTimestamp::PhysicalMs(t2), now_ms);
  EXPECT_EQ(HlcTimestamp::Logical(t2), 0u);
}

TEST(HlcTest, SameMillisecondIncrementsLogical) {
  Hlc hlc([] { return uint64_t{1000}; });
  uint64_t a = hlc.Now();
  uint64_t b = hlc.Now();
  EXPECT_EQ(HlcTimestamp::PhysicalMs(b), 1000u);
  EXPECT_EQ(HlcTimestamp::Logical(b), 1u);
  EXPECT_GT(b, a);
}

TEST(HlcTest, NeverGoesBackwardsWhenWallClockDoes) {
  uint64_t now_ms = 5000;
  Hlc hlc([&] { return now_ms; });
  uint64_t a = hlc.Now();
  now_ms = 4000;
  uint64_t b = hlc.Now();
  EXPECT_GT(b, a);
  EXPECT_EQ(HlcTimestamp::PhysicalMs(b), 5000u);
}

TEST(HlcTest, ObserveRemoteAheadMovesClockPastIt) {
  Hlc hlc([] { return uint64_t{1000}; });
  uint64_t remote = HlcTimestamp::Pack(9000, 7);
  uint64_t seen = hlc.Observe(remote);
  EXPECT_GT(seen, remote);
  EXPECT_GT(hlc.Now(), seen);
  EXPECT_EQ(HlcTimestamp::PhysicalMs(hlc.Now()), 9000u);
}

TEST(HlcTest, LogicalOverflowCarriesIntoMilliseconds) {
  Hlc hlc([] { return uint64_t{1000}; });
  hlc.Observe(HlcTimestamp::Pack(1000, HlcTimestamp::kLogicalMask - 1));
  uint64_t t = hlc.Now();
  EXPECT_EQ(HlcTimestamp::PhysicalMs(t), 1001u);
  EXPECT_EQ(HlcTimestamp::Logical(t), 0u);
}

TEST(HlcTest, PackRoundTrips) {
  uint64_t packed = HlcTimestamp::Pack(123456789, 42);
  EXPECT_EQ(HlcTimestamp::PhysicalMs(packed), 123456789u);
  EXPECT_EQ(HlcTimestamp::Logical(packed), 42u);
}

}  // namespace
}  // namespace coffer::vault::domain
