// StreamLimiter (per-user and per-replica caps of long-lived calls) and the RetryInfo its
// refusals carry over gRPC.
#include "services/vault/transport/stream_limiter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "pkg/status/status.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/service/retry_after.h"
#include "services/vault/transport/retry_info.h"

namespace coffer::vault::transport {
namespace {

using ::coffer::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

StreamLimiter::Options Watch(int per_user, int per_replica) {
  return StreamLimiter::Options{"watch", "Watch streams", per_user, per_replica};
}

TEST(StreamLimiterTest, CapsOneUserWithoutTouchingOthersAndFreesOnRelease) {
  StreamLimiter limiter(Watch(2, 100), nullptr);
  auto a1 = limiter.Acquire("alice");
  auto a2 = limiter.Acquire("alice");
  ASSERT_TRUE(a1.ok());
  ASSERT_TRUE(a2.ok());
  absl::StatusOr<StreamLimiter::Slot> a3 = limiter.Acquire("alice");
  EXPECT_THAT(a3.status(), StatusIs(absl::StatusCode::kResourceExhausted,
                                    HasSubstr("too many Watch streams open for this user "
                                              "(limit 2 per user on this server)")));
  EXPECT_TRUE(status::RetryAfter(a3.status()).has_value());
  auto b1 = limiter.Acquire("bob");
  EXPECT_TRUE(b1.ok());
  EXPECT_EQ(limiter.open(), 3);
  EXPECT_EQ(limiter.open("alice"), 2);

  { StreamLimiter::Slot gone = *std::move(a1); }  // the stream ended
  EXPECT_EQ(limiter.open("alice"), 1);
  auto again = limiter.Acquire("alice");
  EXPECT_TRUE(again.ok());
  EXPECT_EQ(limiter.open(), 3);
}

TEST(StreamLimiterTest, CapsTheReplica) {
  StreamLimiter limiter(Watch(5, 2), nullptr);
  auto a = limiter.Acquire("alice");
  auto b = limiter.Acquire("bob");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_THAT(limiter.Acquire("carol").status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("limit 2 per server")));
  EXPECT_EQ(limiter.open("carol"), 0);
}

TEST(StreamLimiterTest, MovedSlotIsFreedOnce) {
  StreamLimiter limiter(Watch(1, 10), nullptr);
  std::optional<StreamLimiter::Slot> holder;
  {
    auto slot = limiter.Acquire("alice");
    ASSERT_TRUE(slot.ok());
    holder.emplace(*std::move(slot));
  }
  EXPECT_EQ(limiter.open("alice"), 1);
  StreamLimiter::Slot moved = std::move(*holder);
  holder.reset();
  EXPECT_EQ(limiter.open("alice"), 1);
  { StreamLimiter::Slot end = std::move(moved); }
  EXPECT_EQ(limiter.open(), 0);
}

TEST(StreamLimiterTest, ConcurrentAcquiresNeverExceedTheCaps) {
  StreamLimiter limiter(Watch(3, 5), nullptr);
  std::atomic<int> held{0};
  std::atomic<int> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const std::string user = t % 2 == 0 ? "alice" : "bob";
      for (int i = 0; i < 2000; ++i) {
        auto slot = limiter.Acquire(user);
        if (!slot.ok()) continue;
        const int now = ++held;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        EXPECT_LE(limiter.open(user), 3);
        --held;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(most.load(), 5);
  EXPECT_EQ(limiter.open(), 0);
}

TEST(StreamLimiterTest, MetricsCountStreamsAndRefusalsByKindNeverByUser) {
  prometheus::Registry registry;
  StreamMetrics metrics(registry);
  StreamLimiter watch(Watch(1, 10), &metrics);
  StreamLimiter uploads({"upload", "file uploads", 1, 10}, &metrics);
  auto a = watch.Acquire("alice-subject");
  EXPECT_FALSE(watch.Acquire("alice-subject").ok());
  auto u = uploads.Acquire("alice-subject");
  uploads.CountIdleTimeout();
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, HasSubstr("coffer_vault_open_streams{kind=\"watch\"} 1"));
  EXPECT_THAT(text, HasSubstr("coffer_vault_open_streams{kind=\"upload\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("coffer_vault_streams_refused_total{kind=\"watch\",limit=\"user\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("coffer_vault_streams_refused_total{kind=\"watch\",limit=\"replica\"} 0"));
  EXPECT_THAT(text, HasSubstr("coffer_vault_stream_idle_timeouts_total{kind=\"upload\"} 1"));
  EXPECT_THAT(text, Not(HasSubstr("alice")));
}

TEST(RetryInfoTest, RetryHintBecomesRetryInfoInTheStatusDetails) {
  absl::Status limited =
      service::WithRetryAfter(absl::ResourceExhaustedError("slow down"), std::chrono::seconds(7));
  grpc::Status g = ToGrpcStatusWithRetryInfo(limited);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(g.error_message(), "slow down");
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(g.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::RetryInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.retry_delay().seconds(), 7);

  grpc::Status plain = ToGrpcStatusWithRetryInfo(absl::NotFoundError("x"));
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(plain.error_details().empty());
  EXPECT_TRUE(ToGrpcStatusWithRetryInfo(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace coffer::vault::transport
