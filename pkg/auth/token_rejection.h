// TokenRejection: why TokenVerifier refused a token, as a type rather than as message text.
//
// Every UNAUTHENTICATED error TokenVerifier::Verify returns for the token itself carries one of
// these as a Status payload (TokenRejectedError), so callers that count or branch on the reason
// (the vault's auth-failure metric) read TokenRejectionOf() instead of matching the message,
// which stays free to change. Errors that are not the caller's fault (a JWKS or introspection
// outage) carry none.
//
// Threading: pure functions over values.
#pragma once

#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace coffer::auth {

enum class TokenRejection {
  kMalformed,             // empty, too long, not a JWS, no "kid", no "exp", bad claim types
  kUnsupportedAlgorithm,  // "alg" other than EdDSA (none and HMAC included)
  kUnsupportedHeader,     // a "crit" header
  kUnknownKey,            // "kid" names no key of the issuer's JWKS
  kBadSignature,
  kExpired,
  kNotYetValid,
  kWrongIssuer,
  kWrongAudience,
  kInactive,  // the issuer's introspection says it is no longer active (revoked, logged out)
};

// A stable lower-case name ("malformed", "bad_signature", ...), for logs and payloads.
std::string_view TokenRejectionName(TokenRejection why);

// UNAUTHENTICATED "invalid token: <detail>" carrying `why` (`detail` must not hold the token).
absl::Status TokenRejectedError(TokenRejection why, std::string_view detail);

// The rejection `status` carries; nullopt for OK, for any other code, and for an UNAUTHENTICATED
// status TokenRejectedError did not make.
std::optional<TokenRejection> TokenRejectionOf(const absl::Status& status);

}  // namespace coffer::auth
