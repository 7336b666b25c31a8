#include "pkg/crypto/encoding.h"

#include <gtest/gtest.h>

#include "pkg/crypto/random.h"

namespace coffer::crypto {
namespace {

// RFC 4648 §10 test vectors.
TEST(EncodingTest, Base64Rfc4648Vectors) {
  const std::pair<std::string, std::string> kCases[] = {{"", ""},
                                                        {"f", "Zg=="},
                                                        {"fo", "Zm8="},
                                                        {"foo", "Zm9v"},
                                                        {"foob", "Zm9vYg=="},
                                                        {"fooba", "Zm9vYmE="},
                                                        {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : kCases) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(EncodingTest, Base64UrlHasNoPaddingAndUrlAlphabet) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(Base64Encode(bytes), "+/+/");
  EXPECT_EQ(Base64UrlEncode(bytes), "-_-_");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(*Base64UrlDecode("Zg"), "f");
  EXPECT_EQ(*Base64UrlDecode("-_-_"), bytes);
}

TEST(EncodingTest, DecodersAreStrict) {
  EXPECT_EQ(Base64UrlDecode("Zg==").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Base64UrlDecode("+/+/").ok());
  EXPECT_FALSE(Base64UrlDecode("Zg.").ok());
  EXPECT_FALSE(Base64UrlDecode("Zh").ok());  // non-zero trailing bits
  EXPECT_FALSE(Base64Decode("Zg").ok());     // padding required
  EXPECT_FALSE(Base64Decode("-_-_").ok());
  EXPECT_FALSE(Base64Decode("Zm9v\n").ok());
}

// libsodium 1.0.18 decodes bytes >= 0x80 as if they were alphabet characters; a token with such
// a byte would be a second spelling of the same bytes (found by tests/fuzz/jwt).
TEST(EncodingTest, DecodersRejectBytesOutsideAsciiThatLibsodiumWouldMapIntoTheAlphabet) {
  for (const std::string& text : {std::string("ey\x93"
                                              "9"),
                                  std::string("\xff\xff\xff\xff"),
                                  std::string("AQ\xff"
                                              "A"),
                                  std::string("ab\x80"
                                              "d")}) {
    EXPECT_FALSE(Base64UrlDecode(text).ok());
    EXPECT_FALSE(Base64Decode(text).ok());
  }
  EXPECT_FALSE(Base64Decode("ey\x93=").ok());
  EXPECT_FALSE(Base64UrlDecode("eyJ9 ").ok());
  EXPECT_EQ(Base64UrlDecode("eyJ9").value(), "{\"}");
}

TEST(EncodingTest, HexRoundTripAndErrors) {
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(*HexDecode("0001ABff"), std::string("\x00\x01\xab\xff", 4));
  EXPECT_EQ(*HexDecode(""), "");
  EXPECT_EQ(HexDecode("abc").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(HexDecode("zz").ok());
}

TEST(EncodingTest, RandomRoundTrips) {
  for (size_t n = 0; n < 70; ++n) {
    const std::string bytes = RandomBytes(n);
    ASSERT_EQ(bytes.size(), n);
    EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode(bytes)), bytes);
    EXPECT_EQ(*Base64Decode(Base64Encode(bytes)), bytes);
    EXPECT_EQ(*HexDecode(HexEncode(bytes)), bytes);
  }
}

TEST(RandomTest, TokensAreUrlSafeAndDistinct) {
  const std::string a = RandomToken(32);
  const std::string b = RandomToken(32);
  EXPECT_EQ(a.size(), 43u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_EQ(Base64UrlDecode(a)->size(), 32u);
  EXPECT_NE(RandomBytes(16), RandomBytes(16));
}

}  // namespace
}  // namespace coffer::crypto
