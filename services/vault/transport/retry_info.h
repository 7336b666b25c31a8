// ToGrpcStatus that keeps a retry hint: a status carrying a status::WithRetryAfter hint becomes a
// gRPC status with google.rpc.RetryInfo (retry_delay) in its details ("grpc-status-details-bin"),
// which gRPC clients and grpcurl read; every other status maps as status::ToGrpcStatus does.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "services/vault/transport/authenticator.h"

namespace coffer::vault::transport {

// status::ToGrpcStatus plus, for a status with a retry hint, google.rpc.RetryInfo (see above).
grpc::Status ToGrpcStatusWithRetryInfo(const absl::Status& status);

// RunAuthenticated (authenticator.h) whose result keeps its retry hint.
template <typename Fn>
grpc::Status RunAuthenticatedWithRetryInfo(Authenticator& auth, grpc::ServerContext* context,
                                           Fn&& fn) {
  absl::StatusOr<service::Caller> caller = auth.Authenticate(*context);
  if (!caller.ok()) return status::ToGrpcStatus(caller.status());
  return ToGrpcStatusWithRetryInfo(fn(*caller));
}

}  // namespace coffer::vault::transport
