// VaultMetrics: the vault's own Prometheus series (request counts and latency come from the
// pkg/metrics gRPC interceptor):
//   coffer_vault_records_written_total{type="credential",op="create"}
//   coffer_vault_auth_failures_total{reason="expired"}
// Labels are bounded enums — never user, space or record ids.
//
// Lifecycle: holds references into the registry, which must outlive it. Threading: thread-safe.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <string_view>

#include "services/vault/domain/record.h"

namespace coffer::vault::service {

struct VaultMetrics {
  explicit VaultMetrics(prometheus::Registry& registry);

  // One committed local write of a record of `type`; op is create, update, delete, undelete,
  // purge, restore or otp.
  void RecordWritten(domain::RecordType type, std::string_view op);
  // One rejected token; reason is missing, malformed, expired, not_yet_valid, bad_signature,
  // unknown_key, wrong_issuer, wrong_audience, revoked, jwks_unavailable or other.
  void AuthFailure(std::string_view reason);

  prometheus::Family<prometheus::Counter>& records_written_total;
  prometheus::Family<prometheus::Counter>& auth_failures_total;
};

}  // namespace coffer::vault::service
