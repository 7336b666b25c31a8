// Request count and latency for every gRPC method, recorded by one server interceptor.
//
// Why: handlers stay free of metrics code, and every service exports the same series:
//   coffer_grpc_server_requests_total{method="/coffer.vault.v1.VaultService/GetRecord",code="OK"}
//   coffer_grpc_server_request_duration_seconds{method="..."} (histogram)
// Labels are the full method name and the status code name only — never user, space or record
// ids — so cardinality is bounded by the number of RPCs times 17 codes.
//
// Usage:
//   auto metrics = std::make_shared<coffer::metrics::GrpcServerMetrics>(*registry);
//   server.AddInterceptorFactory(coffer::metrics::MakeGrpcMetricsInterceptorFactory(metrics));
//
// Lifecycle and threading: GrpcServerMetrics holds references into the registry, which must
// outlive it; Record() and the interceptors are thread-safe.
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <grpcpp/support/status.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace coffer::metrics {

// "OK", "NOT_FOUND", ... (the names gRPC and Abseil use).
std::string StatusCodeName(grpc::StatusCode code);

// The per-server metric families. One instance per server process.
struct GrpcServerMetrics {
  // Whether a method path ("/pkg.Service/Method") is one this binary serves.
  using KnownMethod = std::function<bool(std::string_view method)>;

  // `known` defaults to the methods in the process's generated protobuf descriptor pool (every
  // service compiled in), so a call to a made-up method name cannot add a label value.
  explicit GrpcServerMetrics(prometheus::Registry& registry, KnownMethod known = {});

  // Counts one finished call and observes its duration; an unknown method is labelled
  // "unknown" (the series stay bounded whatever callers send).
  void Record(std::string_view method, grpc::StatusCode code, double seconds);

  // The two families of the file comment, owned by the registry.
  prometheus::Family<prometheus::Counter>& requests_total;
  prometheus::Family<prometheus::Histogram>& request_duration_seconds;
  // The filter Record() applies to method names (see the constructor).
  KnownMethod known;
};

// Creates one interceptor per call; it measures from call start to the status being sent (or the
// call ending without one, counted as CANCELLED). Pass to GrpcServer::AddInterceptorFactory.
class GrpcMetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit GrpcMetricsInterceptorFactory(std::shared_ptr<GrpcServerMetrics> metrics)
      : metrics_(std::move(metrics)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  std::shared_ptr<GrpcServerMetrics> metrics_;
};

// A GrpcMetricsInterceptorFactory as the interface type GrpcServer::AddInterceptorFactory takes.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeGrpcMetricsInterceptorFactory(std::shared_ptr<GrpcServerMetrics> metrics);

}  // namespace coffer::metrics
