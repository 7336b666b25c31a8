#include "services/vault/domain/otp.h"

#include <gtest/gtest.h>

namespace coffer::vault::domain {
namespace {

TEST(Base32Test, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "MY"},
      {"fo", "MZXQ"},
      {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"},
      {"fooba", "MZXW6YTB"},
      {"foobar", "MZXW6YTBOI"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base32Encode(plain), encoded);
    auto decoded = Base32Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base32Test, AcceptsLowerCaseSpacesAndPadding) {
  auto decoded = Base32Decode("mzxw 6ytb oi======");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, "foobar");
}

TEST(Base32Test, RejectsBadCharactersAndTruncation) {
  EXPECT_FALSE(Base32Decode("MZXW1").ok());  // '1' is not in the alphabet
  EXPECT_FALSE(Base32Decode("MZX!").ok());
  EXPECT_FALSE(Base32Decode("M").ok());    // 5 bits: no whole byte
  EXPECT_FALSE(Base32Decode("MZX").ok());  // 15 bits: 7 dangling
}

TEST(HotpTest, Rfc4226AppendixD) {
  const std::string key = "12345678901234567890";
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (uint64_t counter = 0; counter < 10; ++counter) {
    EXPECT_EQ(Hotp(key, counter, 6, OtpAlgorithm::kSha1), expected[counter]) << counter;
  }
}

TEST(TotpTest, Rfc6238AppendixB) {
  const std::string sha1_key = "12345678901234567890";
  const std::string sha256_key = "12345678901234567890123456789012";
  const std::string sha512_key = "1234567890123456789012345678901234567890123456789012345678901234";
  struct Vector {
    int64_t time;
    const char* sha1;
    const char* sha256;
    const char* sha512;
  };
  const Vector vectors[] = {
      {59, "94287082", "46119246", "90693936"},
      {1111111109, "07081804", "68084774", "25091201"},
      {1111111111, "14050471", "67062674", "99943326"},
      {1234567890, "89005924", "91819424", "93441116"},
      {2000000000, "69279037", "90698825", "38618901"},
      {20000000000, "65353130", "77737706", "47863826"},
  };
  for (const Vector& v : vectors) {
    EXPECT_EQ(Totp(sha1_key, v.time, 30, 8, OtpAlgorithm::kSha1), v.sha1) << v.time;
    EXPECT_EQ(Totp(sha256_key, v.time, 30, 8, OtpAlgorithm::kSha256), v.sha256) << v.time;
    EXPECT_EQ(Totp(sha512_key, v.time, 30, 8, OtpAlgorithm::kSha512), v.sha512) << v.time;
  }
}

TEST(CurrentOtpCodeTest, TotpFromBase32SecretWithValidity) {
  OtpPayload p;
  p.kind = OtpKind::kTotp;
  p.secret = Base32Encode("12345678901234567890");
  p.digits = 8;
  p.period_seconds = 30;
  auto code = CurrentOtpCode(p, 59);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(code->code, "94287082");
  EXPECT_EQ(code->valid_until_unix, 60);
}

TEST(CurrentOtpCodeTest, HotpUsesCounter) {
  OtpPayload p;
  p.kind = OtpKind::kHotp;
  p.secret = Base32Encode("12345678901234567890");
  p.digits = 6;
  p.counter = 3;
  auto code = CurrentOtpCode(p, 123);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(code->code, "969429");
  EXPECT_EQ(code->valid_until_unix, 0);
}

TEST(CurrentOtpCodeTest, BadStoredSecretIsAnError) {
  OtpPayload p;
  p.secret = "!!!";
  EXPECT_EQ(CurrentOtpCode(p, 0).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace coffer::vault::domain
