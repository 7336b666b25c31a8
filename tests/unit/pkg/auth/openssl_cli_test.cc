// Cross-checks our JWT signatures with an independent implementation: the `openssl` command line
// tool verifies a token using only the public key taken from the published JWKS.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "pkg/auth/jwks.h"
#include "pkg/auth/jwt.h"
#include "pkg/crypto/encoding.h"

namespace coffer::auth {
namespace {

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

// SubjectPublicKeyInfo DER for an Ed25519 key is a fixed 12-byte prefix (RFC 8410 §10.1)
// followed by the raw key; built by hand so the PEM does not come from the code under test.
std::string SpkiPemFromRaw(const std::string& raw) {
  const std::string prefix = *crypto::HexDecode("302a300506032b6570032100");
  return "-----BEGIN PUBLIC KEY-----\n" + crypto::Base64Encode(prefix + raw) +
         "\n-----END PUBLIC KEY-----\n";
}

int OpensslVerify(const std::string& dir, const std::string& message,
                  const std::string& signature) {
  WriteFile(dir + "/msg", message);
  WriteFile(dir + "/sig", signature);
  const std::string cmd = "openssl pkeyutl -verify -pubin -inkey " + dir + "/pub.pem -rawin -in " +
                          dir + "/msg -sigfile " + dir + "/sig >/dev/null 2>&1";
  return std::system(cmd.c_str());
}

TEST(OpensslCliTest, IndependentVerifierAcceptsOurJwt) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "openssl command line tool not installed (scripts/deps installs it)";
  }
  const auto key = *crypto::Ed25519PrivateKey::Generate();
  JwkSet set;
  set.keys = {Jwk::FromPublicKey("k1", key.PublicKey())};
  // Go through the published JSON, as a third party would.
  const auto published = JwkSet::FromJson(set.ToJson());
  ASSERT_TRUE(published.ok());
  const Jwk* jwk = published->Find("k1");
  ASSERT_NE(jwk, nullptr);

  Claims claims;
  claims.iss = "https://id.coffer.test";
  claims.sub = "user-1";
  claims.aud = {"coffer-vault"};
  claims.exp = 2'000'000'000;
  const std::string token = *SignJwt(claims, "k1", key);
  const size_t dot = token.rfind('.');
  const std::string signing_input = token.substr(0, dot);
  const std::string signature = *crypto::Base64UrlDecode(token.substr(dot + 1));

  char tmpl[] = "/tmp/coffer_openssl_cli_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  WriteFile(dir + "/pub.pem", SpkiPemFromRaw(*crypto::Base64UrlDecode(jwk->x)));

  EXPECT_EQ(OpensslVerify(dir, signing_input, signature), 0);
  // The same tool rejects a tampered signing input, so the check above can fail.
  EXPECT_NE(OpensslVerify(dir, signing_input + "x", signature), 0);

  for (const char* f : {"/pub.pem", "/msg", "/sig"}) std::remove((dir + f).c_str());
  std::remove(dir.c_str());
}

}  // namespace
}  // namespace coffer::auth
