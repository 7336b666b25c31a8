#include "services/identity/service/identity_metrics.h"

namespace coffer::identity {
namespace {

prometheus::Family<prometheus::Counter>& Counter(prometheus::Registry& r, const char* name,
                                                 const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

prometheus::Gauge& Gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

IdentityMetrics::IdentityMetrics(prometheus::Registry& registry)
    : logins(Counter(registry, "coffer_identity_logins_total", "Login attempts by result.")),
      login_success(logins.Add({{"result", "success"}})),
      login_invalid_credentials(logins.Add({{"result", "invalid_credentials"}})),
      login_rate_limited(logins.Add({{"result", "rate_limited"}})),
      login_invalid_argument(logins.Add({{"result", "invalid_argument"}})),
      login_overloaded(logins.Add({{"result", "overloaded"}})),
      login_error(logins.Add({{"result", "error"}})),
      registrations(Counter(registry, "coffer_identity_registrations_total",
                            "Registration attempts by result.")),
      registration_success(registrations.Add({{"result", "success"}})),
      registration_already_exists(registrations.Add({{"result", "already_exists"}})),
      registration_invalid_argument(registrations.Add({{"result", "invalid_argument"}})),
      registration_rate_limited(registrations.Add({{"result", "rate_limited"}})),
      registration_overloaded(registrations.Add({{"result", "overloaded"}})),
      registration_error(registrations.Add({{"result", "error"}})),
      tokens_issued(Counter(registry, "coffer_identity_tokens_issued_total",
                            "Access tokens issued, by OAuth grant.")),
      tokens_issued_password(tokens_issued.Add({{"grant", "password"}})),
      tokens_issued_refresh(tokens_issued.Add({{"grant", "refresh_token"}})),
      tokens_issued_client_credentials(tokens_issued.Add({{"grant", "client_credentials"}})),
      refresh_failures(Counter(registry, "coffer_identity_refresh_failures_total",
                               "Refused refresh-token exchanges, by reason.")),
      refresh_reuse_detected(refresh_failures.Add({{"reason", "reuse_detected"}})),
      refresh_invalid(refresh_failures.Add({{"reason", "invalid"}})),
      introspections(Counter(registry, "coffer_identity_introspections_total",
                             "Token introspections, by result.")),
      introspection_active(introspections.Add({{"result", "active"}})),
      introspection_inactive(introspections.Add({{"result", "inactive"}})),
      introspection_denied(introspections.Add({{"result", "denied"}})),
      revocations(Counter(registry, "coffer_identity_revocations_total",
                          "Logout and Revoke calls that revoked something.")
                      .Add({})),
      key_rotations(Counter(registry, "coffer_identity_key_rotations_total",
                            "Signing keys created by this replica, by trigger.")),
      key_rotation_initial(key_rotations.Add({{"trigger", "initial"}})),
      key_rotation_scheduled(key_rotations.Add({{"trigger", "scheduled"}})),
      key_rotation_manual(key_rotations.Add({{"trigger", "manual"}})),
      password_hashes_in_flight(Gauge(registry, "coffer_identity_password_hashes_in_flight",
                                      "Argon2id hashes and verifications running now.")),
      password_hashes_waiting(Gauge(registry, "coffer_identity_password_hashes_waiting",
                                    "Requests waiting for an Argon2id slot now.")),
      password_hash_refusals(Counter(registry, "coffer_identity_password_hash_refusals_total",
                                     "Requests refused because every Argon2id slot stayed busy "
                                     "for the queue timeout.")
                                 .Add({})) {}

}  // namespace coffer::identity
