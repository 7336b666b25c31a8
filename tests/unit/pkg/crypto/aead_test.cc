#include "pkg/crypto/aead.h"

#include <gtest/gtest.h>

#include "pkg/crypto/encoding.h"
#include "pkg/crypto/random.h"

namespace coffer::crypto {
namespace {

TEST(AeadTest, SealOpenRoundTrip) {
  const std::string key = RandomBytes(32);
  for (const std::string& plaintext : {std::string(), std::string("hello"), RandomBytes(5000)}) {
    auto sealed = Seal(key, plaintext, "space|record|1");
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    EXPECT_EQ(sealed->size(), plaintext.size() + kAeadOverhead);
    auto opened = Open(key, *sealed, "space|record|1");
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, plaintext);
  }
}

// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13 and 14 (AES-256, zero
// key and IV): Open must accept the standard's nonce || ciphertext || tag.
TEST(AeadTest, OpensGcmSpecVectors) {
  const std::string key(32, '\0');
  const std::string nonce(12, '\0');
  auto empty = Open(key, nonce + *HexDecode("530f8afbc74536b9a963b4f1c4cb738b"), "");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, "");
  auto block = Open(key,
                    nonce + *HexDecode("cea7403d4d606b6e074ec5d3baf39d18"
                                       "d0d1c8a799996bf0265b98b5d48ab919"),
                    "");
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_EQ(*block, std::string(16, '\0'));
}

TEST(AeadTest, NonceIsFreshPerSeal) {
  const std::string key = RandomBytes(32);
  auto a = Seal(key, "same", "");
  auto b = Seal(key, "same", "");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->substr(0, kAeadNonceSize), b->substr(0, kAeadNonceSize));
  EXPECT_NE(*a, *b);
}

TEST(AeadTest, EveryTamperedByteIsRejected) {
  const std::string key = RandomBytes(32);
  const std::string sealed = *Seal(key, "secret payload", "aad");
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto opened = Open(key, bad, "aad");
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss) << "byte " << i;
  }
}

TEST(AeadTest, WrongAadWrongKeyAndTruncationAreDataLoss) {
  const std::string key = RandomBytes(32);
  const std::string sealed = *Seal(key, "secret", "space-a|rec|3");
  EXPECT_EQ(Open(key, sealed, "space-b|rec|3").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(key, sealed, "").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(RandomBytes(32), sealed, "space-a|rec|3").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(key, sealed.substr(0, sealed.size() - 1), "space-a|rec|3").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(key, sealed.substr(0, kAeadOverhead - 1), "space-a|rec|3").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(AeadTest, WrongKeySizeIsInvalidArgument) {
  EXPECT_EQ(Seal(RandomBytes(16), "x", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Open(RandomBytes(31), std::string(40, 'x'), "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::crypto
