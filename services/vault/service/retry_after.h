// A retry hint on RESOURCE_EXHAUSTED statuses (a limit that frees up by itself: an upload budget,
// a stream cap). The gRPC transport turns it into google.rpc.RetryInfo in the status details
// (transport/retry_info.h), as identity does for its rate limits.
#pragma once

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "pkg/status/status.h"

namespace coffer::vault::service {

using status::WithRetryAfter;

}  // namespace coffer::vault::service
