#include "pkg/metrics/grpc_server_metrics.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/support/interceptor.h>

#include <chrono>

namespace coffer::metrics {
namespace {

// Latency buckets from 0.5 ms (an empty loopback call) to 10 s (a slow database write).
const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *buckets;
}

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(std::shared_ptr<GrpcServerMetrics> metrics, std::string method)
      : metrics_(std::move(metrics)),
        method_(std::move(method)),
        start_(std::chrono::steady_clock::now()) {}

  ~MetricsInterceptor() override {
    // The call ended without the server sending a status: the client cancelled or the deadline
    // passed before the handler finished.
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    // Recorded before the status leaves, so a client that saw the status also sees the count.
    if (!recorded_ && methods->QueryInterceptionHookPoint(
                          grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    metrics_->Record(method_, code, elapsed.count());
  }

  std::shared_ptr<GrpcServerMetrics> metrics_;
  std::string method_;
  std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

}  // namespace

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    default:
      return "UNKNOWN";
  }
}

namespace {

// "/pkg.Service/Method" names, in canonical form, a method of a service compiled into this
// binary (or one of gRPC's own services, whose descriptors are not in the protobuf pool).
bool InGeneratedPool(std::string_view method) {
  if (method == "/grpc.health.v1.Health/Check" || method == "/grpc.health.v1.Health/Watch" ||
      method == "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo") {
    return true;
  }
  if (method.size() < 4 || method.front() != '/' || method.size() > 256) return false;
  const size_t slash = method.rfind('/');
  if (slash == 0) return false;
  const std::string service(method.substr(1, slash - 1));
  const google::protobuf::ServiceDescriptor* s =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  return s != nullptr && s->FindMethodByName(std::string(method.substr(slash + 1))) != nullptr;
}

}  // namespace

GrpcServerMetrics::GrpcServerMetrics(prometheus::Registry& registry, KnownMethod known_method)
    : requests_total(prometheus::BuildCounter()
                         .Name("coffer_grpc_server_requests_total")
                         .Help("gRPC calls finished by the server, by method and status code")
                         .Register(registry)),
      request_duration_seconds(prometheus::BuildHistogram()
                                   .Name("coffer_grpc_server_request_duration_seconds")
                                   .Help("Time from call start to status sent, by method")
                                   .Register(registry)),
      known(known_method ? std::move(known_method) : KnownMethod(InGeneratedPool)) {}

void GrpcServerMetrics::Record(std::string_view method, grpc::StatusCode code, double seconds) {
  const std::string m = known(method) ? std::string(method) : std::string("unknown");
  requests_total.Add({{"method", m}, {"code", StatusCodeName(code)}}).Increment();
  request_duration_seconds.Add({{"method", m}}, DurationBuckets()).Observe(seconds);
}

grpc::experimental::Interceptor* GrpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  // Unregistered methods have no name worth a series of its own.
  const char* method = info->method();
  std::string name = (method != nullptr && method[0] == '/') ? method : "unknown";
  return new MetricsInterceptor(metrics_, std::move(name));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeGrpcMetricsInterceptorFactory(std::shared_ptr<GrpcServerMetrics> metrics) {
  return std::make_unique<GrpcMetricsInterceptorFactory>(std::move(metrics));
}

}  // namespace coffer::metrics
