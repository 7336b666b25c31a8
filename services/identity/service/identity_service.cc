// IdentityService: construction, Bootstrap and the helpers every use case shares (rate limits,
// overload answers, the clock). The use cases are in identity_service_*.cc (see the header).
#include "services/identity/service/identity_service.h"

#include <utility>

#include "absl/time/time.h"
#include "fmt/format.h"
#include "pkg/crypto/random.h"
#include "pkg/status/status.h"
#include "services/identity/domain/scopes.h"
#include "services/identity/domain/validation.h"
#include "services/identity/service/identity_service_internal.h"

namespace coffer::identity {

using internal::HashSecret;
using internal::kMaxClientSecretBytes;
using internal::Log;

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
      tokens_(AccessTokenPolicy{config_.issuer, config_.audience, config_.access_token_ttl,
                                config_.clock_leeway},
              keys, sessions, accounts, clock),
      login_by_login_(config_.login_per_login),
      login_by_address_(config_.login_per_address),
      register_by_login_(config_.register_per_login),
      register_by_address_(config_.register_per_address),
      lookup_by_subject_(config_.lookup_per_subject),
      hasher_(PasswordHasherOptions{config_.password_hash, config_.max_concurrent_password_hashes,
                                    config_.password_hash_queue_timeout},
              metrics) {}

Time IdentityService::Now() const { return absl::ToChronoTime(clock_.Now()); }

absl::Status IdentityService::Bootstrap() {
  if (config_.issuer.empty()) return absl::InvalidArgumentError("issuer must not be empty");
  if (config_.audience.empty()) return absl::InvalidArgumentError("audience must not be empty");
  if (config_.access_token_ttl.count() <= 0 || config_.refresh_token_ttl.count() <= 0) {
    return absl::InvalidArgumentError("token lifetimes must be positive");
  }
  COFFER_RETURN_IF_ERROR(tokens_.status());
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

}  // namespace coffer::identity
