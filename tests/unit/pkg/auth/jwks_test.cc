#include "pkg/auth/jwks.h"

#include <gtest/gtest.h>

namespace coffer::auth {
namespace {

TEST(JwksTest, RoundTripAndKeyUse) {
  const auto k1 = *crypto::Ed25519PrivateKey::Generate();
  const auto k2 = *crypto::Ed25519PrivateKey::Generate();
  JwkSet set;
  set.keys = {Jwk::FromPublicKey("k1", k1.PublicKey()), Jwk::FromPublicKey("k2", k2.PublicKey())};
  const std::string text = set.ToJson();
  auto parsed = JwkSet::FromJson(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->keys, set.keys);

  const Jwk* found = parsed->Find("k2");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->kty, "OKP");
  EXPECT_EQ(found->crv, "Ed25519");
  EXPECT_EQ(found->use, "sig");
  EXPECT_EQ(found->alg, "EdDSA");
  EXPECT_EQ(found->x.size(), 43u);  // 32 bytes, base64url without padding
  auto pub = found->PublicKey();
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(pub->Verify("m", k2.Sign("m")));
  EXPECT_EQ(parsed->Find("k3"), nullptr);
}

TEST(JwksTest, ParsingIsTolerantAndSkipsUnusableKeys) {
  const auto key = *crypto::Ed25519PrivateKey::Generate();
  const std::string x = Jwk::FromPublicKey("", key.PublicKey()).x;
  const std::string text = R"({
    "keys": [
      {"kty":"RSA","kid":"rsa","n":"0vx7","e":"AQAB","alg":"RS256"},
      {"kty":"EC","crv":"P-256","kid":"ec","x":"a","y":"b"},
      {"kty":"OKP","crv":"X25519","kid":"xdh","x":")" +
                           x + R"("},
      {"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":")" +
                           x + R"("},
      {"kty":"OKP","crv":"Ed25519","kid":"short","x":"AAAA"},
      {"kty":"OKP","crv":"Ed25519","kid":"bad","x":"***"},
      {"kty":"OKP","crv":"Ed25519","kid":7,"x":")" +
                           x + R"("},
      "not an object",
      {"kty":"OKP","crv":"Ed25519","kid":"good","x":")" +
                           x + R"(","key_ops":["verify"],"x5c":[]},
      {"kty":"OKP","crv":"Ed25519","kid":"good","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    ],
    "extra": {"ignored": true}
  })";
  auto set = JwkSet::FromJson(text);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->keys.size(), 1u);
  EXPECT_EQ(set->keys[0].kid, "good");
  EXPECT_EQ(set->keys[0].x, x);  // the first of two keys with the same kid wins
}

TEST(JwksTest, RejectsDocumentsWithoutKeys) {
  EXPECT_EQ(JwkSet::FromJson("not json").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(JwkSet::FromJson("[]").ok());
  EXPECT_FALSE(JwkSet::FromJson(R"({"keys":{}})").ok());
  EXPECT_FALSE(JwkSet::FromJson(R"({})").ok());
  auto empty = JwkSet::FromJson(R"({"keys":[]})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->keys.empty());
}

TEST(JwksTest, PublicKeyRejectsOtherKeyTypes) {
  Jwk jwk;
  jwk.kty = "RSA";
  EXPECT_FALSE(jwk.PublicKey().ok());
}

}  // namespace
}  // namespace coffer::auth
