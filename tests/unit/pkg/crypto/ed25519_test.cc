#include "pkg/crypto/ed25519.h"

#include <gtest/gtest.h>

#include "pkg/crypto/encoding.h"

namespace coffer::crypto {
namespace {

// RFC 8032 §7.1, TEST 1 (empty message).
constexpr char kSeedHex[] = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr char kPublicHex[] = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr char kSignatureHex[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
    "46bd25bf5f0595bbe24655141438e7a100b";

TEST(Ed25519Test, Rfc8032Vector1) {
  auto key = Ed25519PrivateKey::FromSeed(*HexDecode(kSeedHex));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(HexEncode(key->PublicKey().Raw()), kPublicHex);
  EXPECT_EQ(HexEncode(key->Sign("")), kSignatureHex);

  auto pub = Ed25519PublicKey::FromRaw(*HexDecode(kPublicHex));
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_TRUE(pub->Verify("", *HexDecode(kSignatureHex)));
  EXPECT_FALSE(pub->Verify("x", *HexDecode(kSignatureHex)));
}

TEST(Ed25519Test, SignVerifyAndRejectTampering) {
  auto key = Ed25519PrivateKey::Generate();
  ASSERT_TRUE(key.ok());
  const Ed25519PublicKey pub = key->PublicKey();
  const std::string sig = key->Sign("message");
  ASSERT_EQ(sig.size(), kEd25519SignatureSize);
  EXPECT_TRUE(pub.Verify("message", sig));
  EXPECT_FALSE(pub.Verify("messagE", sig));
  std::string bad = sig;
  bad[10] = static_cast<char>(bad[10] ^ 0x40);
  EXPECT_FALSE(pub.Verify("message", bad));
  EXPECT_FALSE(pub.Verify("message", sig.substr(0, 63)));
  EXPECT_FALSE(pub.Verify("message", ""));
  auto other = Ed25519PrivateKey::Generate();
  EXPECT_FALSE(other->PublicKey().Verify("message", sig));
}

TEST(Ed25519Test, ExportImportRawAndPem) {
  auto key = Ed25519PrivateKey::Generate();
  ASSERT_TRUE(key.ok());
  const std::string sig = key->Sign("m");

  auto from_seed = Ed25519PrivateKey::FromSeed(key->Seed());
  ASSERT_TRUE(from_seed.ok());
  EXPECT_EQ(from_seed->Sign("m"), sig);

  const std::string pem = key->ToPem();
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  auto from_pem = Ed25519PrivateKey::FromPem(pem);
  ASSERT_TRUE(from_pem.ok()) << from_pem.status();
  EXPECT_EQ(from_pem->Seed(), key->Seed());

  const std::string pub_pem = key->PublicKey().ToPem();
  EXPECT_EQ(pub_pem.rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
  auto pub = Ed25519PublicKey::FromPem(pub_pem);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(pub->Raw(), key->PublicKey().Raw());
  EXPECT_TRUE(pub->Verify("m", sig));
}

TEST(Ed25519Test, ImportErrors) {
  EXPECT_EQ(Ed25519PrivateKey::FromSeed("short").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ed25519PublicKey::FromRaw(std::string(33, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ed25519PrivateKey::FromPem("not pem").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ed25519PublicKey::FromPem("not pem").status().code(),
            absl::StatusCode::kInvalidArgument);
  // A PKCS#8 P-256 key is a valid PEM private key but not Ed25519.
  constexpr char kP256Pem[] =
      "-----BEGIN PRIVATE KEY-----\n"
      "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2\n"
      "OF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r\n"
      "1RTwjmYSi9R/zpBnuQ4EiMnCqfMPWiZqB4QdbAd0E7oH50VpuZ1P087G\n"
      "-----END PRIVATE KEY-----\n";
  auto p256 = Ed25519PrivateKey::FromPem(kP256Pem);
  ASSERT_FALSE(p256.ok());
  EXPECT_EQ(p256.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::crypto
