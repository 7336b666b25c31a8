#include "services/vault/service/vault_metrics.h"

#include <string>

namespace coffer::vault::service {

VaultMetrics::VaultMetrics(prometheus::Registry& registry)
    : records_written_total(prometheus::BuildCounter()
                                .Name("coffer_vault_records_written_total")
                                .Help("Committed local record writes, by record type and op")
                                .Register(registry)),
      auth_failures_total(prometheus::BuildCounter()
                              .Name("coffer_vault_auth_failures_total")
                              .Help("Requests rejected by token verification, by reason")
                              .Register(registry)) {}

void VaultMetrics::RecordWritten(domain::RecordType type, std::string_view op) {
  records_written_total
      .Add({{"type", std::string(domain::RecordTypeName(type))}, {"op", std::string(op)}})
      .Increment();
}

void VaultMetrics::AuthFailure(std::string_view reason) {
  auth_failures_total.Add({{"reason", std::string(reason)}}).Increment();
}

}  // namespace coffer::vault::service
