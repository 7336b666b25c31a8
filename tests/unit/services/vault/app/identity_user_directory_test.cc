// IdentityUserDirectory against a fake identity gRPC server on loopback: what it sends (the
// caller's bearer token, a deadline), how it maps answers, and its GetUser cache (hits, TTLs of
// found and NOT_FOUND answers, errors never cached, the size bound), on an injected clock.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "coffer/identity/v1/identity.grpc.pb.h"
#include "pkg/auth/clock.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/app/identity_clients.h"

namespace coffer::vault::app {
namespace {

namespace idv1 = ::coffer::identity::v1;
using ::coffer::testing::IsOk;
using ::coffer::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kAlice[] = "11111111-1111-4111-8111-111111111111";
constexpr char kBob[] = "22222222-2222-4222-8222-222222222222";

// A stand-in for identity's LookupUser / GetUser that counts calls and can be told to fail.
class FakeIdentity final : public idv1::IdentityService::Service {
 public:
  void AddUser(const std::string& id, const std::string& login, const std::string& display) {
    std::lock_guard lock(mu_);
    idv1::UserProfile p;
    p.set_user_id(id);
    p.set_login(login);
    p.set_display_name(display);
    p.mutable_create_time()->set_seconds(1'700'000'000);
    p.mutable_create_time()->set_nanos(250'000'000);
    users_[id] = p;
  }
  // The next `n` calls fail with `status`.
  void FailNext(grpc::Status status, int n = 1) {
    std::lock_guard lock(mu_);
    fail_status_ = std::move(status);
    fail_count_ = n;
  }
  // While set, calls wait until the client gives up (deadline).
  void SetStall(bool stall) { stall_ = stall; }

  int get_calls() const { return get_calls_; }
  int lookup_calls() const { return lookup_calls_; }
  std::string last_authorization() {
    std::lock_guard lock(mu_);
    return last_authorization_;
  }

  grpc::Status LookupUser(grpc::ServerContext* ctx, const idv1::LookupUserRequest* req,
                          idv1::LookupUserResponse* resp) override {
    ++lookup_calls_;
    if (auto s = Prologue(ctx); !s.ok()) return s;
    std::lock_guard lock(mu_);
    for (const auto& [id, p] : users_) {
      if (p.login() == req->login()) {
        *resp->mutable_user() = p;
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no user with this login");
  }

  grpc::Status GetUser(grpc::ServerContext* ctx, const idv1::GetUserRequest* req,
                       idv1::GetUserResponse* resp) override {
    ++get_calls_;
    if (auto s = Prologue(ctx); !s.ok()) return s;
    std::lock_guard lock(mu_);
    auto it = users_.find(req->user_id());
    if (it == users_.end())
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no user with this id");
    *resp->mutable_user() = it->second;
    return grpc::Status::OK;
  }

 private:
  grpc::Status Prologue(grpc::ServerContext* ctx) {
    while (stall_ && !ctx->IsCancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::lock_guard lock(mu_);
    auto it = ctx->client_metadata().find("authorization");
    last_authorization_ =
        it == ctx->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
    if (fail_count_ > 0) {
      --fail_count_;
      return fail_status_;
    }
    return grpc::Status::OK;
  }

  std::mutex mu_;
  std::map<std::string, idv1::UserProfile> users_;
  grpc::Status fail_status_;
  int fail_count_ = 0;
  std::string last_authorization_;
  std::atomic<bool> stall_{false};
  std::atomic<int> get_calls_{0};
  std::atomic<int> lookup_calls_{0};
};

class IdentityUserDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&identity_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials());
    identity_.AddUser(kAlice, "alice", "Alice A.");
    identity_.AddUser(kBob, "bob", "");
  }
  void TearDown() override {
    identity_.SetStall(false);
    server_->Shutdown();
  }

  std::unique_ptr<IdentityUserDirectory> Directory(
      UserDirectoryCacheOptions options = {},
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return std::make_unique<IdentityUserDirectory>(channel_, timeout, options, clock_);
  }

  FakeIdentity identity_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  auth::FakeClock clock_;
};

TEST_F(IdentityUserDirectoryTest, SendsTheCallersTokenAndMapsTheProfile) {
  auto dir = Directory();
  auto alice = dir->LookupLogin("token-of-carol", "alice");
  ASSERT_THAT(alice, IsOk());
  EXPECT_EQ(identity_.last_authorization(), "Bearer token-of-carol");
  EXPECT_EQ(alice->user_id, kAlice);
  EXPECT_EQ(alice->login, "alice");
  EXPECT_EQ(alice->display_name, "Alice A.");
  EXPECT_EQ(alice->created_at_ms, 1'700'000'000'250);

  auto bob = dir->GetUser("token-of-dave", kBob);
  ASSERT_THAT(bob, IsOk());
  EXPECT_EQ(identity_.last_authorization(), "Bearer token-of-dave");
  EXPECT_EQ(bob->login, "bob");
  EXPECT_EQ(bob->display_name, "");

  EXPECT_THAT(dir->LookupLogin("t", "nobody"),
              StatusIs(absl::StatusCode::kNotFound, "no user with this login"));
  // No token, no call: the directory never asks identity anonymously.
  const int calls = identity_.get_calls() + identity_.lookup_calls();
  EXPECT_THAT(dir->GetUser("", kAlice), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(dir->LookupLogin("", "alice"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(identity_.get_calls() + identity_.lookup_calls(), calls);
}

TEST_F(IdentityUserDirectoryTest, GetUserIsCachedForTheTtl) {
  auto dir = Directory();  // 60 s
  ASSERT_THAT(dir->GetUser("t1", kAlice), IsOk());
  ASSERT_EQ(identity_.get_calls(), 1);
  clock_.Advance(absl::Seconds(59));
  for (int i = 0; i < 5; ++i) {
    auto again = dir->GetUser("t2", kAlice);  // another caller: profiles are public
    ASSERT_THAT(again, IsOk());
    EXPECT_EQ(again->login, "alice");
  }
  EXPECT_EQ(identity_.get_calls(), 1);
  clock_.Advance(absl::Seconds(1));
  ASSERT_THAT(dir->GetUser("t1", kAlice), IsOk());
  EXPECT_EQ(identity_.get_calls(), 2);
}

TEST_F(IdentityUserDirectoryTest, LookupsAlwaysAskIdentityButFillTheIdCache) {
  auto dir = Directory();
  ASSERT_THAT(dir->LookupLogin("t", "alice"), IsOk());
  ASSERT_THAT(dir->LookupLogin("t", "alice"), IsOk());
  // Each lookup reaches identity, so its per-caller lookup limit cannot be bypassed here.
  EXPECT_EQ(identity_.lookup_calls(), 2);
  ASSERT_THAT(dir->GetUser("t", kAlice), IsOk());
  EXPECT_EQ(identity_.get_calls(), 0);
  identity_.FailNext(
      grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many attempts; retry after 12s"));
  EXPECT_THAT(dir->LookupLogin("t", "alice"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("retry after 12s")));
}

TEST_F(IdentityUserDirectoryTest, NotFoundIsCachedOnlyBriefly) {
  constexpr char kCarol[] = "33333333-3333-4333-8333-333333333333";
  auto dir = Directory();  // NOT_FOUND: 5 s
  EXPECT_THAT(dir->GetUser("t", kCarol), StatusIs(absl::StatusCode::kNotFound));
  identity_.AddUser(kCarol, "carol", "");
  clock_.Advance(absl::Seconds(4));
  EXPECT_THAT(dir->GetUser("t", kCarol), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(identity_.get_calls(), 1);
  clock_.Advance(absl::Seconds(1));
  auto carol = dir->GetUser("t", kCarol);
  ASSERT_THAT(carol, IsOk());
  EXPECT_EQ(carol->login, "carol");
  EXPECT_EQ(identity_.get_calls(), 2);
}

TEST_F(IdentityUserDirectoryTest, ErrorsAreNeverCached) {
  auto dir = Directory();
  identity_.FailNext(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "access token has expired"));
  EXPECT_THAT(dir->GetUser("expired", kAlice),
              StatusIs(absl::StatusCode::kUnauthenticated, "access token has expired"));
  identity_.FailNext(grpc::Status(grpc::StatusCode::INTERNAL, "database trouble"));
  EXPECT_THAT(dir->GetUser("t", kAlice), StatusIs(absl::StatusCode::kInternal));
  identity_.FailNext(grpc::Status(grpc::StatusCode::UNAVAILABLE, "database down"));
  EXPECT_THAT(dir->GetUser("t", kAlice), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(dir->CacheSizeForTest(), 0u);
  ASSERT_THAT(dir->GetUser("t", kAlice), IsOk());
  EXPECT_EQ(identity_.get_calls(), 4);
  ASSERT_THAT(dir->GetUser("t", kAlice), IsOk());
  EXPECT_EQ(identity_.get_calls(), 4);
}

TEST_F(IdentityUserDirectoryTest, CacheIsBoundedAndDropsTheLeastRecentlyUsed) {
  UserDirectoryCacheOptions options;
  options.max_entries = 3;
  auto dir = Directory(options);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back("44444444-4444-4444-8444-00000000000" + std::to_string(i));
    identity_.AddUser(ids.back(), "user" + std::to_string(i), "");
  }
  ASSERT_THAT(dir->GetUser("t", ids[0]), IsOk());
  ASSERT_THAT(dir->GetUser("t", ids[1]), IsOk());
  ASSERT_THAT(dir->GetUser("t", ids[2]), IsOk());
  ASSERT_THAT(dir->GetUser("t", ids[0]), IsOk());  // hit: ids[0] is now the most recent
  ASSERT_EQ(identity_.get_calls(), 3);
  ASSERT_THAT(dir->GetUser("t", ids[3]), IsOk());  // evicts ids[1]
  EXPECT_EQ(dir->CacheSizeForTest(), 3u);
  EXPECT_EQ(identity_.get_calls(), 4);
  ASSERT_THAT(dir->GetUser("t", ids[0]), IsOk());
  ASSERT_THAT(dir->GetUser("t", ids[2]), IsOk());
  ASSERT_THAT(dir->GetUser("t", ids[3]), IsOk());
  EXPECT_EQ(identity_.get_calls(), 4);
  ASSERT_THAT(dir->GetUser("t", ids[1]), IsOk());  // was evicted: asks again
  EXPECT_EQ(identity_.get_calls(), 5);
  EXPECT_EQ(dir->CacheSizeForTest(), 3u);
}

TEST_F(IdentityUserDirectoryTest, UnreachableOrSlowIdentityIsUnavailable) {
  auto slow = Directory({}, std::chrono::milliseconds(300));
  identity_.SetStall(true);
  EXPECT_THAT(slow->GetUser("t", kAlice), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(slow->LookupLogin("t", "alice"), StatusIs(absl::StatusCode::kUnavailable));
  identity_.SetStall(false);
  EXPECT_EQ(slow->CacheSizeForTest(), 0u);
  // Identity answers again, and nothing of the failures was cached: the same directory serves.
  // Its 300 ms deadline can also pass on a loaded machine; that error is not cached either, so
  // asking again (up to 60 s) is what a caller would do.
  absl::StatusOr<service::UserProfile> recovered = slow->GetUser("t", kAlice);
  for (auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       !recovered.ok() && absl::IsUnavailable(recovered.status()) &&
       std::chrono::steady_clock::now() < give_up;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    recovered = slow->GetUser("t", kAlice);
  }
  ASSERT_THAT(recovered, IsOk());

  // A port nobody listens on (the server is gone).
  server_->Shutdown();
  auto gone = Directory({}, std::chrono::milliseconds(300));
  EXPECT_THAT(gone->GetUser("t", kBob), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(IdentityUserDirectoryTest, ConcurrentCallersShareOneCache) {
  auto dir = Directory();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (dir->GetUser("t" + std::to_string(t), i % 2 ? kAlice : kBob).ok()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(dir->CacheSizeForTest(), 2u);
  // Misses racing at the start may each ask identity; after that every call is a hit.
  EXPECT_LE(identity_.get_calls(), 16);
  EXPECT_GE(identity_.get_calls(), 2);
}

}  // namespace
}  // namespace coffer::vault::app
