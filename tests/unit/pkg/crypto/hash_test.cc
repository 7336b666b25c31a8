#include "pkg/crypto/hash.h"

#include <gtest/gtest.h>

#include "pkg/crypto/encoding.h"

namespace coffer::crypto {
namespace {

std::string Unhex(std::string_view hex) { return *HexDecode(hex); }

TEST(HashTest, Sha256KnownAnswers) {
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashTest, Sha256StreamEqualsOneShotForAnySplit) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>(i * 131 % 251));
  for (size_t piece : {size_t{1}, size_t{63}, size_t{64}, size_t{4096}, data.size()}) {
    Sha256Stream s;
    for (size_t at = 0; at < data.size(); at += piece) {
      s.Update(std::string_view(data).substr(at, piece));
    }
    EXPECT_EQ(HexEncode(s.Finish()), HexEncode(Sha256(data))) << "pieces of " << piece;
  }
  Sha256Stream abc;
  abc.Update("a");
  abc.Update("");
  abc.Update("bc");
  EXPECT_EQ(HexEncode(abc.Finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Stream empty;
  EXPECT_EQ(HexEncode(empty.Finish()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// RFC 4231 §4.2 (test case 1) and §4.3 (test case 2).
TEST(HashTest, HmacSha256Rfc4231) {
  EXPECT_EQ(HexEncode(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// RFC 5869 Appendix A.1 (test case 1) and A.3 (test case 3: empty salt and info).
TEST(HashTest, HkdfSha256Rfc5869) {
  auto okm = HkdfSha256(std::string(22, '\x0b'), Unhex("000102030405060708090a0b0c"),
                        Unhex("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(HexEncode(*okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");

  okm = HkdfSha256(std::string(22, '\x0b'), "", "", 42);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(HexEncode(*okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(HashTest, HkdfRejectsBadLengths) {
  EXPECT_EQ(HkdfSha256("ikm", "", "", 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256("ikm", "", "", 255 * 32 + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(HkdfSha256("ikm", "", "", 255 * 32).ok());
}

TEST(HashTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace coffer::crypto
