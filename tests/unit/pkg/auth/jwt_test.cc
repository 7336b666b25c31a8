#include "pkg/auth/jwt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pkg/crypto/encoding.h"

namespace coffer::auth {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

crypto::Ed25519PrivateKey NewKey() { return *crypto::Ed25519PrivateKey::Generate(); }

json Part(const std::string& token, int index) {
  size_t start = 0;
  for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
  const size_t end = token.find('.', start);
  return json::parse(*crypto::Base64UrlDecode(token.substr(start, end - start)));
}

TEST(JwtTest, SignThenDecodeRoundTripsEveryClaim) {
  Claims claims;
  claims.iss = "https://id.coffer.test";
  claims.sub = "user-1";
  claims.aud = {"coffer-vault", "coffer-cli"};
  claims.exp = 1'700'000'600;
  claims.nbf = 1'700'000'000;
  claims.iat = 1'700'000'000;
  claims.jti = "tok-1";
  claims.scope = {"vault.read", "vault.admin"};
  claims.client_id = "cli";
  claims.extra = {{"shard", "eu-1"}, {"n", 3}};
  const auto key = NewKey();
  auto token = SignJwt(claims, "k1", key);
  ASSERT_TRUE(token.ok()) << token.status();

  EXPECT_EQ(Part(*token, 0), (json{{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", "k1"}}));
  EXPECT_EQ(Part(*token, 1)["scope"], "vault.read vault.admin");

  auto decoded = DecodeUnverified(*token);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->alg, "EdDSA");
  EXPECT_EQ(decoded->kid, "k1");
  EXPECT_EQ(decoded->claims, claims);
  EXPECT_EQ(decoded->signing_input, token->substr(0, token->rfind('.')));
  EXPECT_TRUE(key.PublicKey().Verify(decoded->signing_input, decoded->signature));
}

TEST(JwtTest, SingleAudienceIsAStringAndBothFormsParse) {
  Claims claims;
  claims.aud = {"vault"};
  EXPECT_EQ((*ClaimsToJson(claims))["aud"], "vault");
  auto parsed = ClaimsFromJson(json{{"aud", {"a", "b"}}, {"scope", {"x", "y"}}});
  ASSERT_TRUE(parsed.ok());
  EXPECT_THAT(parsed->aud, ElementsAre("a", "b"));
  EXPECT_THAT(parsed->scope, ElementsAre("x", "y"));
  parsed = ClaimsFromJson(json{{"scope", " a  b "}, {"exp", 17.9}});
  ASSERT_TRUE(parsed.ok());
  EXPECT_THAT(parsed->scope, ElementsAre("a", "b"));
  EXPECT_EQ(parsed->exp, 17);
}

TEST(JwtTest, WrongClaimTypesAreRejected) {
  EXPECT_FALSE(ClaimsFromJson(json{{"exp", "soon"}}).ok());
  EXPECT_FALSE(ClaimsFromJson(json{{"iss", 5}}).ok());
  EXPECT_FALSE(ClaimsFromJson(json{{"aud", {1, 2}}}).ok());
  EXPECT_FALSE(ClaimsFromJson(json{{"scope", 1}}).ok());
  EXPECT_FALSE(ClaimsFromJson(json{{"exp", 18446744073709551615ull}}).ok());
}

TEST(JwtTest, ExtraMayNotShadowTypedClaims) {
  Claims claims;
  claims.extra = {{"sub", "someone-else"}};
  auto token = SignJwt(claims, "k1", NewKey());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kInvalidArgument);
  claims.extra = json::array();
  EXPECT_FALSE(SignJwt(claims, "k1", NewKey()).ok());
}

TEST(JwtTest, DecodeRejectsMalformedTokens) {
  const std::string h = crypto::Base64UrlEncode(R"({"alg":"EdDSA"})");
  const std::string p = crypto::Base64UrlEncode(R"({"sub":"x"})");
  const std::string s = crypto::Base64UrlEncode("sig");
  ASSERT_TRUE(DecodeUnverified(h + "." + p + "." + s).ok());
  const std::pair<std::string, std::string> kCases[] = {
      {"", "three"},
      {h + "." + p, "three"},
      {h + "." + p + "." + s + ".x", "three"},
      {"%%%." + p + "." + s, "header is not base64url"},
      {crypto::Base64UrlEncode("[1]") + "." + p + "." + s, "header is not a JSON object"},
      {h + "." + crypto::Base64UrlEncode("{bad json") + "." + s, "payload is not a JSON object"},
      {h + "." + p + ".a=", "signature"},
      {crypto::Base64UrlEncode(R"({"typ":"JWT"})") + "." + p + "." + s, "no \"alg\""},
      {h + "." + crypto::Base64UrlEncode(R"({"exp":"x"})") + "." + s, "'exp'"},
  };
  for (const auto& [token, why] : kCases) {
    auto decoded = DecodeUnverified(token);
    ASSERT_FALSE(decoded.ok()) << token;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(why)) << token;
  }
}

}  // namespace
}  // namespace coffer::auth
