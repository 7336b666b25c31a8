#include "services/vault/domain/validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/vault/domain/otp.h"

namespace coffer::vault::domain {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

RecordContent Content(Payload p) {
  RecordContent c;
  c.name = "n";
  c.payload = std::move(p);
  return c;
}

// Expects INVALID_ARGUMENT whose message starts with `field`.
void ExpectFieldError(RecordContent c, const std::string& field) {
  absl::Status s = ValidateAndNormalize(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
  EXPECT_THAT(std::string(s.message()), StartsWith(field + ":"));
}

TEST(LuhnTest, KnownNumbers) {
  EXPECT_TRUE(LuhnValid("4111111111111111"));
  EXPECT_TRUE(LuhnValid("5555555555554444"));
  EXPECT_TRUE(LuhnValid("378282246310005"));
  EXPECT_FALSE(LuhnValid("4111111111111112"));
  EXPECT_FALSE(LuhnValid("41111111x1111111"));
  EXPECT_FALSE(LuhnValid(""));
}

TEST(IsinTest, CheckDigit) {
  EXPECT_TRUE(IsinValid("US0378331005"));  // Apple
  EXPECT_TRUE(IsinValid("DE000BAY0017"));  // Bayer
  EXPECT_TRUE(IsinValid("GB0002634946"));  // BAE Systems
  EXPECT_FALSE(IsinValid("US0378331006"));
  EXPECT_FALSE(IsinValid("US037833100"));
  EXPECT_FALSE(IsinValid("1S0378331005"));
  EXPECT_FALSE(IsinValid("US03783310O5"));
}

TEST(UuidTest, Format) {
  EXPECT_TRUE(IsUuid("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_TRUE(IsUuid("123E4567-E89B-12D3-A456-426614174000"));
  EXPECT_FALSE(IsUuid("123e4567e89b12d3a456426614174000"));
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-42661417400g"));
}

TEST(ValidateTest, NameAndMetadataLimitsNameTheField) {
  RecordContent c = Content(TextPayload{"x"});
  c.name = "";
  ExpectFieldError(c, "name");
  c.name = std::string(Limits::kMaxName + 1, 'a');
  ExpectFieldError(c, "name");
  c.name = "bad\x01";
  ExpectFieldError(c, "name");
  c.name = std::string("\xc3\x28", 2);  // invalid UTF-8
  ExpectFieldError(c, "name");
  c.name = "ok é";
  EXPECT_TRUE(ValidateAndNormalize(c).ok());

  for (size_t i = 0; i <= Limits::kMaxMetadataEntries; ++i)
    c.metadata["k" + std::to_string(i)] = "";
  ExpectFieldError(c, "metadata");
  c.metadata = {{"", "v"}};
  ExpectFieldError(c, "metadata");
  c.metadata = {{"site", std::string(Limits::kMaxMetadataValue + 1, 'v')}};
  ExpectFieldError(c, "metadata[site]");
}

TEST(ValidateTest, CardNormalizesAndChecks) {
  RecordContent c = Content(CardPayload{"4111 1111-1111 1111", "Jane", 7, 31, "123", "B"});
  ASSERT_TRUE(ValidateAndNormalize(c).ok());
  const auto& card = std::get<CardPayload>(c.payload);
  EXPECT_EQ(card.number, "4111111111111111");
  EXPECT_EQ(card.expiry_year, 2031);

  ExpectFieldError(Content(CardPayload{"4111111111111112", "", 1, 2030, "", ""}), "card.number");
  ExpectFieldError(Content(CardPayload{"4111", "", 1, 2030, "", ""}), "card.number");
  ExpectFieldError(Content(CardPayload{"4111111111111111", "", 13, 2030, "", ""}),
                   "card.expiry_month");
  ExpectFieldError(Content(CardPayload{"4111111111111111", "", -1, 2030, "", ""}),
                   "card.expiry_month");
  RecordContent unknown_expiry = Content(CardPayload{"4111111111111111", "", 0, 0, "", ""});
  EXPECT_TRUE(ValidateAndNormalize(unknown_expiry).ok());
  ExpectFieldError(Content(CardPayload{"4111111111111111", "", 1, 1999, "", ""}),
                   "card.expiry_year");
  ExpectFieldError(Content(CardPayload{"4111111111111111", "", 1, 2030, "12", ""}), "card.cvv");
  ExpectFieldError(Content(CardPayload{"4111111111111111", "", 1, 2030, "12a", ""}), "card.cvv");
}

TEST(ValidateTest, OtpNormalizesSecretAndAppliesDefaults) {
  OtpPayload p;
  p.secret = "jbsw y3dp ehpk 3pxp";
  p.digits = 0;
  p.period_seconds = 0;
  RecordContent c = Content(p);
  ASSERT_TRUE(ValidateAndNormalize(c).ok());
  const auto& otp = std::get<OtpPayload>(c.payload);
  EXPECT_EQ(otp.secret, "JBSWY3DPEHPK3PXP");
  EXPECT_EQ(otp.digits, 6);
  EXPECT_EQ(otp.period_seconds, 30);
}

TEST(ValidateTest, OtpRejectsBadParameters) {
  OtpPayload good;
  good.secret = Base32Encode("12345678901234567890");
  OtpPayload p = good;
  p.secret = "not base32!";
  ExpectFieldError(Content(p), "otp.secret_base32");
  p.secret = "MZXW6";  // decodes to 3 bytes: too short
  ExpectFieldError(Content(p), "otp.secret_base32");
  p = good;
  p.digits = 9;
  ExpectFieldError(Content(p), "otp.digits");
  p = good;
  p.period_seconds = 301;
  ExpectFieldError(Content(p), "otp.period_seconds");
  p = good;
  p.algorithm = static_cast<OtpAlgorithm>(9);
  ExpectFieldError(Content(p), "otp.algorithm");
  p = good;
  p.kind = static_cast<OtpKind>(0);
  ExpectFieldError(Content(p), "otp.kind");
  p = good;
  p.counter = 5;  // TOTP has no counter
  ExpectFieldError(Content(p), "otp.counter");
  p.kind = OtpKind::kHotp;
  RecordContent hotp = Content(p);
  EXPECT_TRUE(ValidateAndNormalize(hotp).ok());  // HOTP with a counter is fine
  EXPECT_EQ(std::get<OtpPayload>(hotp.payload).period_seconds, 0);
}

TEST(ValidateTest, InstrumentIsinAndCurrency) {
  RecordContent ok = Content(InstrumentPayload{"us0378331005", "AAPL", "XNAS", "USD", "", ""});
  ASSERT_TRUE(ValidateAndNormalize(ok).ok());
  EXPECT_EQ(std::get<InstrumentPayload>(ok.payload).isin, "US0378331005");
  ExpectFieldError(Content(InstrumentPayload{"US0378331006", "", "", "", "", ""}),
                   "instrument.isin");
  ExpectFieldError(Content(InstrumentPayload{"", "", "", "", "", ""}), "instrument.isin");
  ExpectFieldError(Content(InstrumentPayload{"", "AAPL", "", "usd", "", ""}),
                   "instrument.currency");
  RecordContent ticker_only = Content(InstrumentPayload{"", "AAPL", "", "", "", ""});
  EXPECT_TRUE(ValidateAndNormalize(ticker_only).ok());
}

TEST(ValidateTest, FileAndSealedAndLongText) {
  ExpectFieldError(Content(FilePayload{"", 1, "", "", ""}), "file.file_name");
  ExpectFieldError(Content(FilePayload{"", 1, "xyz", "", "a"}), "file.sha256_hex");
  ExpectFieldError(Content(FilePayload{"", Limits::kMaxFileSize + 1, "", "", "a"}),
                   "file.size_bytes");
  RecordContent f = Content(FilePayload{"", 1, std::string(64, 'A'), "text/plain", "a"});
  ASSERT_TRUE(ValidateAndNormalize(f).ok());
  EXPECT_EQ(std::get<FilePayload>(f.payload).sha256_hex, std::string(64, 'a'));

  ExpectFieldError(Content(SealedPayload{"", "", ""}), "sealed.ciphertext");
  ExpectFieldError(Content(SealedPayload{std::string(Limits::kMaxBody + 1, 'x'), "", ""}),
                   "sealed.ciphertext");
  ExpectFieldError(Content(TextPayload{std::string(Limits::kMaxBody + 1, 'x')}), "text.text");
  ExpectFieldError(Content(CredentialPayload{std::string(Limits::kMaxLogin + 1, 'x'), "", "", ""}),
                   "credential.login");
  RecordContent prefixed = Content(TextPayload{"x"});
  prefixed.name = "";
  EXPECT_EQ(std::string(ValidateAndNormalize(prefixed, "record.").message()),
            "record.name: required");
  absl::Status s = FieldError("record.id", "not a UUID");
  EXPECT_THAT(std::string(s.message()), HasSubstr("record.id: not a UUID"));
}

// Found by tests/fuzz/record_validation (corpus regress-overlong-utf8): the UTF-8 check took any
// lead byte with the right number of continuation bytes, so overlong forms, surrogates and code
// points beyond U+10FFFF passed, which the JSON encoding of metadata and payloads (nlohmann
// throws), PostgreSQL and protobuf all refuse.
TEST(Utf8Test, AcceptsWellFormedTextOnly) {
  for (const std::string& good :
       {std::string(""), std::string("plain"), std::string("\xc3\xa4\xe2\x82\xac"),
        std::string("\xf0\x9f\x94\x91"), std::string("\xed\x9f\xbf"),  // U+D7FF
        std::string("\xee\x80\x80"), std::string("\xf4\x8f\xbf\xbf"),  // U+E000, U+10FFFF
        std::string("\0", 1)}) {
    EXPECT_TRUE(ValidUtf8(good)) << good;
  }
  for (const std::string& bad :
       {std::string("\xc0\x80"), std::string("\xc1\xbf"), std::string("\xe0\x80\x80"),
        std::string("\xe0\x9f\xbf"), std::string("\xf0\x80\x80\x80"),
        std::string("\xf0\x8f\xbf\xbf"),                           // overlong
        std::string("\xed\xa0\x80"), std::string("\xed\xbf\xbf"),  // surrogates
        std::string("\xf4\x90\x80\x80"), std::string("\xf5\x80\x80\x80"),
        std::string("\xff"),                                                    // > U+10FFFF
        std::string("\x80"), std::string("\xe2\x82"), std::string("a\xc3")}) {  // cut
    EXPECT_FALSE(ValidUtf8(bad)) << bad;
  }
  RecordContent c = Content(TextPayload{"\xe0\x80\x80 text"});
  ExpectFieldError(c, "text.text");
  c = Content(TextPayload{"t"});
  c.metadata["k"] = "\xed\xa0\x80";
  ExpectFieldError(c, "metadata[k]");
}

}  // namespace
}  // namespace coffer::vault::domain
