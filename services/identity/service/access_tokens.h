// Identity's access tokens: issues them, and checks the ones callers present back.
//
// Issue: an EdDSA JWT signed with SigningKeyManager's current key, carrying iss, sub, aud, iat,
// nbf (= iat), exp (= iat + ttl), a fresh jti, the scopes, the client id (service accounts) and
// the session id as "sid" (user sessions).
//
// Check: through pkg/auth's TokenVerifier, the one token verification path of Coffer
// (docs/architecture.md §6), over this service's own published keys (SigningKeyManager is its
// auth::KeySource): size, structure, alg EdDSA, no "crit" header, a published kid, the signature,
// "exp", "sub" and "jti" present, exp and nbf within the clock leeway, iss and aud. No
// verified-token cache (every call asks the database about revocation anyway) and no
// introspection. A rejection is UNAUTHENTICATED with identity's own message (stable for its
// clients: "access token has expired", "access token is signed by an unknown key", ...) and
// carries the typed reason (auth::TokenRejectionOf); an error reading the keys (the database) is
// returned as it is. VerifyActive then asks the database whether the token was revoked.
//
// Lifecycle: built by IdentityService; the keys, repositories and clock must outlive it.
// Threading: thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/auth/clock.h"
#include "pkg/auth/jwt.h"
#include "pkg/auth/token_verifier.h"
#include "services/identity/domain/model.h"
#include "services/identity/repository/service_account_repository.h"
#include "services/identity/repository/session_repository.h"
#include "services/identity/service/signing_key_manager.h"

namespace coffer::identity {

// What identity's access tokens say and how strictly they are checked.
struct AccessTokenPolicy {
  std::string issuer;
  std::string audience;
  std::chrono::seconds ttl{std::chrono::minutes(15)};
  std::chrono::seconds clock_leeway{5};  // tolerance for exp and nbf
};

// An access token whose signature and claims were checked (not yet whether it was revoked).
struct VerifiedAccessToken {
  auth::Claims claims;
  std::string session_id;  // the "sid" claim; empty for client-credentials tokens
};

class AccessTokens {
 public:
  AccessTokens(AccessTokenPolicy policy, SigningKeyManager& keys, SessionRepository& sessions,
               ServiceAccountRepository& accounts, const auth::Clock& clock);

  // OK, or INVALID_ARGUMENT when the policy makes no verifier (empty issuer or audience, negative
  // leeway); every verification then fails with it.
  absl::Status status() const { return verifier_.status(); }

  // A token for `subject` issued at `now`; `client_id` and `session_id` may be empty. The signing
  // key's error when there is none (before SigningKeyManager::Init).
  absl::StatusOr<std::string> Issue(const std::string& subject,
                                    const std::vector<std::string>& scopes,
                                    const std::string& client_id, const std::string& session_id,
                                    Time now);

  // Checks `token` (see the file comment), then that it is still active: neither it nor its
  // session was revoked and, for a service account's token, the account still exists and is not
  // newer than the token (a deleted id re-created later). UNAUTHENTICATED with identity's message
  // when refused ("access token has been revoked" when inactive).
  absl::StatusOr<VerifiedAccessToken> VerifyActive(std::string_view token);

  // Checks `token` like VerifyActive but accepts it past its "exp" and whether revoked or not:
  // Logout and Revoke end expired tokens' sessions.
  absl::StatusOr<VerifiedAccessToken> VerifyIgnoringExpiry(std::string_view token);

 private:
  // The verifier's answer in identity's terms: its wording of a rejection, or the token's claims
  // and session id.
  static absl::StatusOr<VerifiedAccessToken> FromVerifier(
      absl::StatusOr<auth::VerifiedToken> verified, std::string_view token);
  // See VerifyActive.
  absl::StatusOr<bool> IsActive(const VerifiedAccessToken& token);

  const AccessTokenPolicy policy_;
  SigningKeyManager& keys_;
  SessionRepository& sessions_;
  ServiceAccountRepository& accounts_;
  const absl::StatusOr<std::unique_ptr<auth::TokenVerifier>> verifier_;
};

}  // namespace coffer::identity
