#include "pkg/restgw/server.h"

#include <utility>

#include "absl/status/status.h"
#include "pkg/status/status.h"

namespace coffer::restgw {

RestServer::RestServer(RestServerOptions options, std::shared_ptr<const RestGateway> gateway)
    : options_(std::move(options)), gateway_(std::move(gateway)) {
  options_.max_body_bytes = gateway_->options().max_body_bytes;
  if (options_.name == "http") options_.name = "restgw";
}

RestServer::~RestServer() { Stop(); }

absl::StatusOr<int> RestServer::Start() {
  if (server_ != nullptr) return absl::FailedPreconditionError("restgw: server already started");
  const RestGateway* gateway = gateway_.get();
  server_ = std::make_unique<http::HttpServer>(
      options_, [gateway](const HttpRequest& request) { return gateway->Handle(request); });
  absl::StatusOr<int> port = server_->Start();
  if (!port.ok()) {
    server_.reset();
    return port.status();
  }
  port_ = *port;
  return port_;
}

void RestServer::Stop() {
  if (server_ == nullptr) return;
  server_->Stop();
  server_.reset();
}

absl::StatusOr<std::unique_ptr<RestServer>> StartRestGateway(
    RestServerOptions server_options, const std::vector<std::string>& services,
    std::shared_ptr<grpc::Channel> channel, RestGatewayOptions gateway_options) {
  COFFER_ASSIGN_OR_RETURN(
      std::unique_ptr<RestGateway> gateway,
      RestGateway::Create(services, std::move(channel), std::move(gateway_options)));
  auto server = std::make_unique<RestServer>(
      std::move(server_options), std::shared_ptr<const RestGateway>(std::move(gateway)));
  COFFER_RETURN_IF_ERROR(server->Start().status());
  return server;
}

}  // namespace coffer::restgw
