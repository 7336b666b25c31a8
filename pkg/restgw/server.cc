#include "pkg/restgw/server.h"

#include <fmt/format.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "absl/status/status.h"
#include "pkg/status/status.h"

namespace coffer::restgw {
namespace {

HttpRequest FromHttplib(const httplib::Request& req) {
  HttpRequest out;
  out.method = req.method;
  // The raw target keeps percent-escapes, so "%2F" inside a variable is not a separator.
  std::string_view target(req.target);
  size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) out.query = ParseQueryString(target.substr(q + 1));
  for (const auto& [key, value] : req.headers) out.headers.emplace_back(key, value);
  out.body = req.body;
  return out;
}

void ToHttplib(const HttpResponse& in, httplib::Response& res) {
  res.status = in.status;
  for (const auto& [key, value] : in.headers) res.set_header(key, value);
  res.set_content(in.body, in.content_type.c_str());
}

}  // namespace

RestServer::RestServer(RestServerOptions options, std::shared_ptr<const RestGateway> gateway)
    : options_(std::move(options)), gateway_(std::move(gateway)) {}

RestServer::~RestServer() { Stop(); }

absl::StatusOr<int> RestServer::Start() {
  if (server_ != nullptr) return absl::FailedPreconditionError("restgw: server already started");
  server_ = std::make_unique<httplib::Server>();
  int threads = std::max(1, options_.threads);
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_keep_alive_timeout(options_.keep_alive_timeout.count());
  // httplib rejects larger bodies with 413 before reading them; the error handler below gives
  // that answer the same JSON shape as the gateway's own errors.
  server_->set_payload_max_length(gateway_->options().max_body_bytes);
  const RestGateway* gateway = gateway_.get();
  auto handler = [gateway](const httplib::Request& req, httplib::Response& res) {
    ToHttplib(gateway->Handle(FromHttplib(req)), res);
  };
  server_->Get(".*", handler);
  server_->Post(".*", handler);
  server_->Put(".*", handler);
  server_->Patch(".*", handler);
  server_->Delete(".*", handler);
  server_->Options(".*", handler);
  server_->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&,
                                                                     httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    absl::Status status =
        res.status == 413 ? absl::ResourceExhaustedError("request body exceeds the size limit")
                          : absl::InvalidArgumentError(fmt::format("HTTP error {}", res.status));
    ToHttplib(ErrorResponse(status, res.status), res);
    return httplib::Server::HandlerResponse::Handled;
  }));

  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
    if (port < 0) port = 0;
  } else if (!server_->bind_to_port(options_.host, port)) {
    port = 0;
  }
  if (port == 0) {
    server_.reset();
    return absl::UnavailableError(
        fmt::format("restgw: cannot listen on {}:{}", options_.host, options_.port));
  }
  port_ = port;
  httplib::Server* server = server_.get();
  thread_ = std::thread([server] { server->listen_after_bind(); });
  // httplib's stop() is a no-op until the accept loop runs, so a Stop() right after Start()
  // would hang the join; wait for the loop (it starts within microseconds).
  for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return port_;
}

void RestServer::Stop() {
  if (server_ == nullptr) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
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
