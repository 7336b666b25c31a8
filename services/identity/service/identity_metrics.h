// Prometheus metrics of the identity service's use cases (request counts and latency per RPC
// come from the shared gRPC server interceptor in pkg/metrics, not from here).
//
// Labels are small closed sets (results, grant types, triggers), never a login, user id,
// client id or token.
//
// Lifecycle: built once from the process registry by the composition root and injected; the
// registry must outlive it. Threading: prometheus-cpp counters are thread-safe.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace coffer::identity {

struct IdentityMetrics {
  explicit IdentityMetrics(prometheus::Registry& registry);

  // coffer_identity_logins_total{result}
  prometheus::Family<prometheus::Counter>& logins;
  prometheus::Counter& login_success;
  prometheus::Counter& login_invalid_credentials;
  prometheus::Counter& login_rate_limited;
  prometheus::Counter& login_invalid_argument;
  prometheus::Counter& login_overloaded;  // no Argon2id slot free in time
  prometheus::Counter& login_error;

  // coffer_identity_registrations_total{result}
  prometheus::Family<prometheus::Counter>& registrations;
  prometheus::Counter& registration_success;
  prometheus::Counter& registration_already_exists;
  prometheus::Counter& registration_invalid_argument;
  prometheus::Counter& registration_rate_limited;
  prometheus::Counter& registration_overloaded;
  prometheus::Counter& registration_error;

  // coffer_identity_tokens_issued_total{grant}
  prometheus::Family<prometheus::Counter>& tokens_issued;
  prometheus::Counter& tokens_issued_password;
  prometheus::Counter& tokens_issued_refresh;
  prometheus::Counter& tokens_issued_client_credentials;

  // coffer_identity_refresh_failures_total{reason}
  prometheus::Family<prometheus::Counter>& refresh_failures;
  prometheus::Counter& refresh_reuse_detected;
  prometheus::Counter& refresh_invalid;

  // coffer_identity_introspections_total{result}
  prometheus::Family<prometheus::Counter>& introspections;
  prometheus::Counter& introspection_active;
  prometheus::Counter& introspection_inactive;
  prometheus::Counter& introspection_denied;

  // coffer_identity_revocations_total
  prometheus::Counter& revocations;

  // coffer_identity_key_rotations_total{trigger}
  prometheus::Family<prometheus::Counter>& key_rotations;
  prometheus::Counter& key_rotation_initial;
  prometheus::Counter& key_rotation_scheduled;
  prometheus::Counter& key_rotation_manual;

  // Argon2id concurrency bound (PasswordHasher):
  // coffer_identity_password_hashes_in_flight, coffer_identity_password_hashes_waiting,
  // coffer_identity_password_hash_refusals_total.
  prometheus::Gauge& password_hashes_in_flight;
  prometheus::Gauge& password_hashes_waiting;
  prometheus::Counter& password_hash_refusals;
};

}  // namespace coffer::identity
