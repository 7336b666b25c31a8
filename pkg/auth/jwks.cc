#include "pkg/auth/jwks.h"

#include "pkg/crypto/encoding.h"

namespace coffer::auth {
namespace {

// Optional string member: absent → fallback, wrong type → nullopt.
std::optional<std::string> Member(const nlohmann::json& obj, const char* name,
                                  const std::string& fallback) {
  auto it = obj.find(name);
  if (it == obj.end()) return fallback;
  if (!it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

Jwk Jwk::FromPublicKey(std::string kid, const crypto::Ed25519PublicKey& key) {
  Jwk jwk;
  jwk.kid = std::move(kid);
  jwk.x = crypto::Base64UrlEncode(key.Raw());
  return jwk;
}

absl::StatusOr<crypto::Ed25519PublicKey> Jwk::PublicKey() const {
  if (kty != "OKP" || crv != "Ed25519") {
    return absl::InvalidArgumentError("JWK is not an OKP Ed25519 key");
  }
  auto raw = crypto::Base64UrlDecode(x);
  if (!raw.ok()) return absl::InvalidArgumentError("JWK \"x\" is not base64url");
  return crypto::Ed25519PublicKey::FromRaw(*raw);
}

nlohmann::json Jwk::ToJson() const {
  nlohmann::json out = {{"kty", kty}, {"crv", crv}, {"x", x}};
  if (!kid.empty()) out["kid"] = kid;
  if (!use.empty()) out["use"] = use;
  if (!alg.empty()) out["alg"] = alg;
  return out;
}

const Jwk* JwkSet::Find(std::string_view kid) const {
  for (const auto& k : keys) {
    if (k.kid == kid) return &k;
  }
  return nullptr;
}

std::string JwkSet::ToJson() const {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& k : keys) arr.push_back(k.ToJson());
  return nlohmann::json{{"keys", arr}}.dump();
}

absl::StatusOr<JwkSet> JwkSet::FromJson(std::string_view json) {
  return FromJsonValue(nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false));
}

absl::StatusOr<JwkSet> JwkSet::FromJsonValue(const nlohmann::json& value) {
  if (!value.is_object()) return absl::InvalidArgumentError("JWKS is not a JSON object");
  auto keys = value.find("keys");
  if (keys == value.end() || !keys->is_array()) {
    return absl::InvalidArgumentError("JWKS has no \"keys\" array");
  }
  JwkSet set;
  for (const auto& entry : *keys) {
    if (!entry.is_object()) continue;
    Jwk jwk;
    auto kty = Member(entry, "kty", "");
    auto crv = Member(entry, "crv", "");
    auto x = Member(entry, "x", "");
    auto kid = Member(entry, "kid", "");
    auto use = Member(entry, "use", "sig");
    auto alg = Member(entry, "alg", "EdDSA");
    if (!kty || !crv || !x || !kid || !use || !alg) continue;
    if (*kty != "OKP" || *crv != "Ed25519" || *use != "sig" || *alg != "EdDSA") continue;
    jwk.kty = *kty;
    jwk.crv = *crv;
    jwk.x = *x;
    jwk.kid = *kid;
    jwk.use = *use;
    jwk.alg = *alg;
    if (!jwk.PublicKey().ok()) continue;
    if (set.Find(jwk.kid) != nullptr) continue;  // ambiguous: keep the first
    set.keys.push_back(std::move(jwk));
  }
  return set;
}

}  // namespace coffer::auth
