#include "pkg/auth/token_rejection.h"

#include <string>
#include <utility>

#include "absl/strings/cord.h"

namespace coffer::auth {
namespace {

constexpr char kPayloadUrl[] = "coffer/auth/token-rejection";
constexpr char kMalformedPartUrl[] = "coffer/auth/token-malformed-part";

constexpr TokenRejection kAll[] = {
    TokenRejection::kMalformed,         TokenRejection::kUnsupportedAlgorithm,
    TokenRejection::kUnsupportedHeader, TokenRejection::kUnknownKey,
    TokenRejection::kBadSignature,      TokenRejection::kExpired,
    TokenRejection::kNotYetValid,       TokenRejection::kWrongIssuer,
    TokenRejection::kWrongAudience,     TokenRejection::kInactive,
};

constexpr std::pair<MalformedPart, std::string_view> kPartNames[] = {
    {MalformedPart::kSize, "size"},
    {MalformedPart::kEncoding, "encoding"},
    {MalformedPart::kKeyId, "key_id"},
    {MalformedPart::kClaims, "claims"},
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

absl::Status MalformedTokenError(MalformedPart part, std::string_view detail) {
  absl::Status s = TokenRejectedError(TokenRejection::kMalformed, detail);
  for (const auto& [known, name] : kPartNames) {
    if (known == part) s.SetPayload(kMalformedPartUrl, absl::Cord(std::string(name)));
  }
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

std::optional<MalformedPart> MalformedPartOf(const absl::Status& status) {
  if (TokenRejectionOf(status) != TokenRejection::kMalformed) return std::nullopt;
  const auto payload = status.GetPayload(kMalformedPartUrl);  // absl::optional<absl::Cord>
  if (!payload) return std::nullopt;
  for (const auto& [part, name] : kPartNames) {
    if (std::string(*payload) == name) return part;
  }
  return std::nullopt;
}

absl::Status RewordTokenRejection(const absl::Status& rejection, std::string_view message) {
  absl::Status out(rejection.code(), std::string(message));
  rejection.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace coffer::auth
