// The HTTP listener of the REST gateway (pkg/http, libmicrohttpd): every method and path goes to
// RestGateway::Handle(). Header, body, connection and idle limits are enforced before a request
// reaches the gateway (pkg/http/server.h).
//
// Usage (a service's app, after its gRPC server started):
//   auto channel = grpc::CreateChannel(fmt::format("127.0.0.1:{}", grpc_port),
//                                      grpc::InsecureChannelCredentials());
//   COFFER_ASSIGN_OR_RETURN(auto rest, coffer::restgw::StartRestGateway(
//       {.host = "0.0.0.0", .port = 8080}, {"coffer.vault.v1.RecordService", ...}, channel));
//   ...
//   rest->Stop();  // before the gRPC server shuts down
//
// Lifecycle: construct -> Start() once -> Stop() (also run by the destructor).
// Threading: requests are served on the HTTP server's worker pool; Start() and Stop() are called
// from one owner thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/http/server.h"
#include "pkg/restgw/gateway.h"

namespace coffer::restgw {

// The listener's options; max_body_bytes is taken from the gateway's options.
using RestServerOptions = http::HttpServerOptions;

// An HttpServer whose one handler is `gateway`'s Handle().
class RestServer {
 public:
  // Does not bind. The gateway is immutable, so it may be shared with other owners.
  RestServer(RestServerOptions options, std::shared_ptr<const RestGateway> gateway);
  ~RestServer();
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  // Binds and starts serving on a background thread. Returns the bound port; UNAVAILABLE when
  // the address cannot be bound, FAILED_PRECONDITION when already started.
  absl::StatusOr<int> Start();
  // Stops accepting, lets in-flight requests finish and joins the threads. Idempotent.
  void Stop();

  // The bound port once Start() succeeded, else 0.
  int port() const { return port_; }
  const RestGateway& gateway() const { return *gateway_; }

 private:
  RestServerOptions options_;
  std::shared_ptr<const RestGateway> gateway_;
  std::unique_ptr<http::HttpServer> server_;
  int port_ = 0;
};

// Builds a gateway for `services` over `channel` and starts a RestServer for it.
absl::StatusOr<std::unique_ptr<RestServer>> StartRestGateway(
    RestServerOptions server_options, const std::vector<std::string>& services,
    std::shared_ptr<grpc::Channel> channel, RestGatewayOptions gateway_options = {});

}  // namespace coffer::restgw
