#include "cli/health.h"

#include <grpcpp/grpcpp.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "pkg/status/status.h"

namespace coffer::cli {

absl::StatusOr<std::string> CheckHealth(const std::string& target, const std::string& service,
                                        std::chrono::milliseconds timeout,
                                        const grpcx::ChannelTlsOptions& tls) {
  grpcx::ChannelOptions options;
  options.tls = tls;
  COFFER_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                          grpcx::MakeChannel(target, options));
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status st = stub->Check(&ctx, req, &resp);
  if (!st.ok()) return status::FromGrpcStatus(st);
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
}

}  // namespace coffer::cli
