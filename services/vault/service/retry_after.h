// A retry hint on RESOURCE_EXHAUSTED statuses (a limit that frees up by itself: an upload budget,
// a stream cap). The gRPC transport turns it into google.rpc.RetryInfo in the status details
// (transport/retry_info.h), as identity does for its rate limits.
#pragma once

#include <chrono>
#include <string>

#include "absl/status/status.h"

namespace coffer::vault::service {

// Payload value = the retry delay in whole seconds, as decimal text.
inline constexpr char kRetryAfterPayloadUrl[] = "coffer.vault/retry-after-seconds";

inline absl::Status WithRetryAfter(absl::Status status, std::chrono::seconds delay) {
  status.SetPayload(kRetryAfterPayloadUrl, absl::Cord(std::to_string(delay.count())));
  return status;
}

}  // namespace coffer::vault::service
