#include "services/vault/transport/retry_info.h"

#include <charconv>
#include <string>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "pkg/status/status.h"
#include "services/vault/service/retry_after.h"

namespace coffer::vault::transport {

grpc::Status ToGrpcStatusWithRetryInfo(const absl::Status& status) {
  grpc::Status plain = status::ToGrpcStatus(status);
  auto retry = status.GetPayload(service::kRetryAfterPayloadUrl);
  if (!retry) return plain;
  const std::string text(*retry);
  long long seconds = 0;
  std::from_chars(text.data(), text.data() + text.size(), seconds);
  google::rpc::RetryInfo info;
  info.mutable_retry_delay()->set_seconds(seconds);
  google::rpc::Status details;
  details.set_code(static_cast<int>(status.code()));
  details.set_message(std::string(status.message()));
  details.add_details()->PackFrom(info);
  return grpc::Status(plain.error_code(), plain.error_message(), details.SerializeAsString());
}

}  // namespace coffer::vault::transport
