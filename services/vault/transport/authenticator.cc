#include "services/vault/transport/authenticator.h"

#include <sstream>

namespace coffer::vault::transport {
namespace {

constexpr std::pair<std::string_view, std::string_view> kReasons[] = {
    {"malformed", "malformed"},
    {"unsupported alg", "malformed"},
    {"unknown signing key", "unknown_key"},
    {"bad signature", "bad_signature"},
    {"expired", "expired"},
    {"not yet valid", "not_yet_valid"},
    {"wrong issuer", "wrong_issuer"},
    {"wrong audience", "wrong_audience"},
    {"inactive", "revoked"},
};

}  // namespace

std::string Authenticator::FailureReason(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kUnauthenticated) return "jwks_unavailable";
  const std::string message(status.message());
  for (const auto& [needle, reason] : kReasons) {
    if (message.find(needle) != std::string::npos) return std::string(reason);
  }
  return "other";
}

absl::Status Authenticator::Fail(const absl::Status& status) {
  if (metrics_ != nullptr) metrics_->AuthFailure(FailureReason(status));
  return status;
}

absl::StatusOr<service::Caller> Authenticator::Authenticate(const grpc::ServerContext& context,
                                                            bool admin_rpc) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    if (metrics_ != nullptr) metrics_->AuthFailure("missing");
    return absl::UnauthenticatedError("missing bearer token (authorization metadata)");
  }
  std::string_view value(it->second.data(), it->second.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (value.size() <= kBearer.size() || !(value.substr(0, kBearer.size()) == kBearer ||
                                          value.substr(0, kBearer.size()) == "bearer ")) {
    if (metrics_ != nullptr) metrics_->AuthFailure("malformed");
    return absl::UnauthenticatedError("authorization metadata must be \"Bearer <token>\"");
  }
  absl::StatusOr<auth::VerifiedToken> token = verifier_.Verify(value.substr(kBearer.size()));
  if (!token.ok()) return Fail(token.status());
  if (token->claims.sub.empty()) {
    if (metrics_ != nullptr) metrics_->AuthFailure("malformed");
    return absl::UnauthenticatedError("invalid token: no subject");
  }
  service::Caller caller;
  caller.subject = token->claims.sub;
  caller.scopes = token->claims.scope;
  caller.bearer_token = std::string(value.substr(kBearer.size()));
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
