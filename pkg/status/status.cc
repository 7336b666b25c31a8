#include "pkg/status/status.h"

#include <charconv>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace coffer::status {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(absl::string_view(context.data(), context.size()),
                                                  ": ", status.message()));
}

namespace {
// Payload value = the retry delay in whole seconds, as decimal text.
constexpr char kRetryAfterPayloadUrl[] = "coffer/retry-after-seconds";
}  // namespace

absl::Status WithRetryAfter(absl::Status status, std::chrono::seconds delay) {
  status.SetPayload(kRetryAfterPayloadUrl, absl::Cord(std::to_string(delay.count())));
  return status;
}

std::optional<std::chrono::seconds> RetryAfter(const absl::Status& status) {
  auto retry = status.GetPayload(kRetryAfterPayloadUrl);
  if (!retry) return std::nullopt;
  const std::string text(*retry);
  long long seconds = 0;
  std::from_chars(text.data(), text.data() + text.size(), seconds);
  return std::chrono::seconds(seconds);
}

grpc::Status ToGrpcStatusWithRetryInfo(const absl::Status& status) {
  grpc::Status plain = ToGrpcStatus(status);
  const std::optional<std::chrono::seconds> retry = RetryAfter(status);
  if (!retry) return plain;
  google::rpc::RetryInfo info;
  info.mutable_retry_delay()->set_seconds(retry->count());
  google::rpc::Status details;
  details.set_code(static_cast<int>(status.code()));
  details.set_message(std::string(status.message()));
  details.add_details()->PackFrom(info);
  return grpc::Status(plain.error_code(), plain.error_message(), details.SerializeAsString());
}

}  // namespace coffer::status
