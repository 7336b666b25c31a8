#include "services/vault/wire/record_type.h"

#include <gtest/gtest.h>

#include <optional>
#include <utility>

namespace coffer::vault::wire {
namespace {

// Each domain type has the wire value of the same name, in both directions.
TEST(RecordTypeWireTest, EveryTypeMapsToItsNamesakeAndBack) {
  const std::pair<domain::RecordType, v1::RecordType> pairs[] = {
      {domain::RecordType::kCredential, v1::RECORD_TYPE_CREDENTIAL},
      {domain::RecordType::kText, v1::RECORD_TYPE_TEXT},
      {domain::RecordType::kCard, v1::RECORD_TYPE_CARD},
      {domain::RecordType::kOtp, v1::RECORD_TYPE_OTP},
      {domain::RecordType::kInstrument, v1::RECORD_TYPE_INSTRUMENT},
      {domain::RecordType::kFile, v1::RECORD_TYPE_FILE},
      {domain::RecordType::kSealed, v1::RECORD_TYPE_SEALED},
  };
  for (const auto& [type, proto] : pairs) {
    EXPECT_EQ(TypeToProto(type), proto) << domain::RecordTypeName(type);
    EXPECT_EQ(TypeFromProto(proto), std::optional<domain::RecordType>(type))
        << v1::RecordType_Name(proto);
  }
}

TEST(RecordTypeWireTest, UnsetAndUnknownValuesHaveNoDomainType) {
  EXPECT_EQ(TypeFromProto(v1::RECORD_TYPE_UNSPECIFIED), std::nullopt);
  EXPECT_EQ(TypeFromProto(static_cast<v1::RecordType>(v1::RECORD_TYPE_SEALED + 1)), std::nullopt);
  EXPECT_EQ(TypeFromProto(static_cast<v1::RecordType>(-1)), std::nullopt);
}

}  // namespace
}  // namespace coffer::vault::wire
