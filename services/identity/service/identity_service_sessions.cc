// IdentityService: sessions. Starting one (Login), rotating its refresh token (Refresh), and
// ending it or one of its tokens (Logout, Revoke).
#include <chrono>

#include "pkg/crypto/hash.h"
#include "pkg/crypto/random.h"
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

absl::StatusOr<IssuedTokens> IdentityService::StartSession(const User& user) {
  const Time now = Now();
  RefreshFamily family;
  family.id = NewUuid();
  family.subject = user.id;
  family.scope = user.scope;
  family.created_at = now;
  const std::string refresh = std::string(kRefreshTokenPrefix) + crypto::RandomToken(32);
  RefreshToken first;
  first.token_hash = crypto::Sha256(refresh);
  first.family_id = family.id;
  first.created_at = now;
  first.expires_at = now + config_.refresh_token_ttl;
  COFFER_ASSIGN_OR_RETURN(auto scopes, ParseScopeString(user.scope));
  COFFER_ASSIGN_OR_RETURN(std::string access, tokens_.Issue(user.id, scopes, "", family.id, now));
  COFFER_RETURN_IF_ERROR(sessions_.CreateSession(family, first));
  IssuedTokens out;
  out.access_token = std::move(access);
  out.refresh_token = refresh;
  out.scope = user.scope;
  out.expires_in = config_.access_token_ttl.count();
  out.refresh_expires_in = config_.refresh_token_ttl.count();
  return out;
}

absl::StatusOr<IssuedTokens> IdentityService::Refresh(std::string_view refresh_token) {
  COFFER_RETURN_IF_ERROR(CheckStringField("refresh_token", refresh_token, kMaxTokenBytes));
  if (!LooksLikeRefreshToken(refresh_token)) {
    if (metrics_) metrics_->refresh_invalid.Increment();
    return RefreshVerdictToStatus(RefreshVerdict::kNotFound);
  }
  const Time now = Now();
  const std::string next_token = std::string(kRefreshTokenPrefix) + crypto::RandomToken(32);
  RefreshToken next;
  next.token_hash = crypto::Sha256(next_token);
  next.created_at = now;
  next.expires_at = now + config_.refresh_token_ttl;
  COFFER_ASSIGN_OR_RETURN(RotateResult rotated,
                          sessions_.Rotate(crypto::Sha256(refresh_token), next, now));
  if (rotated.verdict != RefreshVerdict::kValid) {
    if (metrics_) {
      (rotated.verdict == RefreshVerdict::kReused ? metrics_->refresh_reuse_detected
                                                  : metrics_->refresh_invalid)
          .Increment();
    }
    if (rotated.verdict == RefreshVerdict::kReused) {
      Log().Warn("refresh token reuse detected; session revoked",
                 {{"session_id", rotated.family.id}, {"user_id", rotated.family.subject}});
    }
    return RefreshVerdictToStatus(rotated.verdict);
  }
  COFFER_ASSIGN_OR_RETURN(auto scopes, ParseScopeString(rotated.family.scope));
  COFFER_ASSIGN_OR_RETURN(std::string access, tokens_.Issue(rotated.family.subject, scopes, "",
                                                            rotated.family.id, now));
  if (metrics_) metrics_->tokens_issued_refresh.Increment();
  IssuedTokens out;
  out.access_token = std::move(access);
  out.refresh_token = next_token;
  out.scope = rotated.family.scope;
  out.expires_in = config_.access_token_ttl.count();
  out.refresh_expires_in = config_.refresh_token_ttl.count();
  return out;
}

absl::Status IdentityService::Logout(const RequestContext& ctx, std::string_view refresh_token) {
  COFFER_RETURN_IF_ERROR(CheckStringField("refresh_token", refresh_token, kMaxTokenBytes,
                                          /*required=*/ctx.bearer_token.empty()));
  Revocation r;
  r.reason = "logout";
  if (!refresh_token.empty() && LooksLikeRefreshToken(refresh_token)) {
    r.refresh_token_hash = crypto::Sha256(refresh_token);
  }
  if (!ctx.bearer_token.empty()) {
    auto v = tokens_.VerifyIgnoringExpiry(ctx.bearer_token);
    if (v.ok()) {
      r.access_jti = v->claims.jti;
      r.access_expires_at = Time(std::chrono::seconds(v->claims.exp.value_or(0)));
      r.family_id = v->session_id;
    } else if (!IsTokenRejection(v.status())) {
      return v.status();
    }
  }
  if (r.refresh_token_hash.empty() && r.access_jti.empty() && r.family_id.empty()) {
    return absl::OkStatus();  // nothing we issued: logout is idempotent
  }
  COFFER_RETURN_IF_ERROR(sessions_.Revoke(r, Now()));
  if (metrics_) metrics_->revocations.Increment();
  return absl::OkStatus();
}

absl::Status IdentityService::Revoke(const RequestContext& ctx, std::string_view token,
                                     std::string_view token_type_hint) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, Authenticate(ctx.bearer_token));
  COFFER_RETURN_IF_ERROR(CheckStringField("token", token, kMaxTokenBytes));
  if (!token_type_hint.empty() && token_type_hint != "access_token" &&
      token_type_hint != "refresh_token") {
    return absl::InvalidArgumentError(
        "token_type_hint must be empty, \"access_token\" or \"refresh_token\"");
  }
  const bool admin = HasScope(caller.scopes, kAdminScope);
  Revocation r;
  r.reason = "revoke";
  if (LooksLikeRefreshToken(token)) {
    auto found = sessions_.FindRefreshToken(crypto::Sha256(token));
    if (absl::IsNotFound(found.status())) return absl::OkStatus();
    COFFER_RETURN_IF_ERROR(found.status());
    if (found->second.subject != caller.subject && !admin) return absl::OkStatus();
    r.family_id = found->second.id;
  } else {
    auto v = tokens_.VerifyIgnoringExpiry(token);
    if (!v.ok()) return IsTokenRejection(v.status()) ? absl::OkStatus() : v.status();
    if (v->claims.sub != caller.subject && !admin) return absl::OkStatus();
    r.access_jti = v->claims.jti;
    r.access_expires_at = Time(std::chrono::seconds(v->claims.exp.value_or(0)));
    r.family_id = v->session_id;
  }
  COFFER_RETURN_IF_ERROR(sessions_.Revoke(r, Now()));
  if (metrics_) metrics_->revocations.Increment();
  return absl::OkStatus();
}

}  // namespace coffer::identity
