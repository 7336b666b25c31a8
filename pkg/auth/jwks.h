// JSON Web Key Sets (RFC 7517) holding Ed25519 public keys (RFC 8037 "OKP" keys): the identity
// service publishes one, the vault fetches it to verify tokens.
//
// Parsing is tolerant, like any OIDC client's: unknown members are ignored, and keys Coffer
// cannot use (other kty or crv, use other than "sig", alg other than "EdDSA", a bad "x", or a
// repeated kid) are skipped rather than failing the whole set. Plain values; thread-compatible.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/crypto/ed25519.h"

namespace coffer::auth {

// One key of a JWKS; the defaults describe an Ed25519 signing key (RFC 8037).
struct Jwk {
  std::string kty = "OKP";
  std::string crv = "Ed25519";
  std::string x;  // base64url (no padding) of the raw 32-byte public key
  std::string kid;
  std::string use = "sig";
  std::string alg = "EdDSA";

  // The JWK of `key` under `kid`, with the defaults above.
  static Jwk FromPublicKey(std::string kid, const crypto::Ed25519PublicKey& key);
  // INVALID_ARGUMENT when this is not a usable Ed25519 key.
  absl::StatusOr<crypto::Ed25519PublicKey> PublicKey() const;
  // The key as a JSON object; empty kid, use and alg are left out.
  nlohmann::json ToJson() const;

  bool operator==(const Jwk&) const = default;
};

// A JWK Set: the keys an issuer publishes.
struct JwkSet {
  std::vector<Jwk> keys;

  // The key with this kid, or nullptr.
  const Jwk* Find(std::string_view kid) const;
  // {"keys":[...]} as compact JSON.
  std::string ToJson() const;
  // INVALID_ARGUMENT when `json` is not an object with a "keys" array; unusable keys are skipped.
  static absl::StatusOr<JwkSet> FromJson(std::string_view json);
  // FromJson over an already parsed value.
  static absl::StatusOr<JwkSet> FromJsonValue(const nlohmann::json& value);
};

}  // namespace coffer::auth
