#include "services/vault/transport/retry_info.h"

#include <charconv>
#include <string>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "pkg/status/status.h"
#include "services/vault/service/retry_after.h"

namespace coffer::vault::transport {

grpc::Status ToGrpcStatusWithRetryInfo(const absl::Status& status) {
  return status::ToGrpcStatusWithRetryInfo(status);
}

}  // namespace coffer::vault::transport
