#include "services/vault/domain/record.h"

#include <gtest/gtest.h>

namespace coffer::vault::domain {
namespace {

TEST(RecordTypeTest, NamesRoundTrip) {
  for (int t = 1; t <= 7; ++t) {
    auto type = static_cast<RecordType>(t);
    auto parsed = RecordTypeFromName(RecordTypeName(type));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, type);
  }
  EXPECT_FALSE(RecordTypeFromName("bogus").has_value());
  EXPECT_EQ(TypeOf(Payload{CardPayload{}}), RecordType::kCard);
  EXPECT_EQ(TypeOf(Payload{SealedPayload{}}), RecordType::kSealed);
}

TEST(RecordCodecTest, EveryPayloadTypeRoundTrips) {
  std::string binary("\x00\x01\xff\xfe\x80", 5);
  const Payload payloads[] = {
      CredentialPayload{"alice", "s3cret", "https://x", "notes"},
      TextPayload{"hello\nworld"},
      CardPayload{"4111111111111111", "A B", 12, 2030, "123", "Bank"},
      OtpPayload{OtpKind::kHotp, "JBSWY3DPEHPK3PXP", OtpAlgorithm::kSha512, 8, 0, 42, "I", "a"},
      InstrumentPayload{"US0378331005", "AAPL", "XNAS", "USD", "stock", "n"},
      FilePayload{"blob", 1234, std::string(64, 'a'), "text/plain", "a.txt"},
      SealedPayload{binary, "k1", "xchacha20poly1305"},
      SealedPayload{"ab", "", ""},
      SealedPayload{"abc", "", ""},
  };
  for (const Payload& p : payloads) {
    auto decoded = DecodePayload(TypeOf(p), EncodePayload(p));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, p);
  }
}

TEST(RecordCodecTest, MetadataRoundTripsAndRejectsGarbage) {
  std::map<std::string, std::string> m = {{"site", "example.com"}, {"codes", "1,2,3"}};
  auto decoded = DecodeMetadata(EncodeMetadata(m));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, m);
  EXPECT_EQ(DecodeMetadata("[").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeMetadata(R"({"a":1})").status().code(), absl::StatusCode::kDataLoss);
}

TEST(MatchesSearchTest, CaseInsensitiveOverNameMetadataAndNonSecretFields) {
  RecordContent c;
  c.name = "My Bank Login";
  c.metadata = {{"site", "Example.COM"}};
  c.payload = CredentialPayload{"alice@example.org", "Hunter2", "https://bank.example", "pin 1234"};
  EXPECT_TRUE(MatchesSearch(c, "bank login"));
  EXPECT_TRUE(MatchesSearch(c, "example.com"));
  EXPECT_TRUE(MatchesSearch(c, "SITE"));
  EXPECT_TRUE(MatchesSearch(c, "ALICE@"));
  EXPECT_TRUE(MatchesSearch(c, "bank.example"));
  EXPECT_FALSE(MatchesSearch(c, "hunter2"));   // passwords are never searched
  EXPECT_FALSE(MatchesSearch(c, "pin 1234"));  // nor notes
  EXPECT_FALSE(MatchesSearch(c, "nothing"));

  RecordContent card;
  card.name = "visa";
  card.payload = CardPayload{"4111111111111111", "Jane Doe", 1, 2030, "999", "ACME Bank"};
  EXPECT_TRUE(MatchesSearch(card, "jane"));
  EXPECT_TRUE(MatchesSearch(card, "acme"));
  EXPECT_FALSE(MatchesSearch(card, "4111"));
  EXPECT_FALSE(MatchesSearch(card, "999"));
}

}  // namespace
}  // namespace coffer::vault::domain
