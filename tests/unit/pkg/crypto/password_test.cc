#include "pkg/crypto/password.h"

#include <gtest/gtest.h>

namespace coffer::crypto {
namespace {

// Small parameters keep the test fast; production uses the defaults.
const PasswordHashParams kFast{.ops_limit = 1, .mem_limit = 8 * 1024};
const PasswordHashParams kStronger{.ops_limit = 2, .mem_limit = 16 * 1024};

TEST(PasswordTest, HashAndVerify) {
  auto hash = HashPassword("correct horse", kFast);
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=8,t=1,p=1$", 0), 0u) << *hash;
  EXPECT_TRUE(VerifyPassword(*hash, "correct horse"));
  EXPECT_FALSE(VerifyPassword(*hash, "correct horsE"));
  EXPECT_FALSE(VerifyPassword(*hash, ""));
  EXPECT_FALSE(VerifyPassword("not a hash", "correct horse"));
  EXPECT_FALSE(VerifyPassword("", ""));
}

TEST(PasswordTest, SaltIsRandom) {
  auto a = HashPassword("pw", kFast);
  auto b = HashPassword("pw", kFast);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(VerifyPassword(*a, "pw"));
  EXPECT_TRUE(VerifyPassword(*b, "pw"));
}

TEST(PasswordTest, NeedsRehashWhenParamsChange) {
  auto hash = HashPassword("pw", kFast);
  ASSERT_TRUE(hash.ok());
  EXPECT_FALSE(NeedsRehash(*hash, kFast));
  EXPECT_TRUE(NeedsRehash(*hash, kStronger));
  EXPECT_TRUE(NeedsRehash("garbage", kFast));
  // Raising the cost: the old hash still verifies, the new one no longer needs a rehash.
  auto upgraded = HashPassword("pw", kStronger);
  ASSERT_TRUE(upgraded.ok());
  EXPECT_TRUE(VerifyPassword(*hash, "pw"));
  EXPECT_FALSE(NeedsRehash(*upgraded, kStronger));
}

TEST(PasswordTest, RejectsOutOfRangeParams) {
  EXPECT_EQ(HashPassword("pw", {.ops_limit = 0, .mem_limit = 8 * 1024}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HashPassword("pw", {.ops_limit = 1, .mem_limit = 1024}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::crypto
