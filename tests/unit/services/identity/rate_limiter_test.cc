#include "services/identity/domain/rate_limiter.h"

#include <gtest/gtest.h>

namespace coffer::identity {
namespace {

using std::chrono::seconds;
const RateLimiter::Time kT0 = RateLimiter::Time(seconds(1'700'000'000));

TEST(RateLimiterTest, AllowsBurstThenRefusesWithRetryAfter) {
  RateLimiter limiter({3, seconds(60)});  // 3 per minute: one every 20 s
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Acquire("k", kT0).allowed) << i;
  auto d = limiter.Acquire("k", kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, seconds(20));
  // Other keys are independent.
  EXPECT_TRUE(limiter.Acquire("other", kT0).allowed);
  // Partial refill: 10 s later one token is still 10 s away.
  d = limiter.Acquire("k", kT0 + seconds(10));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, seconds(10));
  EXPECT_TRUE(limiter.Acquire("k", kT0 + seconds(20)).allowed);
  EXPECT_FALSE(limiter.Acquire("k", kT0 + seconds(20)).allowed);
}

TEST(RateLimiterTest, RefillsToBurstOnly) {
  RateLimiter limiter({2, seconds(10)});
  EXPECT_TRUE(limiter.Acquire("k", kT0).allowed);
  // Long idle: the bucket holds at most `burst` tokens.
  const auto later = kT0 + seconds(3600);
  EXPECT_TRUE(limiter.Acquire("k", later).allowed);
  EXPECT_TRUE(limiter.Acquire("k", later).allowed);
  EXPECT_FALSE(limiter.Acquire("k", later).allowed);
}

TEST(RateLimiterTest, ClockGoingBackwardsDoesNotRefill) {
  RateLimiter limiter({1, seconds(10)});
  EXPECT_TRUE(limiter.Acquire("k", kT0).allowed);
  EXPECT_FALSE(limiter.Acquire("k", kT0 - seconds(100)).allowed);
}

TEST(RateLimiterTest, ZeroBurstDisables) {
  RateLimiter limiter({0, seconds(10)});
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.Acquire("k", kT0).allowed);
  EXPECT_EQ(limiter.SizeForTest(), 0u);
}

TEST(RateLimiterTest, MemoryIsBoundedByDroppingFullBuckets) {
  RateLimiter limiter({2, seconds(10)}, /*max_keys=*/4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.Acquire("k" + std::to_string(i), kT0).allowed);
  EXPECT_EQ(limiter.SizeForTest(), 4u);
  // After a refill period every bucket is full again and may be dropped for new keys.
  EXPECT_TRUE(limiter.Acquire("new", kT0 + seconds(10)).allowed);
  EXPECT_LE(limiter.SizeForTest(), 4u);
  // A limited key keeps its state while others are dropped.
  EXPECT_TRUE(limiter.Acquire("new", kT0 + seconds(10)).allowed);
  EXPECT_FALSE(limiter.Acquire("new", kT0 + seconds(10)).allowed);
}

TEST(RateLimiterTest, AFullTableSharesOneOverflowBucketInsteadOfFailingOpen) {
  RateLimiter limiter({2, seconds(10)}, /*max_keys=*/2);
  EXPECT_TRUE(limiter.Acquire("a", kT0).allowed);
  EXPECT_TRUE(limiter.Acquire("b", kT0).allowed);
  // Both buckets are in use: new addresses share one bucket of the same limit (2), so a flood of
  // addresses gets 2 tries in all, not 2 each, and is not let through untracked.
  EXPECT_TRUE(limiter.Acquire("c0", kT0 + seconds(1)).allowed);
  EXPECT_TRUE(limiter.Acquire("c1", kT0 + seconds(1)).allowed);
  for (int i = 2; i < 10; ++i) {
    EXPECT_FALSE(limiter.Acquire("c" + std::to_string(i), kT0 + seconds(1)).allowed);
  }
  EXPECT_EQ(limiter.SizeForTest(), 2u);
}

TEST(RateLimiterTest, AddressKeysGroupIpv6ByPrefix) {
  EXPECT_EQ(AddressRateKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(AddressRateKey("2001:DB8:1:2::9"), "2001:db8:1:2::/64");
  EXPECT_EQ(AddressRateKey("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(AddressRateKey("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(AddressRateKey("unix:/tmp/sock"), "unix:/tmp/sock");
}

}  // namespace
}  // namespace coffer::identity
