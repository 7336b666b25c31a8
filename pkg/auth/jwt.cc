#include "pkg/auth/jwt.h"

#include <cmath>
#include <limits>

#include "pkg/crypto/encoding.h"
#include "pkg/status/status.h"

namespace coffer::auth {
namespace {

using nlohmann::json;

constexpr const char* kRegistered[] = {"iss", "sub", "aud",   "exp",      "nbf",
                                       "iat", "jti", "scope", "client_id"};

bool IsRegistered(const std::string& name) {
  for (const char* r : kRegistered) {
    if (name == r) return true;
  }
  return false;
}

absl::Status WrongType(const char* claim) {
  return absl::InvalidArgumentError(std::string("claim '") + claim + "' has the wrong type");
}

absl::Status ReadString(const json& payload, const char* name, std::string& out) {
  auto it = payload.find(name);
  if (it == payload.end()) return absl::OkStatus();
  if (!it->is_string()) return WrongType(name);
  out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status ReadNumericDate(const json& payload, const char* name, std::optional<int64_t>& out) {
  auto it = payload.find(name);
  if (it == payload.end()) return absl::OkStatus();
  if (it->is_number_integer() && !it->is_number_unsigned()) {
    out = it->get<int64_t>();
  } else if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return WrongType(name);
    out = static_cast<int64_t>(v);
  } else if (it->is_number_float()) {
    // RFC 7519 allows fractional NumericDates; whole seconds are enough here.
    const double v = it->get<double>();
    if (!std::isfinite(v) || std::fabs(v) > 1e17) return WrongType(name);
    out = static_cast<int64_t>(std::floor(v));
  } else {
    return WrongType(name);
  }
  return absl::OkStatus();
}

std::vector<std::string> SplitSpaces(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t end = s.find(' ', pos);
    const size_t stop = end == std::string::npos ? s.size() : end;
    if (stop > pos) out.push_back(s.substr(pos, stop - pos));
    pos = stop + 1;
  }
  return out;
}

absl::StatusOr<json> ParseObject(std::string_view b64, const char* part) {
  auto raw = crypto::Base64UrlDecode(b64);
  if (!raw.ok()) {
    return absl::InvalidArgumentError(std::string("malformed token: ") + part +
                                      " is not base64url");
  }
  json value = json::parse(*raw, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) {
    return absl::InvalidArgumentError(std::string("malformed token: ") + part +
                                      " is not a JSON object");
  }
  return value;
}

}  // namespace

absl::StatusOr<nlohmann::json> ClaimsToJson(const Claims& claims) {
  if (!claims.extra.is_object()) {
    return absl::InvalidArgumentError("Claims::extra must be a JSON object");
  }
  json out = json::object();
  for (const auto& [name, value] : claims.extra.items()) {
    if (IsRegistered(name)) {
      return absl::InvalidArgumentError("extra claim '" + name + "' collides with a typed claim");
    }
    out[name] = value;
  }
  if (!claims.iss.empty()) out["iss"] = claims.iss;
  if (!claims.sub.empty()) out["sub"] = claims.sub;
  if (claims.aud.size() == 1) {
    out["aud"] = claims.aud.front();
  } else if (!claims.aud.empty()) {
    out["aud"] = claims.aud;
  }
  if (claims.exp) out["exp"] = *claims.exp;
  if (claims.nbf) out["nbf"] = *claims.nbf;
  if (claims.iat) out["iat"] = *claims.iat;
  if (!claims.jti.empty()) out["jti"] = claims.jti;
  if (!claims.scope.empty()) {
    std::string scope;
    for (const auto& s : claims.scope) {
      if (s.empty() || s.find(' ') != std::string::npos) {
        return absl::InvalidArgumentError("scope values must be non-empty and contain no space");
      }
      if (!scope.empty()) scope += ' ';
      scope += s;
    }
    out["scope"] = scope;
  }
  if (!claims.client_id.empty()) out["client_id"] = claims.client_id;
  return out;
}

absl::StatusOr<Claims> ClaimsFromJson(const nlohmann::json& payload) {
  if (!payload.is_object()) return absl::InvalidArgumentError("claims must be a JSON object");
  Claims c;
  COFFER_RETURN_IF_ERROR(ReadString(payload, "iss", c.iss));
  COFFER_RETURN_IF_ERROR(ReadString(payload, "sub", c.sub));
  COFFER_RETURN_IF_ERROR(ReadString(payload, "jti", c.jti));
  COFFER_RETURN_IF_ERROR(ReadString(payload, "client_id", c.client_id));
  COFFER_RETURN_IF_ERROR(ReadNumericDate(payload, "exp", c.exp));
  COFFER_RETURN_IF_ERROR(ReadNumericDate(payload, "nbf", c.nbf));
  COFFER_RETURN_IF_ERROR(ReadNumericDate(payload, "iat", c.iat));
  if (auto it = payload.find("aud"); it != payload.end()) {
    if (it->is_string()) {
      c.aud.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const auto& a : *it) {
        if (!a.is_string()) return WrongType("aud");
        c.aud.push_back(a.get<std::string>());
      }
    } else {
      return WrongType("aud");
    }
  }
  if (auto it = payload.find("scope"); it != payload.end()) {
    if (it->is_string()) {
      c.scope = SplitSpaces(it->get<std::string>());
    } else if (it->is_array()) {  // some providers send a list
      for (const auto& s : *it) {
        if (!s.is_string()) return WrongType("scope");
        c.scope.push_back(s.get<std::string>());
      }
    } else {
      return WrongType("scope");
    }
  }
  for (const auto& [name, value] : payload.items()) {
    if (!IsRegistered(name)) c.extra[name] = value;
  }
  return c;
}

absl::StatusOr<std::string> SignJwt(const Claims& claims, std::string_view kid,
                                    const crypto::Ed25519PrivateKey& key) {
  json header = {{"alg", kJwtAlgEdDsa}, {"typ", "JWT"}};
  if (!kid.empty()) header["kid"] = std::string(kid);
  COFFER_ASSIGN_OR_RETURN(json payload, ClaimsToJson(claims));
  std::string token =
      crypto::Base64UrlEncode(header.dump()) + "." + crypto::Base64UrlEncode(payload.dump());
  const std::string signature = key.Sign(token);
  token += ".";
  token += crypto::Base64UrlEncode(signature);
  return token;
}

absl::StatusOr<DecodedJwt> DecodeUnverified(std::string_view token) {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError("malformed token: expected three dot-separated parts");
  }
  DecodedJwt out;
  COFFER_ASSIGN_OR_RETURN(out.header, ParseObject(token.substr(0, dot1), "header"));
  COFFER_ASSIGN_OR_RETURN(json payload,
                          ParseObject(token.substr(dot1 + 1, dot2 - dot1 - 1), "payload"));
  auto sig = crypto::Base64UrlDecode(token.substr(dot2 + 1));
  if (!sig.ok()) return absl::InvalidArgumentError("malformed token: signature is not base64url");
  out.signature = *std::move(sig);

  auto alg = out.header.find("alg");
  if (alg == out.header.end() || !alg->is_string()) {
    return absl::InvalidArgumentError("malformed token: header has no \"alg\"");
  }
  out.alg = alg->get<std::string>();
  if (auto kid = out.header.find("kid"); kid != out.header.end()) {
    if (!kid->is_string()) return absl::InvalidArgumentError("malformed token: bad \"kid\"");
    out.kid = kid->get<std::string>();
  }
  auto claims = ClaimsFromJson(payload);
  if (!claims.ok()) {
    return absl::InvalidArgumentError("malformed token: " + std::string(claims.status().message()));
  }
  out.claims = *std::move(claims);
  out.signing_input = std::string(token.substr(0, dot2));
  return out;
}

}  // namespace coffer::auth
