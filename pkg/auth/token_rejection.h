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

// Which part of a token refused as kMalformed was wrong. Finer than TokenRejection, for a service
// that words its own messages (identity); count and branch on TokenRejection.
enum class MalformedPart {
  kSize,      // empty, or longer than the verifier's max_token_bytes
  kEncoding,  // not a compact JWS of JSON objects, no "alg", or a claim of the wrong type
  kKeyId,     // the header names no "kid"
  kClaims,    // a required claim is missing ("exp"; "sub" or "jti" where required)
};

// A stable lower-case name ("malformed", "bad_signature", ...), for logs and payloads.
std::string_view TokenRejectionName(TokenRejection why);

// UNAUTHENTICATED "invalid token: <detail>" carrying `why` (`detail` must not hold the token).
absl::Status TokenRejectedError(TokenRejection why, std::string_view detail);

// TokenRejectedError(kMalformed, detail) that also carries `part` (MalformedPartOf).
absl::Status MalformedTokenError(MalformedPart part, std::string_view detail);

// The rejection `status` carries; nullopt for OK, for any other code, and for an UNAUTHENTICATED
// status TokenRejectedError did not make.
std::optional<TokenRejection> TokenRejectionOf(const absl::Status& status);

// The part MalformedTokenError attached; nullopt for every other status.
std::optional<MalformedPart> MalformedPartOf(const absl::Status& status);

// `rejection` (a non-OK status) with `message` in place of its message, keeping its code and
// typed reasons: for a service that words rejections its own way (`message` must not hold the
// token).
absl::Status RewordTokenRejection(const absl::Status& rejection, std::string_view message);

}  // namespace coffer::auth
