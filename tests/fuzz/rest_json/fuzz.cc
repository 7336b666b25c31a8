// Fuzzes the REST gateway's request mapping (pkg/restgw/gateway.h, RestGateway::MapRequest: the
// part of Handle() that turns an HTTP request into the gRPC request message) over every unary
// route of the vault's and identity's gateways, built from the generated descriptors as the
// services build them.
//
// Input (FuzzedDataProvider): a flags byte; a route (index into both gateways' routes); for
// flag bit 0 another HTTP method, for bit 2 a path of raw bytes instead of the route's template;
// otherwise one value per path variable (percent-encoded, or inserted raw with bit 1); up to six
// query parameters (keys picked among the input message's fields by proto or JSON name, dotted
// into message fields, or raw bytes; values raw bytes); the rest is the body.
// Properties:
//   - errors are only the gateway's own: 400 INVALID_ARGUMENT, 404 NOT_FOUND, 405 UNIMPLEMENTED
//     (with "Allow") and 413 RESOURCE_EXHAUSTED (exactly when the body is over the limit), each
//     a {"code","message","details":[]} body whose message is short (≤ 512 bytes) and never
//     echoes a query value or the body.
//   - a well-formed request for a route (its method, every variable a non-empty encoded value)
//     is routed to that route: it maps, or fails with 400, never 404/405.
//   - a request that maps yields a message of the method's input type; every path variable
//     the template bound is in the field it names, with the value from the path.
//   - JSON → proto → JSON: the message printed with the gateway's options
//     (ResponseJsonPrintOptions) parses back with its options (RequestJsonParseOptions) into an
//     equal message (MessageDifferencer), and for `body: "*"` routes the gateway itself maps that
//     JSON as a body on the same path to an equal message.
//   - deep nesting and large bodies only cost linear work (nlohmann accept() is iterative,
//     protobuf's JSON parser has a depth limit).
#include <fuzzer/FuzzedDataProvider.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "coffer/identity/v1/identity.pb.h"
#include "coffer/vault/v1/admin.pb.h"
#include "coffer/vault/v1/files.pb.h"
#include "coffer/vault/v1/spaces.pb.h"
#include "coffer/vault/v1/sync.pb.h"
#include "coffer/vault/v1/vault.pb.h"
#include "pkg/http/url.h"
#include "pkg/restgw/gateway.h"
#include "tests/fuzz/fuzz_check.h"

namespace coffer::fuzz {
namespace {

namespace pb = google::protobuf;
using restgw::HttpRequest;
using restgw::HttpResponse;
using restgw::MappedRequest;
using restgw::RestGateway;

// The longest error message a fuzz input may get back: names of fields and parameters, never
// the caller's values (inputs here are up to a few KiB).
constexpr size_t kMaxErrorMessage = 512;
// Raw query keys and methods may be longer than that (the HTTP listener bounds them only by its
// header and URL limits, several KiB).
constexpr size_t kMaxRawText = 1024;

struct Route {
  const RestGateway* gateway;
  restgw::RouteInfo info;
  const pb::MethodDescriptor* method;
};

struct Fixture {
  Fixture() {
    // The generated descriptors are registered by the objects that define the messages; name
    // one message of each file so the linker keeps them all (as the services' code does).
    const pb::Descriptor* linked[] = {
        identity::v1::TokenPair::descriptor(),       vault::v1::GetShardStatusRequest::descriptor(),
        vault::v1::UploadFileMetadata::descriptor(), vault::v1::Space::descriptor(),
        vault::v1::SyncRequest::descriptor(),        vault::v1::CreateRecordRequest::descriptor()};
    for (const pb::Descriptor* d : linked) FUZZ_CHECK(d != nullptr);
    // Never dialled: MapRequest stops before the call.
    auto channel = grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
    restgw::RestGatewayOptions options;
    options.max_body_bytes = kMaxBody;
    // The services' lists (services/vault/app/vault_app.cc, services/identity/app/identity_app.cc).
    vault = RestGateway::Create({"coffer.vault.v1.RecordService", "coffer.vault.v1.SyncService",
                                 "coffer.vault.v1.SpaceService", "coffer.vault.v1.AdminService",
                                 "coffer.vault.v1.FileService"},
                                channel, options)
                .value();
    identity =
        RestGateway::Create({"coffer.identity.v1.IdentityService"}, channel, options).value();
    for (const RestGateway* gw : {vault.get(), identity.get()}) {
      for (restgw::RouteInfo& info : gw->routes()) {
        // "/pkg.Service/Method" → "pkg.Service.Method"
        std::string name = info.grpc_method.substr(1);
        name[name.rfind('/')] = '.';
        const pb::MethodDescriptor* method =
            pb::DescriptorPool::generated_pool()->FindMethodByName(name);
        FUZZ_CHECK(method != nullptr);
        routes.push_back({gw, std::move(info), method});
      }
    }
    FUZZ_CHECK(!routes.empty());
    // For writing seeds: each route's index, and its input message's fields in index order.
    if (std::getenv("FUZZ_LIST_ROUTES") != nullptr) {
      for (size_t i = 0; i < routes.size(); ++i) {
        const pb::Descriptor* input = routes[i].method->input_type();
        std::fprintf(stderr, "%zu %s %s body=%s %s:", i, routes[i].info.http_method.c_str(),
                     routes[i].info.path.c_str(), routes[i].info.body.c_str(),
                     input->full_name().c_str());
        for (int j = 0; j < input->field_count(); ++j) {
          std::fprintf(stderr, " %s", input->field(j)->name().c_str());
        }
        std::fprintf(stderr, "\n");
      }
    }
  }

  static constexpr size_t kMaxBody = 2048;
  std::unique_ptr<RestGateway> vault;
  std::unique_ptr<RestGateway> identity;
  std::vector<Route> routes;
};

// A query parameter key: a field of `desc` by proto or JSON name, dotted into singular message
// fields, or (when the provider says so) raw bytes.
std::string PickKey(FuzzedDataProvider& in, const pb::Descriptor* desc, int depth = 0) {
  const int n = desc->field_count();
  const int i = in.ConsumeIntegralInRange(0, n);
  if (i == n) return in.ConsumeRandomLengthString(kMaxRawText);
  const pb::FieldDescriptor* f = desc->field(i);
  std::string key = in.ConsumeBool() ? f->name() : f->json_name();
  if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated() && depth < 3 &&
      in.ConsumeBool()) {
    key += "." + PickKey(in, f->message_type(), depth + 1);
  }
  return key;
}

// Replaces each "{...}" of the template with a value (the gateway's routes have single-segment
// variables only); `values` gets the decoded values.
std::string BuildPath(FuzzedDataProvider& in, const std::string& tmpl, bool raw,
                      std::vector<std::string>* values) {
  std::string path;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '{') {
      path.push_back(tmpl[i]);
      continue;
    }
    i = tmpl.find('}', i);
    std::string value = in.ConsumeRandomLengthString(48);
    path += raw ? value : http::PercentEncode(value);
    values->push_back(std::move(value));
  }
  return path;
}

// The leaf field a path variable names and the message holding it (nullptr when a step is
// unset, which a bound variable never leaves).
const pb::Message* Leaf(const pb::Message& msg, const std::vector<std::string>& path,
                        const pb::FieldDescriptor** field) {
  const pb::Message* cur = &msg;
  for (size_t i = 0; i < path.size(); ++i) {
    const pb::FieldDescriptor* f = cur->GetDescriptor()->FindFieldByName(path[i]);
    FUZZ_CHECK(f != nullptr);
    if (i + 1 == path.size()) {
      *field = f;
      return cur;
    }
    if (!cur->GetReflection()->HasField(*cur, f)) return nullptr;
    cur = &cur->GetReflection()->GetMessage(*cur, f);
  }
  return nullptr;
}

template <typename T>
bool Parses(const std::string& text, T want) {
  T v{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && ptr == text.data() + text.size() && v == want;
}

// The value a path variable bound is in its field (converted to the field's type).
void CheckBinding(const pb::Message& msg, const restgw::PathBinding& binding) {
  const pb::FieldDescriptor* f = nullptr;
  const pb::Message* parent = Leaf(msg, binding.field_path, &f);
  FUZZ_CHECK(parent != nullptr && f != nullptr && !f->is_repeated());
  const pb::Reflection* r = parent->GetReflection();
  const std::string& v = binding.value;
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      if (f->type() == pb::FieldDescriptor::TYPE_STRING) FUZZ_CHECK(r->GetString(*parent, f) == v);
      break;
    case pb::FieldDescriptor::CPPTYPE_INT32:
      FUZZ_CHECK(Parses(v, r->GetInt32(*parent, f)));
      break;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      FUZZ_CHECK(Parses(v, r->GetInt64(*parent, f)));
      break;
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      FUZZ_CHECK(Parses(v, r->GetUInt32(*parent, f)));
      break;
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      FUZZ_CHECK(Parses(v, r->GetUInt64(*parent, f)));
      break;
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      const pb::EnumValueDescriptor* ev = r->GetEnum(*parent, f);
      FUZZ_CHECK(ev->name() == v || Parses(v, ev->number()));
      break;
    }
    default:  // bool, floating point: not used by any route's variables
      break;
  }
}

// The message of the error response `r` gets, or "" when it maps.
std::string MessageOf(const RestGateway& gw, const HttpRequest& r) {
  std::variant<MappedRequest, HttpResponse> result = gw.MapRequest(r);
  const HttpResponse* error = std::get_if<HttpResponse>(&result);
  if (error == nullptr) return "";
  const nlohmann::json body = nlohmann::json::parse(error->body, nullptr, false);
  return body.is_object() && body["message"].is_string() ? body["message"].get<std::string>() : "";
}

void CheckError(const RestGateway& gw, const HttpRequest& request, const HttpResponse& res) {
  const nlohmann::json body = nlohmann::json::parse(res.body, nullptr, false);
  FUZZ_CHECK(body.is_object() && body.size() == 3);
  FUZZ_CHECK(body["code"].is_number_integer() && body["message"].is_string());
  FUZZ_CHECK(body["details"] == nlohmann::json::array());
  const int code = body["code"].get<int>();
  switch (res.status) {
    case 400:
      FUZZ_CHECK(code == static_cast<int>(absl::StatusCode::kInvalidArgument));
      break;
    case 404:
      FUZZ_CHECK(code == static_cast<int>(absl::StatusCode::kNotFound));
      break;
    case 405: {
      FUZZ_CHECK(code == static_cast<int>(absl::StatusCode::kUnimplemented));
      bool allow = false;
      for (const auto& [name, value] : res.headers)
        allow = allow || (name == "Allow" && !value.empty());
      FUZZ_CHECK(allow);
      break;
    }
    case 413:
      FUZZ_CHECK(code == static_cast<int>(absl::StatusCode::kResourceExhausted));
      break;
    default:
      FUZZ_CHECK(false && "not a gateway error status");
  }
  FUZZ_CHECK((res.status == 413) == (request.body.size() > Fixture::kMaxBody));
  // Short messages: no echo of huge inputs.
  const std::string message = body["message"].get<std::string>();
  if (message.size() > kMaxErrorMessage) std::fprintf(stderr, "message: %s\n", message.c_str());
  FUZZ_CHECK(message.size() <= kMaxErrorMessage);
  // No echo of a query value or the body: when the message holds one (8 bytes or more), the same
  // request with that text replaced by filler of the same length must give a message that still
  // holds it, i.e. it is fixed wording or a name the message carries, not an echo. (A plain "not
  // in the message" check is wrong: libFuzzer learns the messages' words and the field names
  // from its comparison hooks and puts them into values.)
  constexpr size_t kChecked = 8;
  auto filler = [](const std::string& text) {
    char c = 1;
    while (text.find(c) != std::string::npos) ++c;
    return std::string(text.size(), c);
  };
  auto check = [&](const std::string& text, const HttpRequest& changed) {
    if (text.size() < kChecked || message.find(text) == std::string::npos) return;
    if (MessageOf(gw, changed).find(text) != std::string::npos) return;
    std::fprintf(stderr, "message: %s\n", message.c_str());
    FUZZ_CHECK(false && "the error message echoes a value");
  };
  for (size_t i = 0; i < request.query.size(); ++i) {
    HttpRequest changed = request;
    changed.query[i].second = filler(request.query[i].second);
    check(request.query[i].second, changed);
  }
  HttpRequest changed = request;
  changed.body = filler(request.body);
  check(request.body, changed);
}

void CheckMapped(const Route& route, const HttpRequest& request, const MappedRequest& mapped) {
  FUZZ_CHECK(mapped.message != nullptr && mapped.method != nullptr);
  FUZZ_CHECK(mapped.message->GetDescriptor() == mapped.method->input_type());
  FUZZ_CHECK(mapped.grpc_method ==
             "/" + mapped.method->service()->full_name() + "/" + mapped.method->name());
  const pb::Message& msg = *mapped.message;
  for (const restgw::PathBinding& binding : mapped.bindings) CheckBinding(msg, binding);

  // JSON → proto → JSON with the gateway's options.
  std::string json;
  FUZZ_CHECK(pb::util::MessageToJsonString(msg, &json, restgw::ResponseJsonPrintOptions({})).ok());
  std::unique_ptr<pb::Message> again(msg.New());
  FUZZ_CHECK(
      pb::util::JsonStringToMessage(json, again.get(), restgw::RequestJsonParseOptions()).ok());
  FUZZ_CHECK(pb::util::MessageDifferencer::Equals(msg, *again));

  // ...and through the gateway: that JSON as the body of the same call maps to the same message
  // (when the route takes the whole message as its body and the JSON fits the limit).
  if (route.info.body == "*" && mapped.path == route.info.path &&
      json.size() <= Fixture::kMaxBody) {
    HttpRequest replay;
    replay.method = request.method;
    replay.path = request.path;
    replay.body = json;
    std::variant<MappedRequest, HttpResponse> second = route.gateway->MapRequest(replay);
    FUZZ_CHECK(std::holds_alternative<MappedRequest>(second));
    FUZZ_CHECK(pb::util::MessageDifferencer::Equals(msg, *std::get<MappedRequest>(second).message));
  }
}

void Run(Fixture& f, FuzzedDataProvider& in) {
  const uint8_t flags = in.ConsumeIntegral<uint8_t>();
  const Route& route = f.routes[in.ConsumeIntegralInRange<size_t>(0, f.routes.size() - 1)];
  HttpRequest request;
  request.method = route.info.http_method;
  if (flags & 1) {
    static constexpr const char* kMethods[] = {"GET",    "POST", "PUT", "PATCH",
                                               "DELETE", "HEAD", "get", "OPTIONS"};
    const size_t pick = in.ConsumeIntegralInRange<size_t>(0, std::size(kMethods));
    request.method =
        pick < std::size(kMethods) ? kMethods[pick] : in.ConsumeRandomLengthString(kMaxRawText);
  }
  std::vector<std::string> values;
  request.path = BuildPath(in, route.info.path, (flags & 2) != 0, &values);
  if (flags & 4) request.path = in.ConsumeRandomLengthString(128);
  const int params = in.ConsumeIntegralInRange(0, 6);
  for (int i = 0; i < params; ++i) {
    std::string key = PickKey(in, route.method->input_type());
    request.query.emplace_back(std::move(key), in.ConsumeRandomLengthString(48));
  }
  request.body = in.ConsumeRemainingBytesAsString();

  std::variant<MappedRequest, HttpResponse> result = route.gateway->MapRequest(request);
  bool well_formed = (flags & 7) == 0;
  for (const std::string& v : values) well_formed = well_formed && !v.empty();
  if (const HttpResponse* error = std::get_if<HttpResponse>(&result)) {
    CheckError(*route.gateway, request, *error);
    if (well_formed) FUZZ_CHECK(error->status == 400 || error->status == 413);
    return;
  }
  const MappedRequest& mapped = std::get<MappedRequest>(result);
  if (well_formed) {
    FUZZ_CHECK(mapped.grpc_method == route.info.grpc_method && mapped.path == route.info.path);
    FUZZ_CHECK(mapped.bindings.size() == values.size());
    for (size_t i = 0; i < values.size(); ++i) FUZZ_CHECK(mapped.bindings[i].value == values[i]);
  }
  CheckMapped(route, request, mapped);
}

}  // namespace
}  // namespace coffer::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* fixture = new coffer::fuzz::Fixture();
  FuzzedDataProvider in(data, size);
  coffer::fuzz::Run(*fixture, in);
  return 0;
}
