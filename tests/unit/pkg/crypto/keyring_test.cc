#include "pkg/crypto/keyring.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "pkg/crypto/aead.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"
#include "pkg/crypto/random.h"

namespace coffer::crypto {
namespace {

using ::testing::HasSubstr;

std::string Entry(const std::string& kid, const std::string& key) {
  return kid + ":" + Base64Encode(key);
}

TEST(KeyringTest, ParsesSpecAndPicksFirstAsPrimary) {
  auto ring = Keyring::Parse(" " + Entry("k2", RandomBytes(32)) + " ,\n" +
                             Entry("k1", RandomBytes(32)) + "\n");
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ(ring->primary_kid(), "k2");
  EXPECT_EQ(ring->kids(), (std::vector<std::string>{"k1", "k2"}));
  EXPECT_TRUE(ring->Contains("k1"));
  EXPECT_FALSE(ring->Contains("k3"));
}

TEST(KeyringTest, ExplicitPrimaryAndBase64Url) {
  auto ring = Keyring::Parse("k1:" + Base64UrlEncode(RandomBytes(32)) +
                             ",k2:" + Base64Encode(RandomBytes(32)) + ",primary=k2");
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ(ring->primary_kid(), "k2");
}

TEST(KeyringTest, ValidationErrorsAreClear) {
  const std::string good = Entry("k1", RandomBytes(32));
  struct Case {
    std::string spec;
    std::string message;
  };
  const Case kCases[] = {
      {"", "no keys"},
      {"k1", "is not <kid>:<base64 key>"},
      {"k1:@@@@", "'k1' is not valid base64"},
      {Entry("k1", RandomBytes(16)), "'k1' must be 32 bytes, got 16"},
      {good + "," + Entry("k1", RandomBytes(32)), "duplicate key id 'k1'"},
      {good + ",primary=k9", "'k9' is not listed"},
      {good + ",", "empty entry"},
      {Entry("bad kid!", RandomBytes(32)), "key id must be"},
  };
  for (const auto& c : kCases) {
    auto ring = Keyring::Parse(c.spec);
    ASSERT_FALSE(ring.ok()) << c.spec;
    EXPECT_EQ(ring.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(ring.status().message()), HasSubstr(c.message));
  }
}

TEST(KeyringTest, ErrorsNeverContainKeyMaterial) {
  const std::string encoded = Base64Encode(RandomBytes(31));
  auto ring = Keyring::Parse("k1:" + encoded);
  ASSERT_FALSE(ring.ok());
  EXPECT_EQ(std::string(ring.status().message()).find(encoded), std::string::npos);
}

// DeriveKey's one-HMAC expand is exactly HKDF-SHA-256 of the KEK (the keyring keeps only the
// extracted key), so envelopes sealed by earlier versions stay readable.
TEST(KeyringTest, DeriveKeyIsHkdfOfTheKek) {
  const std::string kek(32, '\x5a');
  auto ring = Keyring::Parse("k1:" + Base64Encode(kek));
  ASSERT_TRUE(ring.ok()) << ring.status();
  for (const std::string info : {"", "space:0b3d7b5e-8c8e-4d7a-9a39-d3a8f1d0c001", "x"}) {
    auto derived = ring->DeriveKey("k1", info);
    ASSERT_TRUE(derived.ok()) << derived.status();
    auto expected = HkdfSha256(kek, "coffer.keyring.v1", info, 32);
    ASSERT_TRUE(expected.ok()) << expected.status();
    EXPECT_EQ(*derived, *expected) << "info=" << info;
  }
}

// Past the cache's bound it is emptied and refilled: derivations stay correct either way.
TEST(KeyringTest, DeriveKeyStaysCorrectPastTheCacheBound) {
  const std::string kek(32, '\x11');
  auto ring = Keyring::Parse("k1:" + Base64Encode(kek));
  ASSERT_TRUE(ring.ok()) << ring.status();
  for (size_t round = 0; round < 2; ++round) {
    for (size_t i = 0; i < kDerivedCacheSize + 10; i += 97) {
      const std::string info = "space:" + std::to_string(i);
      auto derived = ring->DeriveKey("k1", info);
      ASSERT_TRUE(derived.ok()) << derived.status();
      EXPECT_EQ(*derived, *HkdfSha256(kek, "coffer.keyring.v1", info, 32)) << info;
    }
    for (size_t i = 0; i < kDerivedCacheSize + 10; ++i) {
      ASSERT_TRUE(ring->DeriveKey("k1", "fill:" + std::to_string(i)).ok());
    }
  }
  // A copy shares the derived keys and still answers alike.
  Keyring copy = *ring;
  EXPECT_EQ(*copy.DeriveKey("k1", "space:0"), *ring->DeriveKey("k1", "space:0"));
}

TEST(KeyringTest, DeriveKeyIsDeterministicAndContextSeparated) {
  auto ring = Keyring::Parse(Entry("k1", RandomBytes(32)) + "," + Entry("k2", RandomBytes(32)));
  ASSERT_TRUE(ring.ok());
  auto a = ring->DeriveKey("k1", "space:a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(*a, *ring->DeriveKey("k1", "space:a"));
  EXPECT_NE(*a, *ring->DeriveKey("k1", "space:b"));
  EXPECT_NE(*a, *ring->DeriveKey("k2", "space:a"));
  EXPECT_EQ(ring->DeriveKey("k9", "space:a").status().code(), absl::StatusCode::kNotFound);
}

TEST(KeyringTest, EnvelopeRoundTripAndBinding) {
  auto ring = Keyring::Parse(Entry("k1", RandomBytes(32)));
  ASSERT_TRUE(ring.ok());
  auto env = SealWithKeyring(*ring, "space:a", "payload", "rec|1");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(*EnvelopeKid(*env), "k1");
  EXPECT_EQ(*OpenWithKeyring(*ring, "space:a", *env, "rec|1"), "payload");
  EXPECT_EQ(OpenWithKeyring(*ring, "space:b", *env, "rec|1").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(OpenWithKeyring(*ring, "space:a", *env, "rec|2").status().code(),
            absl::StatusCode::kDataLoss);
  std::string tampered = *env;
  tampered.back() = static_cast<char>(tampered.back() ^ 1);
  EXPECT_EQ(OpenWithKeyring(*ring, "space:a", tampered, "rec|1").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(OpenWithKeyring(*ring, "space:a", "garbage", "rec|1").status().code(),
            absl::StatusCode::kDataLoss);
}

// Equivalent to Seal(DeriveKey(primary, context), ...) with the header as aad prefix: callers
// can cache derived per-space keys without breaking compatibility.
TEST(KeyringTest, EnvelopeMatchesDocumentedFormat) {
  auto ring = Keyring::Parse(Entry("kek-7", RandomBytes(32)));
  ASSERT_TRUE(ring.ok());
  const std::string env = *SealWithKeyring(*ring, "ctx", "pt", "aad");
  const std::string header = std::string("\x01\x05", 2) + "kek-7";
  ASSERT_EQ(env.substr(0, header.size()), header);
  auto opened = Open(*ring->DeriveKey("kek-7", "ctx"), env.substr(header.size()), header + "aad");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "pt");
}

TEST(KeyringTest, RotationKeepsOldCiphertextReadable) {
  const std::string k1 = Entry("k1", RandomBytes(32));
  const std::string k2 = Entry("k2", RandomBytes(32));
  auto old_ring = Keyring::Parse(k1);
  ASSERT_TRUE(old_ring.ok());
  const std::string old_env = *SealWithKeyring(*old_ring, "space:a", "old data", "");

  // Rotate: k2 becomes primary, k1 stays listed for reading.
  auto new_ring = Keyring::Parse(k2 + "," + k1);
  ASSERT_TRUE(new_ring.ok());
  const std::string new_env = *SealWithKeyring(*new_ring, "space:a", "new data", "");
  EXPECT_EQ(*EnvelopeKid(new_env), "k2");
  EXPECT_EQ(*OpenWithKeyring(*new_ring, "space:a", old_env, ""), "old data");
  EXPECT_EQ(*OpenWithKeyring(*new_ring, "space:a", new_env, ""), "new data");

  // Dropping k1 too early is reported as a configuration problem, not as corruption.
  auto only_k2 = Keyring::Parse(k2);
  ASSERT_TRUE(only_k2.ok());
  auto lost = OpenWithKeyring(*only_k2, "space:a", old_env, "");
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(lost.status().message()), HasSubstr("'k1'"));
}

TEST(KeyringTest, LoadFile) {
  const std::string path = ::testing::TempDir() + "/keyring_test_spec";
  {
    std::ofstream out(path);
    out << Entry("file-key", RandomBytes(32)) << "\n";
  }
  auto ring = Keyring::LoadFile(path);
  std::remove(path.c_str());
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ(ring->primary_kid(), "file-key");
  EXPECT_EQ(Keyring::LoadFile(path).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace coffer::crypto
