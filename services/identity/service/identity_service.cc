#include "services/identity/service/identity_service.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "pkg/auth/jwt.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"
#include "pkg/crypto/random.h"
#include "pkg/log/log.h"
#include "pkg/status/status.h"
#include "services/identity/domain/login.h"
#include "services/identity/domain/refresh_token.h"
#include "services/identity/domain/scopes.h"
#include "services/identity/domain/validation.h"

namespace coffer::identity {
namespace {

using SysTime = std::chrono::system_clock::time_point;

constexpr char kInvalidCredentials[] = "invalid login or password";
constexpr char kInvalidClient[] = "invalid client credentials";
constexpr std::size_t kMaxClientSecretBytes = 256;
constexpr std::size_t kMaxScopeStringBytes = 4096;
constexpr std::size_t kMaxAddressBytes = 128;
constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

const log::Logger& Log() {
  static const log::Logger logger("identity");
  return logger;
}

std::int64_t UnixSeconds(SysTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

bool HasScope(const std::vector<std::string>& scopes, std::string_view scope) {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

std::string HashSecret(std::string_view secret) { return crypto::Sha256(secret); }

// The caller-facing form of an UNAUTHENTICATED verification failure is kept; anything else
// (database down, ...) is an infrastructure error and passes through unchanged.
bool IsTokenRejection(const absl::Status& s) { return absl::IsUnauthenticated(s); }

// The public part of a user: never the password hash or the scopes.
UserProfile ProfileOf(const User& user) {
  return UserProfile{user.id, user.login, user.display_name, user.created_at};
}

}  // namespace

std::string NewUuid() {
  std::string b = crypto::RandomBytes(16);
  b[6] = static_cast<char>((static_cast<unsigned char>(b[6]) & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<char>((static_cast<unsigned char>(b[8]) & 0x3F) | 0x80);  // RFC 4122 variant
  const std::string h = crypto::HexEncode(b);
  return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                     h.substr(16, 4), h.substr(20, 12));
}

struct IdentityService::VerifiedAccessToken {
  auth::Claims claims;
  std::string session_id;  // "sid" claim; empty for client-credentials tokens
};

IdentityService::IdentityService(IdentityServiceConfig config, UserRepository& users,
                                 ServiceAccountRepository& accounts, SessionRepository& sessions,
                                 SigningKeyManager& keys, const auth::Clock& clock,
                                 IdentityMetrics* metrics)
    : config_(std::move(config)),
      users_(users),
      accounts_(accounts),
      sessions_(sessions),
      keys_(keys),
      clock_(clock),
      metrics_(metrics),
      login_by_login_(config_.login_per_login),
      login_by_address_(config_.login_per_address),
      register_by_login_(config_.register_per_login),
      register_by_address_(config_.register_per_address),
      lookup_by_subject_(config_.lookup_per_subject),
      hasher_(PasswordHasherOptions{config_.password_hash, config_.max_concurrent_password_hashes,
                                    config_.password_hash_queue_timeout},
              metrics) {}

SysTime IdentityService::Now() const { return absl::ToChronoTime(clock_.Now()); }

absl::Status IdentityService::Bootstrap() {
  if (config_.issuer.empty()) return absl::InvalidArgumentError("issuer must not be empty");
  if (config_.audience.empty()) return absl::InvalidArgumentError("audience must not be empty");
  if (config_.access_token_ttl.count() <= 0 || config_.refresh_token_ttl.count() <= 0) {
    return absl::InvalidArgumentError("token lifetimes must be positive");
  }
  if (config_.password_policy.max_bytes > kMaxPasswordBytes) {
    return absl::InvalidArgumentError(
        fmt::format("password max length must be at most {} bytes", kMaxPasswordBytes));
  }
  if (config_.max_concurrent_password_hashes < 1) {
    return absl::InvalidArgumentError("max concurrent password hashes must be at least 1");
  }
  if (config_.password_hash_queue_timeout.count() < 0) {
    return absl::InvalidArgumentError("password hash queue timeout must not be negative");
  }
  COFFER_ASSIGN_OR_RETURN(auto user_scopes, NormalizeScopes(config_.user_scopes));
  (void)user_scopes;
  // The dummy hash uses the configured parameters, so it costs what a real verification costs.
  COFFER_ASSIGN_OR_RETURN(dummy_password_hash_, hasher_.Hash(crypto::RandomToken(16)));

  if (config_.bootstrap_admin_client_id.empty() && config_.bootstrap_admin_client_secret.empty()) {
    return absl::OkStatus();
  }
  COFFER_RETURN_IF_ERROR(ValidateClientId(config_.bootstrap_admin_client_id));
  if (config_.bootstrap_admin_client_secret.size() < kMinClientSecretLength ||
      config_.bootstrap_admin_client_secret.size() > kMaxClientSecretBytes) {
    return absl::InvalidArgumentError(fmt::format(
        "bootstrap admin client secret must be {} to {} characters (use a random string)",
        kMinClientSecretLength, kMaxClientSecretBytes));
  }
  ServiceAccount admin;
  admin.client_id = config_.bootstrap_admin_client_id;
  admin.name = config_.bootstrap_admin_client_id;
  admin.scopes = {std::string(kAdminScope), std::string(kIntrospectScope)};
  admin.secret_hash = HashSecret(config_.bootstrap_admin_client_secret);
  admin.created_at = Now();
  COFFER_ASSIGN_OR_RETURN(bool created, accounts_.CreateIfAbsent(admin));
  if (created) {
    Log().Info("bootstrap admin service account created", {{"client_id", admin.client_id}});
  }
  return absl::OkStatus();
}

absl::Status IdentityService::CheckRateLimit(RateLimiter& limiter, const std::string& key) {
  RateLimiter::Decision d = limiter.Acquire(key, Now());
  if (d.allowed) return absl::OkStatus();
  return status::WithRetryAfter(absl::ResourceExhaustedError(fmt::format(
                                    "too many attempts; retry after {}s", d.retry_after.count())),
                                std::chrono::seconds(d.retry_after.count()));
}

absl::Status IdentityService::Overloaded(std::string_view what) {
  constexpr int kRetryAfterSeconds = 1;
  return status::WithRetryAfter(
      absl::ResourceExhaustedError(
          fmt::format("too many {} in progress; retry after {}s", what, kRetryAfterSeconds)),
      std::chrono::seconds(kRetryAfterSeconds));
}

// ---- accounts and sessions ----

absl::StatusOr<std::string> IdentityService::Register(const RequestContext& ctx,
                                                      std::string_view login,
                                                      std::string_view password,
                                                      std::string_view display_name) {
  auto normalized = NormalizeLogin(login);
  absl::Status valid = normalized.status();
  if (valid.ok()) valid = CheckPassword(config_.password_policy, password, *normalized);
  if (valid.ok()) valid = ValidateDisplayName(display_name);
  if (!valid.ok()) {
    if (metrics_) metrics_->registration_invalid_argument.Increment();
    return valid;
  }
  absl::Status limited =
      CheckRateLimit(register_by_address_, "a:" + AddressRateKey(ctx.peer_address));
  if (limited.ok()) limited = CheckRateLimit(register_by_login_, "l:" + *normalized);
  if (!limited.ok()) {
    if (metrics_) metrics_->registration_rate_limited.Increment();
    return limited;
  }
  // RunInSlot rather than hasher_.Hash: "no slot in time" (overloaded, retry) must not be
  // confused with libsodium failing to allocate (also RESOURCE_EXHAUSTED, an error).
  absl::StatusOr<std::string> hash;
  absl::Status slot =
      hasher_.RunInSlot([&] { hash = crypto::HashPassword(password, config_.password_hash); });
  if (!slot.ok()) {
    if (metrics_) metrics_->registration_overloaded.Increment();
    return Overloaded("registrations");
  }
  if (!hash.ok()) {
    if (metrics_) metrics_->registration_error.Increment();
    return hash.status();
  }
  User user;
  user.id = NewUuid();
  user.login = *normalized;
  user.password_hash = *std::move(hash);
  user.scope = JoinScopes(*NormalizeScopes(config_.user_scopes));
  user.display_name = std::string(display_name);
  user.created_at = Now();
  absl::Status created = users_.Create(user);
  if (!created.ok()) {
    if (metrics_) {
      (absl::IsAlreadyExists(created) ? metrics_->registration_already_exists
                                      : metrics_->registration_error)
          .Increment();
    }
    if (absl::IsAlreadyExists(created)) return absl::AlreadyExistsError("login is already taken");
    return created;
  }
  if (metrics_) metrics_->registration_success.Increment();
  Log().Info("user registered", {{"user_id", user.id}});
  return user.id;
}

absl::StatusOr<IssuedTokens> IdentityService::Login(const RequestContext& ctx,
                                                    std::string_view login,
                                                    std::string_view password,
                                                    std::string_view client_address) {
  auto normalized = NormalizeLogin(login);
  absl::Status valid = normalized.status();
  if (valid.ok()) valid = CheckStringField("password", password, kMaxPasswordBytes);
  if (valid.ok())
    valid = CheckStringField("client_address", client_address, kMaxAddressBytes,
                             /*required=*/false);
  if (!valid.ok()) {
    if (metrics_) metrics_->login_invalid_argument.Increment();
    return valid;
  }
  std::string address = ctx.peer_address;
  if (!client_address.empty() &&
      std::find(config_.trusted_forwarders.begin(), config_.trusted_forwarders.end(),
                ctx.peer_address) != config_.trusted_forwarders.end()) {
    address = std::string(client_address);
  }
  absl::Status limited = CheckRateLimit(login_by_address_, "a:" + AddressRateKey(address));
  if (limited.ok()) limited = CheckRateLimit(login_by_login_, "l:" + *normalized);
  if (!limited.ok()) {
    if (metrics_) metrics_->login_rate_limited.Increment();
    return limited;
  }

  auto user = users_.FindByLogin(*normalized);
  if (!user.ok()) {
    if (!absl::IsNotFound(user.status())) {
      if (metrics_) metrics_->login_error.Increment();
      return user.status();
    }
    // Same work and same answer as a wrong password: existence of the login stays secret. The
    // dummy verification takes a slot like a real one (it costs the same memory).
    if (!hasher_.Verify(dummy_password_hash_, password).ok()) {
      if (metrics_) metrics_->login_overloaded.Increment();
      return Overloaded("logins");
    }
    if (metrics_) metrics_->login_invalid_credentials.Increment();
    return absl::UnauthenticatedError(kInvalidCredentials);
  }
  absl::StatusOr<bool> matches = hasher_.Verify(user->password_hash, password);
  if (!matches.ok()) {
    if (metrics_) metrics_->login_overloaded.Increment();
    return Overloaded("logins");
  }
  if (!*matches) {
    if (metrics_) metrics_->login_invalid_credentials.Increment();
    return absl::UnauthenticatedError(kInvalidCredentials);
  }
  if (hasher_.NeedsRehash(user->password_hash)) {
    // The cost parameters were raised since this hash was made: upgrade it while we hold the
    // password. Failure is harmless (the old hash still verifies), so it is only logged; that
    // includes finding every Argon2id slot busy (the next login tries again).
    auto rehashed = hasher_.Hash(password);
    absl::Status s = rehashed.status();
    if (s.ok()) s = users_.UpdatePasswordHash(user->id, user->password_hash, *rehashed).status();
    if (!s.ok()) Log().Warn("password rehash failed", {{"user_id", user->id}, {"status", s}});
  }
  auto tokens = StartSession(*user);
  if (metrics_) {
    (tokens.ok() ? metrics_->login_success : metrics_->login_error).Increment();
    if (tokens.ok()) metrics_->tokens_issued_password.Increment();
  }
  return tokens;
}

absl::StatusOr<IssuedTokens> IdentityService::StartSession(const User& user) {
  const SysTime now = Now();
  RefreshFamily family;
  family.id = NewUuid();
  family.subject = user.id;
  family.scope = user.scope;
  family.created_at = now;
  const std::string refresh = std::string(kRefreshTokenPrefix) + crypto::RandomToken(32);
  RefreshToken first;
  first.token_hash = crypto::Sha256(refresh);
  first.family_id = family.id;
  first.created_at = now;
  first.expires_at = now + config_.refresh_token_ttl;
  COFFER_ASSIGN_OR_RETURN(auto scopes, ParseScopeString(user.scope));
  COFFER_ASSIGN_OR_RETURN(std::string access, SignAccessToken(user.id, scopes, "", family.id, now));
  COFFER_RETURN_IF_ERROR(sessions_.CreateSession(family, first));
  IssuedTokens out;
  out.access_token = std::move(access);
  out.refresh_token = refresh;
  out.scope = user.scope;
  out.expires_in = config_.access_token_ttl.count();
  out.refresh_expires_in = config_.refresh_token_ttl.count();
  return out;
}

absl::StatusOr<IssuedTokens> IdentityService::Refresh(std::string_view refresh_token) {
  COFFER_RETURN_IF_ERROR(CheckStringField("refresh_token", refresh_token, kMaxTokenBytes));
  if (!LooksLikeRefreshToken(refresh_token)) {
    if (metrics_) metrics_->refresh_invalid.Increment();
    return RefreshVerdictToStatus(RefreshVerdict::kNotFound);
  }
  const SysTime now = Now();
  const std::string next_token = std::string(kRefreshTokenPrefix) + crypto::RandomToken(32);
  RefreshToken next;
  next.token_hash = crypto::Sha256(next_token);
  next.created_at = now;
  next.expires_at = now + config_.refresh_token_ttl;
  COFFER_ASSIGN_OR_RETURN(RotateResult rotated,
                          sessions_.Rotate(crypto::Sha256(refresh_token), next, now));
  if (rotated.verdict != RefreshVerdict::kValid) {
    if (metrics_) {
      (rotated.verdict == RefreshVerdict::kReused ? metrics_->refresh_reuse_detected
                                                  : metrics_->refresh_invalid)
          .Increment();
    }
    if (rotated.verdict == RefreshVerdict::kReused) {
      Log().Warn("refresh token reuse detected; session revoked",
                 {{"session_id", rotated.family.id}, {"user_id", rotated.family.subject}});
    }
    return RefreshVerdictToStatus(rotated.verdict);
  }
  COFFER_ASSIGN_OR_RETURN(auto scopes, ParseScopeString(rotated.family.scope));
  COFFER_ASSIGN_OR_RETURN(std::string access, SignAccessToken(rotated.family.subject, scopes, "",
                                                              rotated.family.id, now));
  if (metrics_) metrics_->tokens_issued_refresh.Increment();
  IssuedTokens out;
  out.access_token = std::move(access);
  out.refresh_token = next_token;
  out.scope = rotated.family.scope;
  out.expires_in = config_.access_token_ttl.count();
  out.refresh_expires_in = config_.refresh_token_ttl.count();
  return out;
}

absl::Status IdentityService::Logout(const RequestContext& ctx, std::string_view refresh_token) {
  COFFER_RETURN_IF_ERROR(CheckStringField("refresh_token", refresh_token, kMaxTokenBytes,
                                          /*required=*/ctx.bearer_token.empty()));
  Revocation r;
  r.reason = "logout";
  if (!refresh_token.empty() && LooksLikeRefreshToken(refresh_token)) {
    r.refresh_token_hash = crypto::Sha256(refresh_token);
  }
  if (!ctx.bearer_token.empty()) {
    auto v = VerifyAccessToken(ctx.bearer_token, /*check_expiry=*/false);
    if (v.ok()) {
      r.access_jti = v->claims.jti;
      r.access_expires_at = SysTime(std::chrono::seconds(v->claims.exp.value_or(0)));
      r.family_id = v->session_id;
    } else if (!IsTokenRejection(v.status())) {
      return v.status();
    }
  }
  if (r.refresh_token_hash.empty() && r.access_jti.empty() && r.family_id.empty()) {
    return absl::OkStatus();  // nothing we issued: logout is idempotent
  }
  COFFER_RETURN_IF_ERROR(sessions_.Revoke(r, Now()));
  if (metrics_) metrics_->revocations.Increment();
  return absl::OkStatus();
}

absl::Status IdentityService::Revoke(const RequestContext& ctx, std::string_view token,
                                     std::string_view token_type_hint) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, Authenticate(ctx.bearer_token));
  COFFER_RETURN_IF_ERROR(CheckStringField("token", token, kMaxTokenBytes));
  if (!token_type_hint.empty() && token_type_hint != "access_token" &&
      token_type_hint != "refresh_token") {
    return absl::InvalidArgumentError(
        "token_type_hint must be empty, \"access_token\" or \"refresh_token\"");
  }
  const bool admin = HasScope(caller.scopes, kAdminScope);
  Revocation r;
  r.reason = "revoke";
  if (LooksLikeRefreshToken(token)) {
    auto found = sessions_.FindRefreshToken(crypto::Sha256(token));
    if (absl::IsNotFound(found.status())) return absl::OkStatus();
    COFFER_RETURN_IF_ERROR(found.status());
    if (found->second.subject != caller.subject && !admin) return absl::OkStatus();
    r.family_id = found->second.id;
  } else {
    auto v = VerifyAccessToken(token, /*check_expiry=*/false);
    if (!v.ok()) return IsTokenRejection(v.status()) ? absl::OkStatus() : v.status();
    if (v->claims.sub != caller.subject && !admin) return absl::OkStatus();
    r.access_jti = v->claims.jti;
    r.access_expires_at = SysTime(std::chrono::seconds(v->claims.exp.value_or(0)));
    r.family_id = v->session_id;
  }
  COFFER_RETURN_IF_ERROR(sessions_.Revoke(r, Now()));
  if (metrics_) metrics_->revocations.Increment();
  return absl::OkStatus();
}

// ---- tokens ----

absl::StatusOr<std::string> IdentityService::SignAccessToken(const std::string& subject,
                                                             const std::vector<std::string>& scopes,
                                                             const std::string& client_id,
                                                             const std::string& session_id,
                                                             SysTime now) {
  COFFER_ASSIGN_OR_RETURN(SigningKeyManager::Signer signer, keys_.CurrentSigner());
  auth::Claims c;
  c.iss = config_.issuer;
  c.sub = subject;
  c.aud = {config_.audience};
  c.iat = UnixSeconds(now);
  c.nbf = c.iat;
  c.exp = *c.iat + config_.access_token_ttl.count();
  c.jti = NewUuid();
  c.scope = scopes;
  c.client_id = client_id;
  if (!session_id.empty()) c.extra["sid"] = session_id;
  return auth::SignJwt(c, signer.kid, signer.key);
}

absl::StatusOr<IdentityService::VerifiedAccessToken> IdentityService::VerifyAccessToken(
    std::string_view token, bool check_expiry) {
  if (token.empty()) return absl::UnauthenticatedError("access token is missing");
  if (token.size() > kMaxTokenBytes) return absl::UnauthenticatedError("access token is too long");
  auto decoded = auth::DecodeUnverified(token);
  if (!decoded.ok()) return absl::UnauthenticatedError("access token is malformed");
  if (decoded->alg != auth::kJwtAlgEdDsa) {
    return absl::UnauthenticatedError("access token algorithm is not accepted (only EdDSA)");
  }
  if (decoded->kid.empty()) return absl::UnauthenticatedError("access token has no key id");
  auto key = keys_.PublicKey(decoded->kid);
  if (absl::IsNotFound(key.status())) {
    return absl::UnauthenticatedError("access token is signed by an unknown key");
  }
  COFFER_RETURN_IF_ERROR(key.status());
  if (!key->Verify(decoded->signing_input, decoded->signature)) {
    return absl::UnauthenticatedError("access token signature is invalid");
  }
  const auth::Claims& c = decoded->claims;
  if (c.iss != config_.issuer) return absl::UnauthenticatedError("access token issuer is wrong");
  if (!HasScope(c.aud, config_.audience)) {
    return absl::UnauthenticatedError("access token audience is wrong");
  }
  if (c.sub.empty() || c.jti.empty() || !c.exp.has_value()) {
    return absl::UnauthenticatedError("access token lacks required claims");
  }
  const std::int64_t now = UnixSeconds(Now());
  const std::int64_t leeway = config_.clock_leeway.count();
  if (check_expiry && now >= *c.exp + leeway) {
    return absl::UnauthenticatedError("access token has expired");
  }
  if (c.nbf.has_value() && now + leeway < *c.nbf) {
    return absl::UnauthenticatedError("access token is not valid yet");
  }
  VerifiedAccessToken v{c, ""};
  if (auto it = c.extra.find("sid"); it != c.extra.end() && it->is_string()) {
    v.session_id = it->get<std::string>();
  }
  return v;
}

absl::StatusOr<bool> IdentityService::IsActive(const VerifiedAccessToken& token) {
  COFFER_ASSIGN_OR_RETURN(bool revoked,
                          sessions_.IsAccessTokenRevoked(token.claims.jti, token.session_id));
  if (revoked) return false;
  if (!token.claims.client_id.empty()) {
    // A deleted service account's tokens die with it (also when the id is re-created later).
    auto account = accounts_.FindByClientId(token.claims.client_id);
    if (absl::IsNotFound(account.status())) return false;
    COFFER_RETURN_IF_ERROR(account.status());
    if (token.claims.iat.value_or(0) <
        std::chrono::duration_cast<std::chrono::seconds>(account->created_at.time_since_epoch())
            .count()) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<Caller> IdentityService::Authenticate(std::string_view bearer_token) {
  if (bearer_token.empty()) {
    return absl::UnauthenticatedError("missing bearer token (authorization: Bearer <token>)");
  }
  COFFER_ASSIGN_OR_RETURN(VerifiedAccessToken v, VerifyAccessToken(bearer_token, true));
  COFFER_ASSIGN_OR_RETURN(bool active, IsActive(v));
  if (!active) return absl::UnauthenticatedError("access token has been revoked");
  return Caller{v.claims.sub, v.claims.scope, v.claims.client_id, v.claims.jti};
}

absl::StatusOr<Caller> IdentityService::RequireScope(const RequestContext& ctx,
                                                     std::string_view scope) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, Authenticate(ctx.bearer_token));
  if (!HasScope(caller.scopes, scope)) {
    return absl::PermissionDeniedError(fmt::format("this call needs the \"{}\" scope", scope));
  }
  return caller;
}

absl::StatusOr<Introspection> IdentityService::Introspect(const Caller& caller,
                                                          std::string_view token) {
  COFFER_RETURN_IF_ERROR(CheckStringField("token", token, kMaxTokenBytes));
  const bool privileged =
      HasScope(caller.scopes, kIntrospectScope) || HasScope(caller.scopes, kAdminScope);
  Introspection out;
  if (LooksLikeRefreshToken(token)) {
    auto found = sessions_.FindRefreshToken(crypto::Sha256(token));
    if (!found.ok() && !absl::IsNotFound(found.status())) return found.status();
    if (found.ok() &&
        ClassifyRefreshToken(found->first, found->second, Now()) == RefreshVerdict::kValid) {
      out.active = true;
      out.sub = found->second.subject;
      out.scope = found->second.scope;
      out.exp = UnixSeconds(found->first.expires_at);
      out.iat = UnixSeconds(found->first.created_at);
      out.token_type = "refresh_token";
      out.iss = config_.issuer;
    }
  } else {
    auto v = VerifyAccessToken(token, /*check_expiry=*/true);
    if (!v.ok() && !IsTokenRejection(v.status())) return v.status();
    if (v.ok()) {
      COFFER_ASSIGN_OR_RETURN(bool active, IsActive(*v));
      if (active) {
        out.active = true;
        out.sub = v->claims.sub;
        out.scope = JoinScopes(v->claims.scope);
        out.exp = v->claims.exp.value_or(0);
        out.iat = v->claims.iat.value_or(0);
        out.client_id = v->claims.client_id;
        out.token_type = "access_token";
        out.jti = v->claims.jti;
        out.iss = v->claims.iss;
        out.aud = config_.audience;
      }
    }
  }
  // Without the introspection scope a caller may only introspect its own live tokens; for
  // anything else it learns nothing (not even whether the token is valid).
  if (!privileged && (!out.active || out.sub != caller.subject)) {
    if (metrics_) metrics_->introspection_denied.Increment();
    return absl::PermissionDeniedError(fmt::format(
        "introspecting other callers' tokens needs the \"{}\" scope", kIntrospectScope));
  }
  if (metrics_) {
    (out.active ? metrics_->introspection_active : metrics_->introspection_inactive).Increment();
  }
  return out;
}

JwksDocument IdentityService::GetJwks() {
  JwksDocument doc;
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& k : keys_.PublishedKeys()) {
    Jwk jwk{k.kid, crypto::Base64UrlEncode(k.raw_public_key)};
    keys.push_back({{"kty", "OKP"},
                    {"crv", "Ed25519"},
                    {"x", jwk.x},
                    {"kid", jwk.kid},
                    {"use", "sig"},
                    {"alg", "EdDSA"}});
    doc.keys.push_back(std::move(jwk));
  }
  doc.json = nlohmann::json{{"keys", keys}}.dump();
  return doc;
}

absl::StatusOr<std::string> IdentityService::RotateSigningKey(const RequestContext& ctx) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, RequireScope(ctx, kAdminScope));
  COFFER_ASSIGN_OR_RETURN(std::string kid, keys_.Rotate());
  Log().Info("signing key rotated on request", {{"kid", kid}, {"by", caller.subject}});
  return kid;
}

// ---- service accounts ----

absl::StatusOr<CreatedServiceAccount> IdentityService::CreateServiceAccount(
    const RequestContext& ctx, std::string_view name, const std::vector<std::string>& scopes) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, RequireScope(ctx, kAdminScope));
  COFFER_RETURN_IF_ERROR(ValidateServiceAccountName(name));
  COFFER_ASSIGN_OR_RETURN(std::vector<std::string> normalized, NormalizeScopes(scopes));
  CreatedServiceAccount out;
  out.client_id = "sa_" + crypto::RandomToken(12);
  out.client_secret = "cfs_" + crypto::RandomToken(32);
  out.name = std::string(name);
  out.scopes = normalized;
  ServiceAccount account;
  account.client_id = out.client_id;
  account.name = out.name;
  account.scopes = std::move(normalized);
  account.secret_hash = HashSecret(out.client_secret);
  account.created_at = Now();
  absl::Status s = accounts_.Create(account);
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError("a service account with this name already exists");
  }
  COFFER_RETURN_IF_ERROR(s);
  Log().Info("service account created", {{"client_id", out.client_id}, {"by", caller.subject}});
  return out;
}

absl::StatusOr<ServiceAccountPage> IdentityService::ListServiceAccounts(
    const RequestContext& ctx, int page_size, std::string_view page_token) {
  COFFER_RETURN_IF_ERROR(RequireScope(ctx, kAdminScope).status());
  if (page_size < 0) return absl::InvalidArgumentError("page_size must not be negative");
  const int size = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  std::string after;
  if (!page_token.empty()) {
    COFFER_ASSIGN_OR_RETURN(after, DecodeServiceAccountPageToken(page_token));
  }
  COFFER_ASSIGN_OR_RETURN(auto accounts, accounts_.List(after, static_cast<std::size_t>(size) + 1));
  ServiceAccountPage page;
  if (accounts.size() > static_cast<std::size_t>(size)) {
    accounts.resize(static_cast<std::size_t>(size));
    page.next_page_token = EncodeServiceAccountPageToken(accounts.back().name);
  }
  page.accounts = std::move(accounts);
  return page;
}

absl::Status IdentityService::DeleteServiceAccount(const RequestContext& ctx,
                                                   std::string_view client_id) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, RequireScope(ctx, kAdminScope));
  COFFER_RETURN_IF_ERROR(ValidateClientId(client_id));
  COFFER_RETURN_IF_ERROR(accounts_.Delete(client_id));
  Log().Info("service account deleted",
             {{"client_id", std::string(client_id)}, {"by", caller.subject}});
  return absl::OkStatus();
}

absl::StatusOr<Caller> IdentityService::AuthenticateClient(std::string_view client_id,
                                                           std::string_view client_secret) {
  COFFER_RETURN_IF_ERROR(ValidateClientId(client_id));
  COFFER_RETURN_IF_ERROR(CheckStringField("client_secret", client_secret, kMaxClientSecretBytes));
  const std::string presented = HashSecret(client_secret);
  auto account = accounts_.FindByClientId(client_id);
  if (absl::IsNotFound(account.status())) {
    // Compare anyway so that unknown ids and wrong secrets take the same time.
    (void)crypto::ConstantTimeEquals(presented, std::string(crypto::kSha256Size, '\0'));
    return absl::UnauthenticatedError(kInvalidClient);
  }
  COFFER_RETURN_IF_ERROR(account.status());
  if (!crypto::ConstantTimeEquals(presented, account->secret_hash)) {
    return absl::UnauthenticatedError(kInvalidClient);
  }
  return Caller{account->client_id, account->scopes, account->client_id, ""};
}

absl::StatusOr<IssuedTokens> IdentityService::ClientCredentials(std::string_view client_id,
                                                                std::string_view client_secret,
                                                                std::string_view scope) {
  COFFER_RETURN_IF_ERROR(CheckStringField("scope", scope, kMaxScopeStringBytes, false));
  COFFER_ASSIGN_OR_RETURN(Caller client, AuthenticateClient(client_id, client_secret));
  COFFER_ASSIGN_OR_RETURN(std::vector<std::string> granted, GrantScopes(scope, client.scopes));
  COFFER_ASSIGN_OR_RETURN(std::string access,
                          SignAccessToken(client.subject, granted, client.client_id, "", Now()));
  if (metrics_) metrics_->tokens_issued_client_credentials.Increment();
  IssuedTokens out;
  out.access_token = std::move(access);
  out.scope = JoinScopes(granted);
  out.expires_in = config_.access_token_ttl.count();
  return out;
}

absl::StatusOr<WhoAmIResult> IdentityService::WhoAmI(const RequestContext& ctx) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, Authenticate(ctx.bearer_token));
  WhoAmIResult out;
  out.sub = caller.subject;
  out.scopes = caller.scopes;
  out.is_service_account = !caller.client_id.empty();
  if (out.is_service_account) {
    auto account = accounts_.FindByClientId(caller.client_id);
    if (absl::IsNotFound(account.status())) {
      return absl::UnauthenticatedError("service account no longer exists");
    }
    COFFER_RETURN_IF_ERROR(account.status());
    out.login = account->name;
  } else {
    auto user = users_.FindById(caller.subject);
    if (absl::IsNotFound(user.status())) return absl::UnauthenticatedError("user no longer exists");
    COFFER_RETURN_IF_ERROR(user.status());
    out.login = user->login;
  }
  return out;
}

// ---- public profiles ----

absl::StatusOr<UserProfile> IdentityService::LookupUser(const RequestContext& ctx,
                                                        std::string_view login) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, Authenticate(ctx.bearer_token));
  // Normalized exactly as Register stores logins, so the match is exact on the stored form.
  COFFER_ASSIGN_OR_RETURN(std::string normalized, NormalizeLogin(login));
  // Every lookup counts, found or not: the limit bounds how fast a caller can probe for logins.
  COFFER_RETURN_IF_ERROR(CheckRateLimit(lookup_by_subject_, "s:" + caller.subject));
  auto user = users_.FindByLogin(normalized);
  if (absl::IsNotFound(user.status())) return absl::NotFoundError("no user with this login");
  COFFER_RETURN_IF_ERROR(user.status());
  return ProfileOf(*user);
}

absl::StatusOr<UserProfile> IdentityService::GetUser(const RequestContext& ctx,
                                                     std::string_view user_id) {
  COFFER_RETURN_IF_ERROR(Authenticate(ctx.bearer_token).status());
  if (!IsUuid(user_id)) return absl::InvalidArgumentError("user_id: not a UUID");
  // Ids are stored and issued in lowercase; accept either case like PostgreSQL's uuid type.
  std::string id(user_id);
  std::transform(id.begin(), id.end(), id.begin(), [](char c) {
    return (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  auto user = users_.FindById(id);
  if (absl::IsNotFound(user.status())) return absl::NotFoundError("no user with this id");
  COFFER_RETURN_IF_ERROR(user.status());
  return ProfileOf(*user);
}

}  // namespace coffer::identity
