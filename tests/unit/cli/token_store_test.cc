#include "cli/token_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace coffer::cli {
namespace {

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/coffer-cli-tokens-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/nested/coffer";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  StoredTokens Sample() {
    StoredTokens t;
    t.identity_addr = "127.0.0.1:7000";
    t.login = "alice";
    t.access_token = "access";
    t.refresh_token = "refresh";
    t.access_expires_at = 1000;
    t.refresh_expires_at = 2000;
    t.scope = "vault";
    return t;
  }

  std::string root_;
  std::string dir_;
};

TEST_F(TokenStoreTest, MissingFileMeansLoggedOut) {
  auto loaded = TokenStore(dir_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->has_value());
}

TEST_F(TokenStoreTest, SaveCreatesPrivateDirAndFileAndRoundTrips) {
  TokenStore store(dir_);
  ::umask(022);
  ASSERT_TRUE(store.Save(Sample()).ok());
  EXPECT_EQ(ModeOf(dir_), 0700u);
  EXPECT_EQ(ModeOf(store.path()), 0600u);
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->login, "alice");
  EXPECT_EQ((*loaded)->access_token, "access");
  EXPECT_EQ((*loaded)->refresh_token, "refresh");
  EXPECT_EQ((*loaded)->access_expires_at, 1000);
  EXPECT_EQ((*loaded)->refresh_expires_at, 2000);
  EXPECT_EQ((*loaded)->identity_addr, "127.0.0.1:7000");
  EXPECT_EQ((*loaded)->scope, "vault");
}

TEST_F(TokenStoreTest, SaveTightensAnExistingOpenDirectory) {
  std::filesystem::create_directories(dir_);
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  ASSERT_TRUE(TokenStore(dir_).Save(Sample()).ok());
  EXPECT_EQ(ModeOf(dir_), 0700u);
}

TEST_F(TokenStoreTest, SaveReplacesAndKeepsMode) {
  TokenStore store(dir_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  StoredTokens next = Sample();
  next.access_token = "rotated";
  ASSERT_TRUE(store.Save(next).ok());
  EXPECT_EQ(ModeOf(store.path()), 0600u);
  EXPECT_EQ((*store.Load())->access_token, "rotated");
  // No temporary files left behind.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST_F(TokenStoreTest, RefusesFileReadableByOthers) {
  TokenStore store(dir_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  ASSERT_EQ(::chmod(store.path().c_str(), 0644), 0);
  auto loaded = store.Load();
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(std::string(loaded.status().message()).find("chmod 600"), std::string::npos)
      << loaded.status();
  ASSERT_EQ(::chmod(store.path().c_str(), 0640), 0);
  EXPECT_EQ(store.Load().status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(TokenStoreTest, CorruptFileIsInvalidArgument) {
  TokenStore store(dir_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  ASSERT_TRUE(WritePrivateFile(store.path(), "garbage").ok());
  EXPECT_EQ(store.Load().status().code(), absl::StatusCode::kInvalidArgument);
}

// Found by tests/fuzz/cli_files (regress-tokens-wrong-type, regress-tokens-expiry-float):
// json.value() threw on a member of another type, so a hand-edited or truncated-then-merged
// tokens.json ended every command with an uncaught exception; a huge float expiry was an
// out-of-range float-to-int conversion.
TEST_F(TokenStoreTest, WrongMemberTypesAreInvalidArgumentNamingTheField) {
  TokenStore store(dir_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  struct Case {
    std::string text;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"access_token":"secret-a","login":5})", "\"login\" is not a string"},
           {R"({"access_token":"secret-a","scope":null})", "\"scope\" is not a string"},
           {R"({"access_token":"secret-a","refresh_token":["secret-r"]})",
            "\"refresh_token\" is not a string"},
           {R"({"access_token":"secret-a","access_expires_at":"1700000000"})",
            "\"access_expires_at\" is not an integer"},
           {R"({"access_token":"secret-a","access_expires_at":1.5e300})",
            "\"access_expires_at\" is not an integer"},
           {R"({"access_token":"secret-a","refresh_expires_at":18446744073709551615})",
            "\"refresh_expires_at\" is not an integer"}}) {
    ASSERT_TRUE(WritePrivateFile(store.path(), c.text).ok());
    auto loaded = store.Load();
    ASSERT_FALSE(loaded.ok()) << c.text;
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    const std::string message(loaded.status().message());
    EXPECT_NE(message.find(store.path()), std::string::npos) << message;
    EXPECT_NE(message.find(c.want), std::string::npos) << message;
    EXPECT_EQ(message.find("secret"), std::string::npos) << message;
  }
  // Integers of any sign in range still load; unknown members are ignored.
  auto parsed = ParseTokens(
      R"({"access_token":"a","access_expires_at":-5,"refresh_expires_at":9223372036854775807,"x":1})",
      "tokens.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->access_expires_at, -5);
  EXPECT_EQ(parsed->refresh_expires_at, INT64_MAX);
  auto again = ParseTokens(SerializeTokens(*parsed), "tokens.json");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *parsed);
}

TEST_F(TokenStoreTest, ClearRemovesSessionAndIsIdempotent) {
  TokenStore store(dir_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  ASSERT_TRUE(store.Clear().ok());
  EXPECT_FALSE(store.Load()->has_value());
  EXPECT_TRUE(store.Clear().ok());
}

}  // namespace
}  // namespace coffer::cli
