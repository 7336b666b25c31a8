// IdentityService: access tokens presented by callers (Authenticate, Introspect) and the keys
// that sign them (GetJwks, RotateSigningKey). Verification itself is AccessTokens, over pkg/auth.
#include <nlohmann/json.hpp>

#include "fmt/format.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"
#include "pkg/status/status.h"
#include "services/identity/domain/refresh_token.h"
#include "services/identity/domain/scopes.h"
#include "services/identity/domain/validation.h"
#include "services/identity/service/identity_service.h"
#include "services/identity/service/identity_service_internal.h"

namespace coffer::identity {

using internal::HasScope;
using internal::IsTokenRejection;
using internal::Log;

absl::StatusOr<Caller> IdentityService::Authenticate(std::string_view bearer_token) {
  if (bearer_token.empty()) {
    return absl::UnauthenticatedError("missing bearer token (authorization: Bearer <token>)");
  }
  COFFER_ASSIGN_OR_RETURN(VerifiedAccessToken v, tokens_.VerifyActive(bearer_token));
  return Caller{v.claims.sub, v.claims.scope, v.claims.client_id, v.claims.jti};
}

absl::StatusOr<Caller> IdentityService::RequireScope(const RequestContext& ctx,
                                                     std::string_view scope) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, Authenticate(ctx.bearer_token));
  if (!HasScope(caller.scopes, scope)) {
    return absl::PermissionDeniedError(fmt::format("this call needs the \"{}\" scope", scope));
  }
  return caller;
}

absl::StatusOr<Introspection> IdentityService::Introspect(const Caller& caller,
                                                          std::string_view token) {
  COFFER_RETURN_IF_ERROR(CheckStringField("token", token, kMaxTokenBytes));
  const bool privileged =
      HasScope(caller.scopes, kIntrospectScope) || HasScope(caller.scopes, kAdminScope);
  Introspection out;
  if (LooksLikeRefreshToken(token)) {
    auto found = sessions_.FindRefreshToken(crypto::Sha256(token));
    if (!found.ok() && !absl::IsNotFound(found.status())) return found.status();
    if (found.ok() &&
        ClassifyRefreshToken(found->first, found->second, Now()) == RefreshVerdict::kValid) {
      out.active = true;
      out.sub = found->second.subject;
      out.scope = found->second.scope;
      out.exp = UnixSeconds(found->first.expires_at);
      out.iat = UnixSeconds(found->first.created_at);
      out.token_type = "refresh_token";
      out.iss = config_.issuer;
    }
  } else {
    // A refused or revoked token is simply inactive; only infrastructure errors fail the call.
    auto v = tokens_.VerifyActive(token);
    if (!v.ok() && !IsTokenRejection(v.status())) return v.status();
    if (v.ok()) {
      out.active = true;
      out.sub = v->claims.sub;
      out.scope = JoinScopes(v->claims.scope);
      out.exp = v->claims.exp.value_or(0);
      out.iat = v->claims.iat.value_or(0);
      out.client_id = v->claims.client_id;
      out.token_type = "access_token";
      out.jti = v->claims.jti;
      out.iss = v->claims.iss;
      out.aud = config_.audience;
    }
  }
  // Without the introspection scope a caller may only introspect its own live tokens; for
  // anything else it learns nothing (not even whether the token is valid).
  if (!privileged && (!out.active || out.sub != caller.subject)) {
    if (metrics_) metrics_->introspection_denied.Increment();
    return absl::PermissionDeniedError(fmt::format(
        "introspecting other callers' tokens needs the \"{}\" scope", kIntrospectScope));
  }
  if (metrics_) {
    (out.active ? metrics_->introspection_active : metrics_->introspection_inactive).Increment();
  }
  return out;
}

JwksDocument IdentityService::GetJwks() {
  JwksDocument doc;
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& k : keys_.PublishedKeys()) {
    Jwk jwk{k.kid, crypto::Base64UrlEncode(k.raw_public_key)};
    keys.push_back({{"kty", "OKP"},
                    {"crv", "Ed25519"},
                    {"x", jwk.x},
                    {"kid", jwk.kid},
                    {"use", "sig"},
                    {"alg", "EdDSA"}});
    doc.keys.push_back(std::move(jwk));
  }
  doc.json = nlohmann::json{{"keys", keys}}.dump();
  return doc;
}

absl::StatusOr<std::string> IdentityService::RotateSigningKey(const RequestContext& ctx) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, RequireScope(ctx, kAdminScope));
  COFFER_ASSIGN_OR_RETURN(std::string kid, keys_.Rotate());
  Log().Info("signing key rotated on request", {{"kid", kid}, {"by", caller.subject}});
  return kid;
}

}  // namespace coffer::identity
