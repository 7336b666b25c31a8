// `coffer health`: asks a server's standard grpc.health.v1 service whether it is SERVING.
// Used by scripts/dev-up, container health checks and people debugging a deployment.
#pragma once

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "pkg/grpcx/channel.h"

namespace coffer::cli {

// Returns the serving status name ("SERVING", "NOT_SERVING", ...) of `service` ("" = the whole
// server) at `target`, or UNAVAILABLE/DEADLINE_EXCEEDED when the server cannot be reached
// (also when it requires a client certificate `tls` does not present). Plaintext unless
// tls.use_tls.
absl::StatusOr<std::string> CheckHealth(const std::string& target, const std::string& service,
                                        std::chrono::milliseconds timeout,
                                        const grpcx::ChannelTlsOptions& tls = {});

}  // namespace coffer::cli
