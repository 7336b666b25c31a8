// IdentityService: user accounts and login (Register, Login), with the password rules, rate
// limits and Argon2id slots they go through.
#include <algorithm>

#include "pkg/crypto/password.h"
#include "pkg/status/status.h"
#include "services/identity/domain/login.h"
#include "services/identity/domain/scopes.h"
#include "services/identity/domain/validation.h"
#include "services/identity/service/identity_service.h"
#include "services/identity/service/identity_service_internal.h"

namespace coffer::identity {
namespace {

constexpr char kInvalidCredentials[] = "invalid login or password";
constexpr std::size_t kMaxAddressBytes = 128;

}  // namespace

using internal::Log;

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

}  // namespace coffer::identity
