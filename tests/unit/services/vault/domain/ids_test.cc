#include "services/vault/domain/ids.h"

#include <gtest/gtest.h>

#include "services/vault/domain/validation.h"

namespace coffer::vault::domain {
namespace {

TEST(IdsTest, PersonalSpaceIdIsDeterministicPerSubjectAndVersion5) {
  std::string a = PersonalSpaceId("user-1");
  EXPECT_EQ(a, PersonalSpaceId("user-1"));
  EXPECT_NE(a, PersonalSpaceId("user-2"));
  EXPECT_TRUE(IsUuid(a));
  EXPECT_EQ(a[14], '5');
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');
}

TEST(IdsTest, UuidV4FromBytesSetsVersionAndVariant) {
  std::string id = UuidV4FromBytes(std::string(16, '\xff'));
  EXPECT_EQ(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
  EXPECT_TRUE(IsUuid(id));
}

TEST(IdsTest, CanonicalUuidLowerCases) {
  EXPECT_EQ(CanonicalUuid("ABCDEF00-0000-4000-8000-00000000000A"),
            "abcdef00-0000-4000-8000-00000000000a");
}

}  // namespace
}  // namespace coffer::vault::domain
