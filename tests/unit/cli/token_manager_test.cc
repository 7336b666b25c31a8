#include "cli/token_manager.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace coffer::cli {
namespace {

namespace idv1 = ::coffer::identity::v1;

class TokenManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/coffer-cli-tm-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void StoreSession(int64_t access_expires_at, int64_t refresh_expires_at = 0) {
    StoredTokens t;
    t.login = "alice";
    t.access_token = "access-1";
    t.refresh_token = "refresh-1";
    t.access_expires_at = access_expires_at;
    t.refresh_expires_at = refresh_expires_at;
    ASSERT_TRUE(TokenStore(dir_).Save(t).ok());
  }

  TokenManager Manager() {
    return TokenManager(
        TokenStore(dir_),
        [this](const std::string& refresh) -> absl::StatusOr<idv1::TokenPair> {
          refreshed_with_.push_back(refresh);
          if (!refresh_result_.ok()) return refresh_result_;
          idv1::TokenPair pair;
          pair.set_access_token("access-2");
          pair.set_refresh_token("refresh-2");
          pair.set_expires_in(900);
          pair.set_refresh_expires_in(3600);
          return pair;
        },
        [this] { return now_; }, /*leeway_seconds=*/60);
  }

  std::string dir_;
  int64_t now_ = 10'000;
  absl::Status refresh_result_ = absl::OkStatus();
  std::vector<std::string> refreshed_with_;
};

TEST_F(TokenManagerTest, NoSessionMeansNotLoggedIn) {
  auto token = Manager().AccessToken();
  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(std::string(token.status().message()).find("coffer login"), std::string::npos);
  EXPECT_TRUE(refreshed_with_.empty());
}

TEST_F(TokenManagerTest, FreshTokenIsUsedAsIs) {
  StoreSession(now_ + 600);
  auto token = Manager().AccessToken();
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, "access-1");
  EXPECT_TRUE(refreshed_with_.empty());
}

TEST_F(TokenManagerTest, TokenNearExpiryIsRefreshedAndRotatedPairStored) {
  StoreSession(now_ + 30);  // inside the 60 s leeway
  auto token = Manager().AccessToken();
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "access-2");
  EXPECT_EQ(refreshed_with_, std::vector<std::string>{"refresh-1"});
  auto stored = TokenStore(dir_).Load();
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->refresh_token, "refresh-2");
  EXPECT_EQ((*stored)->access_expires_at, now_ + 900);
  EXPECT_EQ((*stored)->refresh_expires_at, now_ + 3600);
  EXPECT_EQ((*stored)->login, "alice");
  // The next call uses the rotated token without another refresh.
  EXPECT_EQ(*Manager().AccessToken(), "access-2");
  EXPECT_EQ(refreshed_with_.size(), 1u);
}

TEST_F(TokenManagerTest, ForceRefreshIgnoresExpiry) {
  StoreSession(now_ + 600);
  auto token = Manager().ForceRefresh();
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, "access-2");
}

TEST_F(TokenManagerTest, RejectedRefreshEndsTheSession) {
  StoreSession(now_ - 1);
  refresh_result_ = absl::UnauthenticatedError("refresh token reused");
  auto token = Manager().AccessToken();
  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(std::string(token.status().message()).find("session expired"), std::string::npos);
  EXPECT_FALSE(TokenStore(dir_).Load()->has_value());
}

TEST_F(TokenManagerTest, UnreachableIdentityKeepsTheSession) {
  StoreSession(now_ - 1);
  refresh_result_ = absl::UnavailableError("connection refused");
  EXPECT_EQ(Manager().AccessToken().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(TokenStore(dir_).Load()->has_value());
}

TEST_F(TokenManagerTest, ExpiredRefreshTokenIsNotSent) {
  StoreSession(now_ - 100, now_ - 1);
  auto token = Manager().AccessToken();
  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(refreshed_with_.empty());
  EXPECT_FALSE(TokenStore(dir_).Load()->has_value());
}

}  // namespace
}  // namespace coffer::cli
