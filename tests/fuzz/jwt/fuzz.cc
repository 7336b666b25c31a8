// Fuzzes access tokens as the vault receives them (pkg/auth/jwt.h, token_verifier.h).
//
// Input: one mode byte, then the rest.
//   even mode: the rest is a compact JWS as a client would send it. Properties: a token that
//     decodes re-encodes to exactly the bytes given (signing input + "." + base64url(signature),
//     so no second spelling of one signature exists); its claims survive ClaimsToJson →
//     ClaimsFromJson unchanged; and the verifier refuses it with UNAUTHENTICATED (the fuzzer
//     cannot sign with this process's key), never another code and never OK.
//   odd mode: the rest is a JWT payload (JSON). When its claims parse, they are signed with this
//     process's key (iss, aud and exp set to what the verifier wants), and the verifier accepts
//     the token and returns exactly the claims that were signed, as DecodeUnverified does.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "pkg/auth/clock.h"
#include "pkg/auth/jwks.h"
#include "pkg/auth/jwks_source.h"
#include "pkg/auth/jwt.h"
#include "pkg/auth/token_verifier.h"
#include "pkg/crypto/ed25519.h"
#include "pkg/crypto/encoding.h"
#include "tests/fuzz/fuzz_check.h"

namespace coffer::fuzz {
namespace {

constexpr char kIssuer[] = "https://identity.fuzz";
constexpr char kAudience[] = "coffer-vault";
constexpr char kKid[] = "fuzz-key";

struct Fixture {
  Fixture()
      : key(crypto::Ed25519PrivateKey::Generate().value()),
        jwks(auth::JwkSet{{auth::Jwk::FromPublicKey(kKid, key.PublicKey())}}) {
    auth::TokenVerifierOptions options;
    options.issuer = kIssuer;
    options.audience = kAudience;
    options.cache_max_entries = 0;  // every input is verified, none answered from a cache
    verifier = auth::TokenVerifier::Create(options, jwks, clock).value();
  }
  crypto::Ed25519PrivateKey key;
  auth::StaticJwksSource jwks;
  auth::FakeClock clock;
  std::unique_ptr<auth::TokenVerifier> verifier;
};

void CheckClaimsRoundTrip(const auth::Claims& claims) {
  auto json = auth::ClaimsToJson(claims);
  FUZZ_CHECK(json.ok());
  auto again = auth::ClaimsFromJson(*json);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == claims);
}

void CheckForeignToken(Fixture& f, std::string_view token) {
  auto decoded = auth::DecodeUnverified(token);
  if (decoded.ok()) {
    const size_t last_dot = token.rfind('.');
    FUZZ_CHECK(token.substr(0, last_dot) == decoded->signing_input);
    FUZZ_CHECK(decoded->signing_input + "." + crypto::Base64UrlEncode(decoded->signature) == token);
    CheckClaimsRoundTrip(decoded->claims);
  } else {
    FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kInvalidArgument);
  }
  auto verified = f.verifier->Verify(token);
  FUZZ_CHECK(!verified.ok());
  FUZZ_CHECK(verified.status().code() == absl::StatusCode::kUnauthenticated);
}

void CheckSignedClaims(Fixture& f, std::string_view payload) {
  const nlohmann::json json = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return;
  auto claims = auth::ClaimsFromJson(json);
  if (!claims.ok()) {
    FUZZ_CHECK(claims.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  CheckClaimsRoundTrip(*claims);
  const int64_t now = absl::ToUnixSeconds(f.clock.Now());
  claims->iss = kIssuer;
  claims->aud = {kAudience};
  claims->exp = now + 60;
  if (claims->nbf && *claims->nbf > now) claims->nbf = now;
  auto token = auth::SignJwt(*claims, kKid, f.key);
  if (!token.ok()) {
    FUZZ_CHECK(token.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  auto decoded = auth::DecodeUnverified(*token);
  FUZZ_CHECK(decoded.ok());
  FUZZ_CHECK(decoded->claims == *claims);
  auto verified = f.verifier->Verify(*token);
  if (token->size() > auth::TokenVerifierOptions{}.max_token_bytes) {
    FUZZ_CHECK(verified.status().code() == absl::StatusCode::kUnauthenticated);
    return;
  }
  FUZZ_CHECK(verified.ok());
  FUZZ_CHECK(verified->claims == *claims);
  FUZZ_CHECK(verified->kid == kKid);
}

}  // namespace
}  // namespace coffer::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* fixture = new coffer::fuzz::Fixture();
  std::string_view in = coffer::fuzz::Bytes(data, size);
  if (in.empty()) return 0;
  const unsigned char mode = static_cast<unsigned char>(in.front());
  in.remove_prefix(1);
  if (mode % 2 == 0) {
    coffer::fuzz::CheckForeignToken(*fixture, in);
  } else {
    coffer::fuzz::CheckSignedClaims(*fixture, in);
  }
  return 0;
}
