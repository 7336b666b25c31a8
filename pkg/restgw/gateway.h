// REST/JSON gateway over Coffer's gRPC services, derived from the protos' google.api.http
// annotations (docs/architecture.md §7: "REST/JSON on the same handlers").
//
// Why: every REST call is turned into the equivalent unary gRPC call and sent over a channel to
// the service's own gRPC server (loopback), so REST goes through exactly the same handlers,
// interceptors, authentication, limits and metrics as gRPC — there is no second implementation.
//
// Mapping (the grpc-gateway / Google API conventions, matching swagger/):
//   - routes: each unary method's HttpRule (get/put/post/delete/patch/custom and
//     additional_bindings); streaming methods are skipped (no REST route).
//   - request: `body: "*"` → the whole JSON body is the request message (query parameters are
//     ignored); `body: "field"` → the JSON body fills that field; path variables ("{record.id}")
//     are then set into (nested) fields and win over the body; every other query parameter sets a
//     field by proto name or lowerCamel JSON name, "a.b" for nested fields, repeated parameters
//     for repeated fields, enums by name or number. Unknown fields or parameters are rejected.
//   - headers forwarded as gRPC metadata: `Authorization`, `X-Request-Id` (configurable).
//   - response: 200 with the response message as JSON (lowerCamel names);
//     errors: the HTTP status for the gRPC code (HttpStatusFromCode) and a google.rpc.Status
//     shaped body {"code": <grpc code>, "message": "...", "details": []}.
//     Gateway errors: unknown path 404, known path with another method 405 (with "Allow"),
//     bad JSON / parameter 400, body above the limit 413.
//
// Lifecycle: build with Create() (resolves services in the generated descriptor pool, so the
// services' generated code must be linked into the binary); then immutable.
// Threading: Handle() is const and thread-safe; call it from any number of HTTP worker threads.
#pragma once

#include <google/protobuf/util/json_util.h>
#include <grpcpp/channel.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/http/server.h"
#include "pkg/http/url.h"
#include "pkg/restgw/path_template.h"

namespace google::protobuf {
class Descriptor;
class FieldDescriptor;
class Message;
class MethodDescriptor;
}  // namespace google::protobuf

namespace coffer::restgw {

// Requests and responses are the HTTP listener's own types (pkg/http/server.h); `peer` is the
// client's address, forwarded to the gRPC service as "x-forwarded-for" metadata.
using http::HttpRequest;
using http::HttpResponse;
using http::ParseQueryString;

struct RestGatewayOptions {
  // Deadline of each gRPC call made for a REST request.
  std::chrono::milliseconds deadline{30000};
  // Largest accepted request body; larger bodies get 413.
  size_t max_body_bytes = 4 * 1024 * 1024;
  // HTTP headers forwarded as gRPC metadata (lower-cased key), when present and printable ASCII.
  std::vector<std::string> forwarded_headers = {"authorization", "x-request-id"};
  // Metadata added to every call (e.g. the in-process gateway's proof for the service).
  std::vector<std::pair<std::string, std::string>> extra_metadata;
  // HTTP peers (proxies, load balancers) whose X-Forwarded-For is believed; see ClientAddress().
  std::vector<std::string> trusted_proxies;
  // Print fields holding default values (0, "", false, empty lists) in responses, so JSON
  // clients see every field of the swagger schema.
  bool always_print_primitive_fields = true;
};

// One REST route, for listings, docs and tests.
struct RouteInfo {
  std::string http_method;  // "GET"
  std::string path;         // the template, e.g. "/v1/records/{id}"
  std::string grpc_method;  // "/coffer.vault.v1.RecordService/GetRecord"
  std::string body;         // "", "*" or a field name
};

// gRPC metadata carrying the REST client's address to the service (set by the gateway only; a
// service believes it only from its in-process gateway, see identity_grpc_service.h).
inline constexpr std::string_view kClientAddressMetadata = "x-forwarded-for";

// The REST client's address: `request.peer`, or — when the peer is a trusted proxy — the
// rightmost X-Forwarded-For entry that is not itself a trusted proxy. Never a value from a client
// that is not a trusted proxy; malformed entries are ignored.
std::string ClientAddress(const HttpRequest& request,
                          const std::vector<std::string>& trusted_proxies);

// The Retry-After (whole seconds, at least 1) for a gRPC error carrying google.rpc.RetryInfo in
// its details, if any.
std::optional<int64_t> RetryAfterSeconds(const grpc::Status& status);

// The HTTP status google.api conventions give a gRPC code (NOT_FOUND → 404, ...).
int HttpStatusFromCode(absl::StatusCode code);

// A JSON error response for `status` ({"code","message","details"}), with `http_status`
// or, when 0, HttpStatusFromCode(status.code()).
HttpResponse ErrorResponse(const absl::Status& status, int http_status = 0);

// The protobuf JSON options the gateway parses request bodies with (unknown fields rejected) and
// prints responses with (lowerCamel names; default values per `options`).
google::protobuf::util::JsonParseOptions RequestJsonParseOptions();
google::protobuf::util::JsonPrintOptions ResponseJsonPrintOptions(
    const RestGatewayOptions& options);

// A REST request mapped to its gRPC call (RestGateway::MapRequest): the method, the path
// variables its route bound, and the request message.
struct MappedRequest {
  const google::protobuf::MethodDescriptor* method = nullptr;
  std::string grpc_method;  // "/coffer.vault.v1.RecordService/GetRecord"
  std::string path;         // the matched route's template
  std::vector<PathBinding> bindings;
  std::unique_ptr<google::protobuf::Message> message;
};

// The REST routes of a set of gRPC services, and the calls behind them (see the file comment).
class RestGateway {
 public:
  // Builds routes for `services` (full names, e.g. "coffer.vault.v1.RecordService") calling
  // through `channel`. NOT_FOUND for an unknown service; INVALID_ARGUMENT for a malformed
  // template, a path variable or body naming no suitable field, or two identical routes.
  static absl::StatusOr<std::unique_ptr<RestGateway>> Create(
      const std::vector<std::string>& services, std::shared_ptr<grpc::Channel> channel,
      RestGatewayOptions options = {});

  ~RestGateway();
  RestGateway(const RestGateway&) = delete;
  RestGateway& operator=(const RestGateway&) = delete;

  // Serves one request: route, build the gRPC request, call, render JSON. Never fails: every
  // error is an HTTP error response.
  HttpResponse Handle(const HttpRequest& request) const;

  // The part of Handle() before the call (extracted for tests and fuzzing; no behaviour of its
  // own): body limit, routing and the request message, or the error response Handle() returns
  // instead (413, 404, 405 with "Allow", 400). Pure; thread-safe.
  std::variant<MappedRequest, HttpResponse> MapRequest(const HttpRequest& request) const;

  // Every route, in declaration order.
  std::vector<RouteInfo> routes() const;

  const RestGatewayOptions& options() const { return options_; }

 private:
  struct Route;

  RestGateway(std::shared_ptr<grpc::Channel> channel, RestGatewayOptions options);

  absl::Status AddRoute(const google::protobuf::MethodDescriptor* method, std::string http_method,
                        const std::string& path, const std::string& body);
  // Builds the gRPC request message for a matched route.
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildRequest(
      const Route& route, const std::vector<PathBinding>& bindings,
      const HttpRequest& request) const;

  std::shared_ptr<grpc::Channel> channel_;
  RestGatewayOptions options_;
  std::vector<std::unique_ptr<Route>> routes_;
};

}  // namespace coffer::restgw
