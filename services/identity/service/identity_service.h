// The identity service's use cases: accounts, login, token issue / refresh / revoke,
// introspection, JWKS, service accounts. Framework-free: the gRPC and HTTP transports decode
// requests into these calls and map the returned Status (whose codes are gRPC's) and values.
//
// Security rules enforced here (see README "Threat model"):
//   * a failed login says the same thing whether or not the login exists, and runs one
//     Argon2id verification either way (against a dummy hash) so timing does not tell either;
//   * every Argon2id hash and verification runs in one of a few slots (PasswordHasher), so
//     concurrent logins cannot exhaust memory; with every slot busy past a short wait, Login and
//     Register answer RESOURCE_EXHAUSTED "too many ... in progress; retry after 1s";
//   * Login and Register are rate limited per login and per client address, LookupUser per
//     caller (it is the one way to test whether a login exists);
//   * refresh tokens are single-use; presenting a used one revokes its whole family;
//   * only hashes of refresh tokens and client secrets are stored;
//   * every input is bounded and checked before anything is stored; a refused request changes
//     no stored state (except reuse detection, whose whole point is to revoke).
//
// One class, implemented by one .cc file per concern:
//   identity_service.cc           construction, Bootstrap, rate limits and overload answers;
//   identity_service_login.cc     Register, Login (accounts, passwords);
//   identity_service_sessions.cc  sessions: Refresh, Logout, Revoke;
//   identity_service_tokens.cc    Authenticate, Introspect, JWKS, key rotation;
//   identity_service_clients.cc   service accounts and the client-credentials grant;
//   identity_service_profiles.cc  WhoAmI, LookupUser, GetUser.
// Access tokens themselves (signing, verification through pkg/auth, revocation) are AccessTokens.
//
// Lifecycle: construct in the composition root with its repositories (which must outlive it),
// then call Bootstrap() once. Threading: every method is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/auth/clock.h"
#include "pkg/crypto/password.h"
#include "services/identity/domain/password_policy.h"
#include "services/identity/domain/rate_limiter.h"
#include "services/identity/repository/service_account_repository.h"
#include "services/identity/repository/session_repository.h"
#include "services/identity/repository/user_repository.h"
#include "services/identity/service/access_tokens.h"
#include "services/identity/service/identity_metrics.h"
#include "services/identity/service/password_hasher.h"
#include "services/identity/service/signing_key_manager.h"
#include "services/identity/service/uuid.h"

namespace coffer::identity {

struct IdentityServiceConfig {
  std::string issuer = "coffer-identity";
  std::string audience = "coffer";
  std::chrono::seconds access_token_ttl{std::chrono::minutes(15)};
  std::chrono::seconds refresh_token_ttl{std::chrono::hours(24 * 30)};
  // Tolerance for exp/nbf when this service verifies tokens (clock skew between replicas).
  std::chrono::seconds clock_leeway{5};
  // Scopes granted to user tokens.
  std::vector<std::string> user_scopes = {"vault"};
  PasswordPolicy password_policy;
  crypto::PasswordHashParams password_hash;
  // Argon2id computations allowed at once (each takes password_hash.mem_limit bytes), and how
  // long a request waits for a free slot before RESOURCE_EXHAUSTED.
  int max_concurrent_password_hashes = 4;
  std::chrono::milliseconds password_hash_queue_timeout{2000};
  RateLimit login_per_login{10, std::chrono::seconds(60)};
  RateLimit login_per_address{30, std::chrono::seconds(60)};
  RateLimit register_per_login{5, std::chrono::seconds(60)};
  RateLimit register_per_address{10, std::chrono::seconds(60)};
  RateLimit lookup_per_subject{60, std::chrono::seconds(60)};
  // Peers (IP addresses) allowed to name the end user's address in LoginRequest.client_address
  // (a trusted REST gateway). Anyone else's claim is ignored, or it would dodge the limit.
  std::vector<std::string> trusted_forwarders;
  // Bootstrap admin service account (both empty = none).
  std::string bootstrap_admin_client_id;
  std::string bootstrap_admin_client_secret;
};

// Minimum length of a bootstrap admin secret: it is stored as a plain SHA-256, which is safe only
// for high-entropy secrets.
inline constexpr std::size_t kMinClientSecretLength = 16;

// What a transport knows about the caller of one request.
struct RequestContext {
  std::string bearer_token;  // from "authorization: Bearer ..."; empty = none
  std::string peer_address;  // IP address of the direct peer (no port); may be empty
};

// An authenticated caller (from a verified access token or client credentials).
struct Caller {
  std::string subject;
  std::vector<std::string> scopes;
  std::string client_id;  // service accounts only
  std::string jti;        // empty for client-credentials authentication over HTTP
};

// What a grant (Login, Refresh, ClientCredentials) returns; lifetimes in seconds.
struct IssuedTokens {
  std::string access_token;
  std::string refresh_token;  // empty for client credentials
  std::string scope;
  std::int64_t expires_in = 0;
  std::int64_t refresh_expires_in = 0;
};

// An RFC 7662 introspection answer; every field but `active` is empty or 0 when inactive.
struct Introspection {
  bool active = false;
  std::string sub, scope, client_id, token_type, jti, iss, aud;
  std::int64_t exp = 0, iat = 0;
};

// One published signing key (Ed25519).
struct Jwk {
  std::string kid;
  std::string x;  // base64url of the raw public key
};

// The published keys, as values and as the JWKS JSON served over HTTP.
struct JwksDocument {
  std::vector<Jwk> keys;  // current first
  std::string json;       // {"keys":[...]}
};

// A new service account with its secret, which is shown only this once.
struct CreatedServiceAccount {
  std::string client_id, client_secret, name;
  std::vector<std::string> scopes;
};

// One page of ListServiceAccounts; `next_page_token` is empty on the last page.
struct ServiceAccountPage {
  std::vector<ServiceAccount> accounts;
  std::string next_page_token;
};

// What WhoAmI tells the caller about itself.
struct WhoAmIResult {
  std::string sub, login;
  std::vector<std::string> scopes;
  bool is_service_account = false;
};

// What any signed-in caller may know about a user (LookupUser, GetUser): nothing secret.
struct UserProfile {
  std::string user_id;  // the user's token subject (a lowercase UUID)
  std::string login;    // normalized
  std::string display_name;
  Time created_at;
};

class IdentityService {
 public:
  // `metrics` may be null (unit tests).
  IdentityService(IdentityServiceConfig config, UserRepository& users,
                  ServiceAccountRepository& accounts, SessionRepository& sessions,
                  SigningKeyManager& keys, const auth::Clock& clock, IdentityMetrics* metrics);

  // Creates the bootstrap admin service account when configured and absent. Also validates the
  // configuration (INVALID_ARGUMENT).
  absl::Status Bootstrap();

  // ---- accounts and login (identity_service_login.cc) ----

  // Creates a user with the configured user scopes; returns its id. `display_name` is optional
  // (empty = none; see ValidateDisplayName). INVALID_ARGUMENT for a bad login, password or name;
  // RESOURCE_EXHAUSTED when rate limited or no Argon2id slot is free; ALREADY_EXISTS for a taken
  // login.
  absl::StatusOr<std::string> Register(const RequestContext& ctx, std::string_view login,
                                       std::string_view password,
                                       std::string_view display_name = {});
  // Checks the password and starts a session (an access token and its first refresh token).
  // `client_address` counts instead of the peer's for rate limiting only when the peer is a
  // trusted forwarder. UNAUTHENTICATED "invalid login or password" whether or not the login
  // exists; RESOURCE_EXHAUSTED when rate limited or no Argon2id slot is free.
  absl::StatusOr<IssuedTokens> Login(const RequestContext& ctx, std::string_view login,
                                     std::string_view password, std::string_view client_address);

  // ---- sessions (identity_service_sessions.cc) ----

  // Exchanges a refresh token for a new access token and the session's next refresh token.
  // UNAUTHENTICATED when it is unknown, expired, revoked or used before (which revokes the
  // session).
  absl::StatusOr<IssuedTokens> Refresh(std::string_view refresh_token);
  // Ends the session of `refresh_token` and of the caller's access token (expired or not) and
  // revokes that access token. Tokens this service did not issue are ignored (OK); the refresh
  // token is required only without a bearer token.
  absl::Status Logout(const RequestContext& ctx, std::string_view refresh_token);
  // RFC 7009: revokes `token` (an access token, expired or not, or a refresh token's session) if
  // it is the caller's or the caller is an admin; OK without effect otherwise. Needs a live
  // access token; INVALID_ARGUMENT for a hint other than "", "access_token", "refresh_token".
  absl::Status Revoke(const RequestContext& ctx, std::string_view token,
                      std::string_view token_type_hint);

  // ---- tokens and keys (identity_service_tokens.cc) ----

  // Verifies a bearer access token (signature, issuer, audience, times, revocation, service
  // account still existing). UNAUTHENTICATED with a reason otherwise.
  absl::StatusOr<Caller> Authenticate(std::string_view bearer_token);
  // RFC 7662: whether `token` (access or refresh) is active, and its claims when it is. Without
  // the introspect or admin scope a caller may introspect only its own live tokens
  // (PERMISSION_DENIED otherwise, which reveals nothing about the token).
  absl::StatusOr<Introspection> Introspect(const Caller& caller, std::string_view token);
  // The published public keys, current first.
  JwksDocument GetJwks();
  // Starts a signing key rotation (admin scope); returns the kid of the key that signs next
  // (SigningKeyManager::Rotate).
  absl::StatusOr<std::string> RotateSigningKey(const RequestContext& ctx);

  // ---- service accounts (identity_service_clients.cc) ----

  // Creates a service account (admin scope) with the given scopes; its secret is stored only
  // hashed. INVALID_ARGUMENT for a bad name or scope; ALREADY_EXISTS for a taken name.
  absl::StatusOr<CreatedServiceAccount> CreateServiceAccount(
      const RequestContext& ctx, std::string_view name, const std::vector<std::string>& scopes);
  // One page of service accounts in name order (admin scope); page_size 0 means 100, and at
  // most 1000 are returned. INVALID_ARGUMENT for a negative size or a bad page token.
  absl::StatusOr<ServiceAccountPage> ListServiceAccounts(const RequestContext& ctx, int page_size,
                                                         std::string_view page_token);
  // Deletes a service account (admin scope); its tokens stop working at once. NOT_FOUND when
  // unknown.
  absl::Status DeleteServiceAccount(const RequestContext& ctx, std::string_view client_id);
  // OAuth client-credentials grant: an access token (no refresh token) with the requested scopes,
  // all of the account's when `scope` is empty. UNAUTHENTICATED "invalid client credentials" for
  // an unknown id and a wrong secret alike; PERMISSION_DENIED for a scope the account lacks.
  absl::StatusOr<IssuedTokens> ClientCredentials(std::string_view client_id,
                                                 std::string_view client_secret,
                                                 std::string_view scope);
  // Authenticates a service account by id and secret (HTTP Basic auth for introspection).
  absl::StatusOr<Caller> AuthenticateClient(std::string_view client_id,
                                            std::string_view client_secret);

  // ---- profiles (identity_service_profiles.cc) ----

  // The caller's subject, scopes and login (a service account's name). UNAUTHENTICATED when the
  // user or service account no longer exists.
  absl::StatusOr<WhoAmIResult> WhoAmI(const RequestContext& ctx);

  // The user whose login is exactly `login` after NormalizeLogin. Authenticated (any live access
  // token); rate limited per caller subject (config lookup_per_subject). NOT_FOUND when no user
  // has the login (service accounts have no profile). Messages never echo the login.
  absl::StatusOr<UserProfile> LookupUser(const RequestContext& ctx, std::string_view login);

  // The user with this id. Authenticated. INVALID_ARGUMENT when `user_id` is not a UUID;
  // NOT_FOUND when no user has it.
  absl::StatusOr<UserProfile> GetUser(const RequestContext& ctx, std::string_view user_id);

  const IdentityServiceConfig& config() const { return config_; }

  // The Argon2id slots every password hash and verification runs in (metrics, tests).
  PasswordHasher& password_hasher() { return hasher_; }

 private:
  // Authenticate, then PERMISSION_DENIED unless the caller has `scope`.
  absl::StatusOr<Caller> RequireScope(const RequestContext& ctx, std::string_view scope);
  // A new session for `user`: stores its refresh-token family and first token, signs the access
  // token.
  absl::StatusOr<IssuedTokens> StartSession(const User& user);
  // RESOURCE_EXHAUSTED with a retry delay when `key` has no attempt left in `limiter`.
  absl::Status CheckRateLimit(RateLimiter& limiter, const std::string& key);
  // The caller-facing form of a full Argon2id queue (`what`: "logins", "registrations").
  static absl::Status Overloaded(std::string_view what);
  std::chrono::system_clock::time_point Now() const;

  const IdentityServiceConfig config_;
  UserRepository& users_;
  ServiceAccountRepository& accounts_;
  SessionRepository& sessions_;
  SigningKeyManager& keys_;
  const auth::Clock& clock_;
  IdentityMetrics* const metrics_;
  AccessTokens tokens_;

  RateLimiter login_by_login_;
  RateLimiter login_by_address_;
  RateLimiter register_by_login_;
  RateLimiter register_by_address_;
  RateLimiter lookup_by_subject_;
  PasswordHasher hasher_;
  // A valid Argon2id hash of a random password, verified when the login does not exist so that
  // the answer takes as long as for a wrong password.
  std::string dummy_password_hash_;
};

}  // namespace coffer::identity
