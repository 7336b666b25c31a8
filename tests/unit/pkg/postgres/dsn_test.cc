#include "pkg/postgres/dsn.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace coffer::postgres {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(WithConnParamTest, AddsToKeywordValueDsnUnlessSet) {
  EXPECT_EQ(WithConnParam("host=h dbname=d", "connect_timeout", "5"),
            "host=h dbname=d connect_timeout=5");
  EXPECT_EQ(WithConnParam("host=h connect_timeout = 9", "connect_timeout", "5"),
            "host=h connect_timeout = 9");
  EXPECT_EQ(WithConnParam("", "connect_timeout", "5"), "connect_timeout=5");
}

TEST(WithConnParamTest, AddsToUriDsnUnlessSet) {
  EXPECT_EQ(WithConnParam("postgresql://h/d", "connect_timeout", "5"),
            "postgresql://h/d?connect_timeout=5");
  EXPECT_EQ(WithConnParam("postgres://h/d?sslmode=disable", "connect_timeout", "5"),
            "postgres://h/d?sslmode=disable&connect_timeout=5");
  EXPECT_EQ(WithConnParam("postgresql://h/d?connect_timeout=2", "connect_timeout", "5"),
            "postgresql://h/d?connect_timeout=2");
}

TEST(RedactDsnTest, HidesPasswords) {
  EXPECT_EQ(RedactDsn("host=h password=hunter2 dbname=d"), "host=h password=*** dbname=d");
  EXPECT_THAT(RedactDsn("host=h password='a b\\' c' dbname=d"), Not(HasSubstr("a b")));
  EXPECT_EQ(RedactDsn("postgresql://u:hunter2@h:5432/d"), "postgresql://u:***@h:5432/d");
  EXPECT_EQ(RedactDsn("postgresql://u@h/d?password=hunter2&x=1"),
            "postgresql://u@h/d?password=***&x=1");
  EXPECT_EQ(RedactDsn("host=h dbname=d"), "host=h dbname=d");
}

}  // namespace
}  // namespace coffer::postgres
