#include "services/vault/transport/authenticator.h"

#include <optional>
#include <string>

#include "pkg/auth/bearer.h"

namespace coffer::vault::transport {

std::string Authenticator::FailureReason(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kUnauthenticated) return "jwks_unavailable";
  const std::optional<auth::TokenRejection> why = auth::TokenRejectionOf(status);
  if (!why) return "other";
  switch (*why) {
    case auth::TokenRejection::kMalformed:
    case auth::TokenRejection::kUnsupportedAlgorithm:
      return "malformed";
    case auth::TokenRejection::kUnknownKey:
      return "unknown_key";
    case auth::TokenRejection::kBadSignature:
      return "bad_signature";
    case auth::TokenRejection::kExpired:
      return "expired";
    case auth::TokenRejection::kNotYetValid:
      return "not_yet_valid";
    case auth::TokenRejection::kWrongIssuer:
      return "wrong_issuer";
    case auth::TokenRejection::kWrongAudience:
      return "wrong_audience";
    case auth::TokenRejection::kInactive:
      return "revoked";
    case auth::TokenRejection::kUnsupportedHeader:
      // The label this case had when reasons were read from message text; kept so the metric's
      // series do not change.
      return "other";
  }
  return "other";
}

absl::Status Authenticator::Fail(const absl::Status& status) {
  if (metrics_ != nullptr) metrics_->AuthFailure(FailureReason(status));
  return status;
}

absl::StatusOr<service::Caller> Authenticator::Authenticate(const grpc::ServerContextBase& context,
                                                            bool admin_rpc) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    if (metrics_ != nullptr) metrics_->AuthFailure("missing");
    return absl::UnauthenticatedError("missing bearer token (authorization metadata)");
  }
  const std::string_view bearer =
      auth::ParseBearer(std::string_view(it->second.data(), it->second.size()));
  if (bearer.empty()) {
    if (metrics_ != nullptr) metrics_->AuthFailure("malformed");
    return absl::UnauthenticatedError("authorization metadata must be \"Bearer <token>\"");
  }
  absl::StatusOr<auth::VerifiedToken> token = verifier_.Verify(bearer);
  if (!token.ok()) return Fail(token.status());
  if (token->claims.sub.empty()) {
    if (metrics_ != nullptr) metrics_->AuthFailure("malformed");
    return absl::UnauthenticatedError("invalid token: no subject");
  }
  service::Caller caller;
  caller.subject = token->claims.sub;
  caller.scopes = token->claims.scope;
  caller.bearer_token = std::string(bearer);
  if (!required_scope_.empty() && !caller.HasScope(required_scope_) &&
      !(admin_rpc && caller.HasScope(service::kAdminScope))) {
    if (metrics_ != nullptr) metrics_->AuthFailure("scope");
    return absl::PermissionDeniedError("this token lacks the \"" + required_scope_ +
                                       "\" scope the vault requires");
  }
  return caller;
}

absl::Status Authenticator::Reverify(const service::Caller& caller) {
  absl::StatusOr<auth::VerifiedToken> token = verifier_.Verify(caller.bearer_token);
  if (!token.ok()) return Fail(token.status());
  return absl::OkStatus();
}

}  // namespace coffer::vault::transport
