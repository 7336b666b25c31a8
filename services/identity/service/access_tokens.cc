#include "services/identity/service/access_tokens.h"

#include <optional>
#include <utility>

#include "absl/time/time.h"
#include "pkg/auth/token_rejection.h"
#include "pkg/status/status.h"
#include "services/identity/domain/validation.h"
#include "services/identity/service/uuid.h"

namespace coffer::identity {
namespace {

using auth::MalformedPart;
using auth::TokenRejection;

// The verifier over identity's own keys: no cache, no introspection (see the header).
absl::StatusOr<std::unique_ptr<auth::TokenVerifier>> MakeVerifier(const AccessTokenPolicy& policy,
                                                                  SigningKeyManager& keys,
                                                                  const auth::Clock& clock) {
  auth::TokenVerifierOptions options;
  options.issuer = policy.issuer;
  options.audience = policy.audience;
  options.leeway = absl::FromChrono(policy.clock_leeway);
  options.require_sub_and_jti = true;  // revocation is by jti, ownership by sub
  options.max_token_bytes = kMaxTokenBytes;
  options.cache_max_entries = 0;
  return auth::TokenVerifier::Create(std::move(options), keys, clock);
}

// Identity's message for each rejection, as its clients have always read them.
std::string_view MessageFor(TokenRejection why, std::optional<MalformedPart> part,
                            std::string_view token) {
  switch (why) {
    case TokenRejection::kMalformed:
      switch (part.value_or(MalformedPart::kEncoding)) {
        case MalformedPart::kSize:
          return token.empty() ? "access token is missing" : "access token is too long";
        case MalformedPart::kEncoding:
          return "access token is malformed";
        case MalformedPart::kKeyId:
          return "access token has no key id";
        case MalformedPart::kClaims:
          return "access token lacks required claims";
      }
      return "access token is malformed";
    case TokenRejection::kUnsupportedAlgorithm:
      return "access token algorithm is not accepted (only EdDSA)";
    case TokenRejection::kUnsupportedHeader:
      return "access token has an unsupported critical header";
    case TokenRejection::kUnknownKey:
      return "access token is signed by an unknown key";
    case TokenRejection::kBadSignature:
      return "access token signature is invalid";
    case TokenRejection::kExpired:
      return "access token has expired";
    case TokenRejection::kNotYetValid:
      return "access token is not valid yet";
    case TokenRejection::kWrongIssuer:
      return "access token issuer is wrong";
    case TokenRejection::kWrongAudience:
      return "access token audience is wrong";
    case TokenRejection::kInactive:
      return "access token has been revoked";
  }
  return "access token is malformed";
}

}  // namespace

AccessTokens::AccessTokens(AccessTokenPolicy policy, SigningKeyManager& keys,
                           SessionRepository& sessions, ServiceAccountRepository& accounts,
                           const auth::Clock& clock)
    : policy_(std::move(policy)),
      keys_(keys),
      sessions_(sessions),
      accounts_(accounts),
      verifier_(MakeVerifier(policy_, keys, clock)) {}

absl::StatusOr<std::string> AccessTokens::Issue(const std::string& subject,
                                                const std::vector<std::string>& scopes,
                                                const std::string& client_id,
                                                const std::string& session_id, Time now) {
  COFFER_ASSIGN_OR_RETURN(SigningKeyManager::Signer signer, keys_.CurrentSigner());
  auth::Claims c;
  c.iss = policy_.issuer;
  c.sub = subject;
  c.aud = {policy_.audience};
  c.iat = UnixSeconds(now);
  c.nbf = c.iat;
  c.exp = *c.iat + policy_.ttl.count();
  c.jti = NewUuid();
  c.scope = scopes;
  c.client_id = client_id;
  if (!session_id.empty()) c.extra["sid"] = session_id;
  return auth::SignJwt(c, signer.kid, signer.key);
}

absl::StatusOr<VerifiedAccessToken> AccessTokens::VerifyActive(std::string_view token) {
  if (!verifier_.ok()) return verifier_.status();
  COFFER_ASSIGN_OR_RETURN(VerifiedAccessToken v, FromVerifier((*verifier_)->Verify(token), token));
  COFFER_ASSIGN_OR_RETURN(bool active, IsActive(v));
  if (!active) {
    return auth::RewordTokenRejection(
        auth::TokenRejectedError(TokenRejection::kInactive, "inactive (revoked)"),
        MessageFor(TokenRejection::kInactive, std::nullopt, token));
  }
  return v;
}

absl::StatusOr<VerifiedAccessToken> AccessTokens::VerifyIgnoringExpiry(std::string_view token) {
  if (!verifier_.ok()) return verifier_.status();
  return FromVerifier((*verifier_)->VerifyIgnoringExpiry(token), token);
}

absl::StatusOr<VerifiedAccessToken> AccessTokens::FromVerifier(
    absl::StatusOr<auth::VerifiedToken> verified, std::string_view token) {
  if (!verified.ok()) {
    const std::optional<TokenRejection> why = auth::TokenRejectionOf(verified.status());
    if (!why) return verified.status();  // the keys could not be read: not the token's fault
    return auth::RewordTokenRejection(
        verified.status(), MessageFor(*why, auth::MalformedPartOf(verified.status()), token));
  }
  VerifiedAccessToken v{std::move(verified->claims), ""};
  if (auto it = v.claims.extra.find("sid"); it != v.claims.extra.end() && it->is_string()) {
    v.session_id = it->get<std::string>();
  }
  return v;
}

absl::StatusOr<bool> AccessTokens::IsActive(const VerifiedAccessToken& token) {
  COFFER_ASSIGN_OR_RETURN(bool revoked,
                          sessions_.IsAccessTokenRevoked(token.claims.jti, token.session_id));
  if (revoked) return false;
  if (!token.claims.client_id.empty()) {
    // A deleted service account's tokens die with it (also when the id is re-created later).
    auto account = accounts_.FindByClientId(token.claims.client_id);
    if (absl::IsNotFound(account.status())) return false;
    COFFER_RETURN_IF_ERROR(account.status());
    if (token.claims.iat.value_or(0) < UnixSeconds(account->created_at)) return false;
  }
  return true;
}

}  // namespace coffer::identity
