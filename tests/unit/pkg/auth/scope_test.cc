#include "pkg/auth/scope.h"

#include <gtest/gtest.h>

namespace coffer::auth {
namespace {

TEST(ScopeTest, ExactMatchOnly) {
  Claims claims;
  claims.scope = {"vault.read", "vault.admin"};
  EXPECT_TRUE(HasScope(claims, "vault.admin"));
  EXPECT_TRUE(HasScope(claims, "vault.read"));
  EXPECT_FALSE(HasScope(claims, "vault.adm"));
  EXPECT_FALSE(HasScope(claims, "vault.admin.write"));
  EXPECT_FALSE(HasScope(claims, ""));
  EXPECT_FALSE(HasScope(Claims{}, "vault.admin"));
}

}  // namespace
}  // namespace coffer::auth
