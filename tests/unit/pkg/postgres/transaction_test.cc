#include "pkg/postgres/transaction.h"

#include <gtest/gtest.h>

namespace coffer::postgres {
namespace {

TEST(RetryBackoffTest, FullJitterWithinExponentialCap) {
  RetryPolicy policy;
  policy.initial_backoff = std::chrono::milliseconds(2);
  policy.max_backoff = std::chrono::milliseconds(20);
  policy.multiplier = 2;
  std::mt19937_64 rng(42);  // fixed seed: deterministic
  for (int retry = 1; retry <= 8; ++retry) {
    const int64_t cap_us = std::min<int64_t>(20000, 2000LL << (retry - 1));
    int64_t max_seen = 0;
    for (int i = 0; i < 200; ++i) {
      const int64_t us = RetryBackoff(policy, retry, rng).count();
      ASSERT_GE(us, 0);
      ASSERT_LE(us, cap_us) << "retry " << retry;
      max_seen = std::max(max_seen, us);
    }
    // Jitter spreads over the whole range, not a constant.
    EXPECT_GT(max_seen, cap_us / 2) << "retry " << retry;
  }
}

TEST(RetryBackoffTest, ZeroBackoffPolicy) {
  RetryPolicy policy;
  policy.initial_backoff = std::chrono::milliseconds(0);
  std::mt19937_64 rng(1);
  EXPECT_EQ(RetryBackoff(policy, 3, rng).count(), 0);
}

}  // namespace
}  // namespace coffer::postgres
