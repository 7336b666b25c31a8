// Errors are values: every layer returns absl::Status / absl::StatusOr<T>. Abseil's codes are
// gRPC's codes, so the transport maps them in exactly one place (ToGrpcStatus).
//
// Debian 12's Abseil has no status macros, so they live here, once.
#pragma once

#include <grpcpp/support/status.h>

#include <chrono>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define COFFER_STATUS_CONCAT_INNER_(a, b) a##b
#define COFFER_STATUS_CONCAT_(a, b) COFFER_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not OK.
#define COFFER_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status coffer_status_ = (expr);          \
    if (!coffer_status_.ok()) return coffer_status_; \
  } while (false)

// `COFFER_ASSIGN_OR_RETURN(auto x, Foo());` evaluates an absl::StatusOr<T>; on error returns its
// status, otherwise moves the value into the declaration on the left.
#define COFFER_ASSIGN_OR_RETURN(lhs, expr) \
  COFFER_ASSIGN_OR_RETURN_IMPL_(COFFER_STATUS_CONCAT_(coffer_statusor_, __LINE__), lhs, expr)

#define COFFER_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace coffer::status {

// Converts an absl::Status to the grpc::Status sent on the wire. Codes map one to one; the
// message is passed as is (callers must never put secrets in messages).
grpc::Status ToGrpcStatus(const absl::Status& status);

// A retry hint for limits that free up by themselves (rate limits, caps, budgets): attached to
// `status` as a payload, turned into google.rpc.RetryInfo by ToGrpcStatusWithRetryInfo, and into
// Retry-After by the REST gateway.
absl::Status WithRetryAfter(absl::Status status, std::chrono::seconds delay);

// The WithRetryAfter hint of `status`, if any.
std::optional<std::chrono::seconds> RetryAfter(const absl::Status& status);

// ToGrpcStatus, plus a google.rpc.Status with RetryInfo in the details ("grpc-status-details-bin")
// when `status` carries a WithRetryAfter hint.
grpc::Status ToGrpcStatusWithRetryInfo(const absl::Status& status);

// Converts a grpc::Status received from a peer into an absl::Status.
absl::Status FromGrpcStatus(const grpc::Status& status);

// Prefixes a status's message with context ("loading config: ..."), keeping its code.
absl::Status Annotate(const absl::Status& status, std::string_view context);

}  // namespace coffer::status
