#include "pkg/auth/token_rejection.h"

#include <string>

#include "absl/strings/cord.h"

namespace coffer::auth {
namespace {

constexpr char kPayloadUrl[] = "coffer/auth/token-rejection";

constexpr TokenRejection kAll[] = {
    TokenRejection::kMalformed,         TokenRejection::kUnsupportedAlgorithm,
    TokenRejection::kUnsupportedHeader, TokenRejection::kUnknownKey,
    TokenRejection::kBadSignature,      TokenRejection::kExpired,
    TokenRejection::kNotYetValid,       TokenRejection::kWrongIssuer,
    TokenRejection::kWrongAudience,     TokenRejection::kInactive,
};

}  // namespace

std::string_view TokenRejectionName(TokenRejection why) {
  switch (why) {
    case TokenRejection::kMalformed:
      return "malformed";
    case TokenRejection::kUnsupportedAlgorithm:
      return "unsupported_alg";
    case TokenRejection::kUnsupportedHeader:
      return "unsupported_header";
    case TokenRejection::kUnknownKey:
      return "unknown_key";
    case TokenRejection::kBadSignature:
      return "bad_signature";
    case TokenRejection::kExpired:
      return "expired";
    case TokenRejection::kNotYetValid:
      return "not_yet_valid";
    case TokenRejection::kWrongIssuer:
      return "wrong_issuer";
    case TokenRejection::kWrongAudience:
      return "wrong_audience";
    case TokenRejection::kInactive:
      return "inactive";
  }
  return "malformed";  // unreachable: every enumerator is handled above
}

absl::Status TokenRejectedError(TokenRejection why, std::string_view detail) {
  absl::Status s = absl::UnauthenticatedError("invalid token: " + std::string(detail));
  s.SetPayload(kPayloadUrl, absl::Cord(std::string(TokenRejectionName(why))));
  return s;
}

std::optional<TokenRejection> TokenRejectionOf(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kUnauthenticated) return std::nullopt;
  const auto payload = status.GetPayload(kPayloadUrl);  // absl::optional<absl::Cord>
  if (!payload) return std::nullopt;
  const std::string name(*payload);
  for (TokenRejection why : kAll) {
    if (name == TokenRejectionName(why)) return why;
  }
  return std::nullopt;
}

}  // namespace coffer::auth
