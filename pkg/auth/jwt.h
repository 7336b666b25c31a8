// JSON Web Tokens (RFC 7519) in compact JWS form (RFC 7515), signed with EdDSA/Ed25519 only
// (RFC 8037). The identity service signs access tokens with SignJwt; TokenVerifier checks them.
//
// Only the claims Coffer uses are typed; any other claim round-trips through Claims::extra.
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/crypto/ed25519.h"

namespace coffer::auth {

// The only JWS algorithm Coffer signs or accepts.
inline constexpr char kJwtAlgEdDsa[] = "EdDSA";

struct Claims {
  std::string iss;               // issuer; empty = absent
  std::string sub;               // subject (user or service account id); empty = absent
  std::vector<std::string> aud;  // audiences; JSON string when one, array when several
  std::optional<int64_t> exp;    // NumericDate (Unix seconds)
  std::optional<int64_t> nbf;
  std::optional<int64_t> iat;
  std::string jti;                 // token id (revocation, introspection); empty = absent
  std::vector<std::string> scope;  // JSON: one space-separated string (RFC 8693 §4.2)
  std::string client_id;           // RFC 9068; empty = absent
  nlohmann::json extra = nlohmann::json::object();  // every other claim, as a JSON object

  bool operator==(const Claims&) const = default;
};

// Claims as a JWT payload object. INVALID_ARGUMENT when `extra` is not an object or names a
// claim that has a typed field above.
absl::StatusOr<nlohmann::json> ClaimsToJson(const Claims& claims);
// Reads a JWT payload object. INVALID_ARGUMENT when a typed claim has the wrong JSON type.
absl::StatusOr<Claims> ClaimsFromJson(const nlohmann::json& payload);

// Signs `claims` as header {"alg":"EdDSA","typ":"JWT","kid":kid} and returns the compact
// token "b64url(header).b64url(payload).b64url(signature)".
absl::StatusOr<std::string> SignJwt(const Claims& claims, std::string_view kid,
                                    const crypto::Ed25519PrivateKey& key);

// A token split into its parts. Nothing here is trusted until the signature is verified.
struct DecodedJwt {
  nlohmann::json header;  // the whole protected header object
  std::string alg;        // header "alg"
  std::string kid;        // header "kid"; empty = absent
  Claims claims;
  std::string signing_input;  // "b64url(header).b64url(payload)", the signed bytes
  std::string signature;      // raw signature bytes
};

// Parses a compact JWS WITHOUT verifying it (use TokenVerifier for that; this is for tooling and
// for the verifier itself). INVALID_ARGUMENT "malformed token: <why>" when it is not three
// base64url parts, a part is not a JSON object, "alg" is missing, or a claim has the wrong type.
absl::StatusOr<DecodedJwt> DecodeUnverified(std::string_view token);

}  // namespace coffer::auth
