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
#include "services/identity/service/identity_metrics.h"
#include "services/identity/service/password_hasher.h"
#include "services/identity/service/signing_key_manager.h"

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

struct IssuedTokens {
  std::string access_token;
  std::string refresh_token;  // empty for client credentials
  std::string scope;
  std::int64_t expires_in = 0;
  std::int64_t refresh_expires_in = 0;
};

struct Introspection {
  bool active = false;
  std::string sub, scope, client_id, token_type, jti, iss, aud;
  std::int64_t exp = 0, iat = 0;
};

struct Jwk {
  std::string kid;
  std::string x;  // base64url of the raw public key
};

struct JwksDocument {
  std::vector<Jwk> keys;  // current first
  std::string json;       // {"keys":[...]}
};

struct CreatedServiceAccount {
  std::string client_id, client_secret, name;
  std::vector<std::string> scopes;
};

struct ServiceAccountPage {
  std::vector<ServiceAccount> accounts;
  std::string next_page_token;
};

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

  // `display_name` is optional (empty = none); see ValidateDisplayName.
  absl::StatusOr<std::string> Register(const RequestContext& ctx, std::string_view login,
                                       std::string_view password,
                                       std::string_view display_name = {});
  absl::StatusOr<IssuedTokens> Login(const RequestContext& ctx, std::string_view login,
                                     std::string_view password, std::string_view client_address);
  absl::StatusOr<IssuedTokens> Refresh(std::string_view refresh_token);
  absl::Status Logout(const RequestContext& ctx, std::string_view refresh_token);
  absl::Status Revoke(const RequestContext& ctx, std::string_view token,
                      std::string_view token_type_hint);
  absl::StatusOr<Introspection> Introspect(const Caller& caller, std::string_view token);
  JwksDocument GetJwks();
  absl::StatusOr<std::string> RotateSigningKey(const RequestContext& ctx);
  absl::StatusOr<CreatedServiceAccount> CreateServiceAccount(
      const RequestContext& ctx, std::string_view name, const std::vector<std::string>& scopes);
  absl::StatusOr<ServiceAccountPage> ListServiceAccounts(const RequestContext& ctx, int page_size,
                                                         std::string_view page_token);
  absl::Status DeleteServiceAccount(const RequestContext& ctx, std::string_view client_id);
  absl::StatusOr<IssuedTokens> ClientCredentials(std::string_view client_id,
                                                 std::string_view client_secret,
                                                 std::string_view scope);
  absl::StatusOr<WhoAmIResult> WhoAmI(const RequestContext& ctx);

  // The user whose login is exactly `login` after NormalizeLogin. Authenticated (any live access
  // token); rate limited per caller subject (config lookup_per_subject). NOT_FOUND when no user
  // has the login (service accounts have no profile). Messages never echo the login.
  absl::StatusOr<UserProfile> LookupUser(const RequestContext& ctx, std::string_view login);

  // The user with this id. Authenticated. INVALID_ARGUMENT when `user_id` is not a UUID;
  // NOT_FOUND when no user has it.
  absl::StatusOr<UserProfile> GetUser(const RequestContext& ctx, std::string_view user_id);

  // Verifies a bearer access token (signature, issuer, audience, times, revocation, service
  // account still existing). UNAUTHENTICATED with a reason otherwise.
  absl::StatusOr<Caller> Authenticate(std::string_view bearer_token);

  // Authenticates a service account by id and secret (HTTP Basic auth for introspection).
  absl::StatusOr<Caller> AuthenticateClient(std::string_view client_id,
                                            std::string_view client_secret);

  const IdentityServiceConfig& config() const { return config_; }

  // The Argon2id slots every password hash and verification runs in (metrics, tests).
  PasswordHasher& password_hasher() { return hasher_; }

 private:
  struct VerifiedAccessToken;

  absl::StatusOr<VerifiedAccessToken> VerifyAccessToken(std::string_view token, bool check_expiry);
  absl::StatusOr<bool> IsActive(const VerifiedAccessToken& token);
  absl::StatusOr<Caller> RequireScope(const RequestContext& ctx, std::string_view scope);
  absl::StatusOr<std::string> SignAccessToken(const std::string& subject,
                                              const std::vector<std::string>& scopes,
                                              const std::string& client_id,
                                              const std::string& session_id,
                                              std::chrono::system_clock::time_point now);
  absl::StatusOr<IssuedTokens> StartSession(const User& user);
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

// A new random (version 4) UUID in canonical text form.
std::string NewUuid();

}  // namespace coffer::identity
