#include "pkg/restgw/gateway.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/common.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <future>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "google/api/annotations.pb.h"
#include "google/api/http.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "pkg/status/status.h"

namespace coffer::restgw {

namespace pb = google::protobuf;

struct RestGateway::Route {
  std::string http_method;
  PathTemplate path;
  std::string body;  // "", "*" or a top-level field name
  const pb::MethodDescriptor* method = nullptr;
  std::string grpc_method;                                    // "/pkg.Service/Method"
  const pb::FieldDescriptor* body_field = nullptr;            // for body: "field"
  std::vector<std::vector<const pb::FieldDescriptor*>> vars;  // per path variable
};

namespace {

std::string ToUpper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::string ToLower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// What a JSON parse error may tell the caller: the field it concerns, never the value (it may
// be a password or a card number) nor the parser's internal wording.
std::string PbMessage(const pb::util::Status& s) {
  const std::string m(s.message().data(), s.message().size());
  if (!m.empty() && m.front() == '(') {
    const size_t close = m.find(')');
    if (close != std::string::npos && close > 1 && close < 200) {
      std::string field = m.substr(1, close - 1);
      bool plain = true;
      for (char c : field) {
        plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                          c == '[' || c == ']');
      }
      if (plain) return field + ": not a valid value for this field";
    }
  }
  // "<path>: <problem>" (e.g. "nope: Cannot find field."): the path is the caller's key, not a
  // value, so it is named when it looks like one; the parser's wording is not passed on.
  if (const size_t colon = m.find(": "); colon != std::string::npos && colon <= 200) {
    const std::string path = m.substr(0, colon);
    bool plain = !path.empty();
    for (char c : path) {
      plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                        c == '[' || c == ']');
    }
    if (plain) {
      return path + (m.find("Cannot find field") != std::string::npos
                         ? ": unknown field"
                         : ": not a valid value for this field");
    }
  }
  return "not valid JSON for this request";
}

// A string field's text (query parameter, path variable) must be UTF-8: protobuf refuses
// anything else when the service parses the request, and its JSON printer cannot print it. Same
// check as protobuf's own.
bool IsValidUtf8(const std::string& s) {
  return s.size() <= static_cast<size_t>(std::numeric_limits<int>::max()) &&
         pb::internal::IsStructurallyValidUTF8(s.data(), static_cast<int>(s.size()));
}

// Client text that an error message names (an unknown parameter, the method): cut to 64 bytes
// so a huge one is not sent back (each invalid UTF-8 byte also grows to 3 in the JSON body).
std::string Echo(std::string_view text) {
  constexpr size_t kMax = 64;
  return text.size() <= kMax ? std::string(text) : std::string(text.substr(0, kMax)) + "...";
}

// A field of `desc` by proto name or JSON (lowerCamel) name.
const pb::FieldDescriptor* FindField(const pb::Descriptor* desc, const std::string& name) {
  if (const pb::FieldDescriptor* f = desc->FindFieldByName(name)) return f;
  for (int i = 0; i < desc->field_count(); ++i) {
    if (desc->field(i)->json_name() == name) return desc->field(i);
  }
  return nullptr;
}

template <typename T>
bool ParseNumber(const std::string& s, T* out) {
  if constexpr (std::is_floating_point_v<T>) {
    if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
    if (s == "NaN" || s == "Infinity" || s == "-Infinity") {
      *out = s == "NaN" ? std::numeric_limits<T>::quiet_NaN()
                        : (s[0] == '-' ? -std::numeric_limits<T>::infinity()
                                       : std::numeric_limits<T>::infinity());
      return true;
    }
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s.c_str(), &end);
    if (errno == ERANGE || end != s.c_str() + s.size()) return false;
    *out = static_cast<T>(v);
    return true;
  } else {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && ptr == s.data() + s.size();
  }
}

// Sets (or, for repeated fields, appends) a scalar or enum field from its text form.
absl::Status SetScalar(pb::Message* msg, const pb::FieldDescriptor* field, const std::string& value,
                       const std::string& name) {
  const pb::Reflection* r = msg->GetReflection();
  bool rep = field->is_repeated();
  auto bad = [&](std::string_view what) {
    // The value is never echoed (a query parameter may carry a secret); the parameter is named.
    return absl::InvalidArgumentError(fmt::format("parameter '{}': not {}", name, what));
  };
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!ParseNumber(value, &v)) return bad("a 32-bit integer");
      rep ? r->AddInt32(msg, field, v) : r->SetInt32(msg, field, v);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!ParseNumber(value, &v)) return bad("a 64-bit integer");
      rep ? r->AddInt64(msg, field, v) : r->SetInt64(msg, field, v);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!ParseNumber(value, &v)) return bad("an unsigned 32-bit integer");
      rep ? r->AddUInt32(msg, field, v) : r->SetUInt32(msg, field, v);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!ParseNumber(value, &v)) return bad("an unsigned 64-bit integer");
      rep ? r->AddUInt64(msg, field, v) : r->SetUInt64(msg, field, v);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_DOUBLE: {
      double v;
      if (!ParseNumber(value, &v)) return bad("a number");
      rep ? r->AddDouble(msg, field, v) : r->SetDouble(msg, field, v);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_FLOAT: {
      float v;
      if (!ParseNumber(value, &v)) return bad("a number");
      rep ? r->AddFloat(msg, field, v) : r->SetFloat(msg, field, v);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_BOOL: {
      std::string lower = ToLower(value);
      bool v;
      if (lower == "true" || lower == "1") {
        v = true;
      } else if (lower == "false" || lower == "0") {
        v = false;
      } else {
        return bad("a boolean");
      }
      rep ? r->AddBool(msg, field, v) : r->SetBool(msg, field, v);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      const pb::EnumValueDescriptor* ev = field->enum_type()->FindValueByName(value);
      int number = 0;
      if (ev == nullptr && ParseNumber(value, &number)) {
        ev = field->enum_type()->FindValueByNumber(number);
      }
      if (ev == nullptr) return bad(fmt::format("a {} value", field->enum_type()->name()));
      rep ? r->AddEnum(msg, field, ev) : r->SetEnum(msg, field, ev);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string v = value;
      if (field->type() == pb::FieldDescriptor::TYPE_BYTES) {
        // Standard or URL-safe base64, like protobuf's JSON mapping.
        if (!absl::Base64Unescape(value, &v) && !absl::WebSafeBase64Unescape(value, &v)) {
          return bad("base64");
        }
      } else if (!IsValidUtf8(value)) {
        return bad("valid UTF-8");
      }
      rep ? r->AddString(msg, field, std::move(v)) : r->SetString(msg, field, std::move(v));
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return absl::InvalidArgumentError(
          fmt::format("parameter '{}': message field cannot be set from text", name));
  }
  return absl::OkStatus();
}

// Sets a message-typed leaf from text: well-known wrappers through their "value" field,
// Timestamp / Duration / FieldMask through their JSON string form.
absl::Status SetMessageLeaf(pb::Message* msg, const pb::FieldDescriptor* field,
                            const std::string& value, const std::string& name) {
  const pb::Reflection* r = msg->GetReflection();
  pb::Message* sub =
      field->is_repeated() ? r->AddMessage(msg, field) : r->MutableMessage(msg, field);
  const pb::Descriptor* d = sub->GetDescriptor();
  if (d->file()->name().rfind("google/protobuf/wrappers.proto", 0) == 0) {
    return SetScalar(sub, d->FindFieldByName("value"), value, name);
  }
  if (d->full_name() == "google.protobuf.Timestamp" ||
      d->full_name() == "google.protobuf.Duration" ||
      d->full_name() == "google.protobuf.FieldMask") {
    // (Also keeps nlohmann's dump() below from throwing on bad UTF-8.)
    if (!IsValidUtf8(value)) {
      return absl::InvalidArgumentError(
          fmt::format("parameter '{}': not a valid {}", name, d->name()));
    }
    pb::util::Status s = pb::util::JsonStringToMessage(nlohmann::json(value).dump(), sub);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("parameter '{}': not a valid {}", name, d->name()));
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(fmt::format(
      "parameter '{}' names message field of type {}; set its fields instead", name, d->name()));
}

// Resolves "a.b.c" (proto or JSON names) to a field chain: every step but the last a singular
// message. `for_path` additionally requires a singular scalar leaf (path variables).
absl::StatusOr<std::vector<const pb::FieldDescriptor*>> ResolveFieldPath(
    const pb::Descriptor* desc, const std::vector<std::string>& parts, bool proto_names_only) {
  std::vector<const pb::FieldDescriptor*> chain;
  const pb::Descriptor* cur = desc;
  for (size_t i = 0; i < parts.size(); ++i) {
    const pb::FieldDescriptor* f =
        proto_names_only ? cur->FindFieldByName(parts[i]) : FindField(cur, parts[i]);
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("{} has no field '{}'", cur->full_name(), parts[i]));
    }
    if (i + 1 < parts.size()) {
      if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || f->is_repeated()) {
        return absl::InvalidArgumentError(
            fmt::format("field '{}' of {} is not a singular message", parts[i], cur->full_name()));
      }
      cur = f->message_type();
    }
    chain.push_back(f);
  }
  return chain;
}

// Walks a resolved chain, creating intermediate messages, and returns the message holding the
// leaf field.
pb::Message* MutableParent(pb::Message* msg, const std::vector<const pb::FieldDescriptor*>& chain) {
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    msg = msg->GetReflection()->MutableMessage(msg, chain[i]);
  }
  return msg;
}

std::string JoinPath(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out.push_back('.');
    out += p;
  }
  return out;
}

const std::string* FindHeader(const HttpRequest& request, const std::string& lower_name) {
  for (const auto& [key, value] : request.headers) {
    if (ToLower(key) == lower_name) return &value;
  }
  return nullptr;
}

bool IsPrintableAscii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

}  // namespace

int HttpStatusFromCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:  // UNKNOWN, INTERNAL, DATA_LOSS and anything new
      return 500;
  }
}

std::optional<int64_t> RetryAfterSeconds(const grpc::Status& status) {
  if (status.error_details().empty()) return std::nullopt;
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return std::nullopt;
  for (const auto& any : details.details()) {
    google::rpc::RetryInfo retry;
    if (!any.UnpackTo(&retry)) continue;
    const int64_t seconds = retry.retry_delay().seconds();
    const bool partial = retry.retry_delay().nanos() > 0;
    if (seconds < 0 || seconds > 86400) return std::nullopt;
    return std::max<int64_t>(1, seconds + (partial ? 1 : 0));
  }
  return std::nullopt;
}

std::string ClientAddress(const HttpRequest& request,
                          const std::vector<std::string>& trusted_proxies) {
  auto trusted = [&trusted_proxies](std::string_view a) {
    return std::find(trusted_proxies.begin(), trusted_proxies.end(), a) != trusted_proxies.end();
  };
  auto is_ip = [](const std::string& a) {
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(AF_INET, a.c_str(), buf) == 1 || inet_pton(AF_INET6, a.c_str(), buf) == 1;
  };
  std::string address = request.peer;
  if (!trusted(address)) return address;
  // Walk X-Forwarded-For from the right: each trusted proxy appended the address it saw; the
  // first untrusted one is the client. A malformed entry stops the walk at the last proxy.
  // All lines of the header: a proxy may append its own line rather than extend the first.
  const std::string forwarded = request.HeaderList("X-Forwarded-For");
  std::vector<std::string> hops = absl::StrSplit(forwarded, ',');
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    std::string hop(absl::StripAsciiWhitespace(*it));
    if (!is_ip(hop)) break;
    address = hop;
    if (!trusted(hop)) break;
  }
  return address;
}

HttpResponse ErrorResponse(const absl::Status& status, int http_status) {
  HttpResponse res;
  res.status = http_status != 0 ? http_status : HttpStatusFromCode(status.code());
  nlohmann::json body = {{"code", static_cast<int>(status.code())},
                         {"message", std::string(status.message())},
                         {"details", nlohmann::json::array()}};
  // Messages come from peers and may hold arbitrary bytes; never throw on bad UTF-8.
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

pb::util::JsonParseOptions RequestJsonParseOptions() {
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  return options;
}

pb::util::JsonPrintOptions ResponseJsonPrintOptions(const RestGatewayOptions& options) {
  pb::util::JsonPrintOptions print;
  print.preserve_proto_field_names = false;
  print.always_print_primitive_fields = options.always_print_primitive_fields;
  return print;
}

RestGateway::RestGateway(std::shared_ptr<grpc::Channel> channel, RestGatewayOptions options)
    : channel_(std::move(channel)), options_(std::move(options)) {
  for (std::string& h : options_.forwarded_headers) h = ToLower(h);
}

RestGateway::~RestGateway() = default;

absl::StatusOr<std::unique_ptr<RestGateway>> RestGateway::Create(
    const std::vector<std::string>& services, std::shared_ptr<grpc::Channel> channel,
    RestGatewayOptions options) {
  if (channel == nullptr) return absl::InvalidArgumentError("restgw: null channel");
  std::unique_ptr<RestGateway> gw(new RestGateway(std::move(channel), std::move(options)));
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  for (const std::string& name : services) {
    const pb::ServiceDescriptor* service = pool->FindServiceByName(name);
    if (service == nullptr) {
      return absl::NotFoundError(fmt::format(
          "restgw: service '{}' is not in the generated descriptor pool (is its code linked?)",
          name));
    }
    for (int i = 0; i < service->method_count(); ++i) {
      const pb::MethodDescriptor* method = service->method(i);
      if (method->client_streaming() || method->server_streaming()) continue;
      if (!method->options().HasExtension(google::api::http)) continue;
      const google::api::HttpRule& top = method->options().GetExtension(google::api::http);
      std::vector<const google::api::HttpRule*> rules = {&top};
      for (const google::api::HttpRule& extra : top.additional_bindings()) rules.push_back(&extra);
      for (const google::api::HttpRule* rule : rules) {
        std::string verb;
        std::string path;
        switch (rule->pattern_case()) {
          case google::api::HttpRule::kGet:
            verb = "GET", path = rule->get();
            break;
          case google::api::HttpRule::kPut:
            verb = "PUT", path = rule->put();
            break;
          case google::api::HttpRule::kPost:
            verb = "POST", path = rule->post();
            break;
          case google::api::HttpRule::kDelete:
            verb = "DELETE", path = rule->delete_();
            break;
          case google::api::HttpRule::kPatch:
            verb = "PATCH", path = rule->patch();
            break;
          case google::api::HttpRule::kCustom:
            verb = ToUpper(rule->custom().kind()), path = rule->custom().path();
            break;
          default:
            continue;
        }
        COFFER_RETURN_IF_ERROR(gw->AddRoute(method, verb, path, rule->body()));
      }
    }
  }
  return gw;
}

absl::Status RestGateway::AddRoute(const pb::MethodDescriptor* method, std::string http_method,
                                   const std::string& path, const std::string& body) {
  auto where = [&] { return fmt::format("restgw: {} {}", method->full_name(), path); };
  absl::StatusOr<PathTemplate> tmpl = PathTemplate::Parse(path);
  if (!tmpl.ok()) return status::Annotate(tmpl.status(), where());
  auto route = std::make_unique<Route>(
      Route{std::move(http_method), std::move(*tmpl), body, method, "", nullptr, {}});
  route->grpc_method = fmt::format("/{}/{}", method->service()->full_name(), method->name());
  const pb::Descriptor* input = method->input_type();
  if (!body.empty() && body != "*") {
    route->body_field = input->FindFieldByName(body);
    if (route->body_field == nullptr) {
      return absl::InvalidArgumentError(fmt::format("{}: no body field '{}'", where(), body));
    }
  }
  for (const std::vector<std::string>& var : route->path.variable_paths()) {
    absl::StatusOr<std::vector<const pb::FieldDescriptor*>> chain =
        ResolveFieldPath(input, var, /*proto_names_only=*/true);
    if (!chain.ok()) return status::Annotate(chain.status(), where());
    const pb::FieldDescriptor* leaf = chain->back();
    if (leaf->is_repeated() || leaf->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      return absl::InvalidArgumentError(
          fmt::format("{}: path variable '{}' must be a singular scalar", where(), JoinPath(var)));
    }
    route->vars.push_back(*std::move(chain));
  }
  for (const auto& other : routes_) {
    if (other->http_method == route->http_method && other->path.text() == route->path.text()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: route already served by {}", where(), other->grpc_method));
    }
  }
  routes_.push_back(std::move(route));
  return absl::OkStatus();
}

std::vector<RouteInfo> RestGateway::routes() const {
  std::vector<RouteInfo> out;
  for (const auto& r : routes_) {
    out.push_back({r->http_method, r->path.text(), r->grpc_method, r->body});
  }
  return out;
}

absl::StatusOr<std::unique_ptr<pb::Message>> RestGateway::BuildRequest(
    const Route& route, const std::vector<PathBinding>& bindings,
    const HttpRequest& request) const {
  const pb::Descriptor* input = route.method->input_type();
  const pb::Message* prototype = pb::MessageFactory::generated_factory()->GetPrototype(input);
  if (prototype == nullptr) {
    return absl::InternalError(fmt::format("no generated type for {}", input->full_name()));
  }
  std::unique_ptr<pb::Message> msg(prototype->New());
  const pb::util::JsonParseOptions json_options = RequestJsonParseOptions();

  // 1. The body. Parsing replaces the message, so it comes before path and query values.
  bool has_body = request.body.find_first_not_of(" \t\r\n") != std::string::npos;
  if (!route.body.empty() && has_body) {
    if (!nlohmann::json::accept(request.body)) {
      return absl::InvalidArgumentError("request body is not valid JSON");
    }
    if (route.body == "*") {
      pb::util::Status s = pb::util::JsonStringToMessage(request.body, msg.get(), json_options);
      if (!s.ok()) {
        return absl::InvalidArgumentError(fmt::format("invalid request body: {}", PbMessage(s)));
      }
    } else {
      // Wrap the body as {"<field>": <body>} so any field type (message, list, scalar) works;
      // accept() above guarantees the body is exactly one JSON value.
      std::string wrapped = fmt::format(
          "{{{}:{}}}", nlohmann::json(route.body_field->json_name()).dump(), request.body);
      pb::util::Status s = pb::util::JsonStringToMessage(wrapped, msg.get(), json_options);
      if (!s.ok()) {
        return absl::InvalidArgumentError(fmt::format("invalid request body: {}", PbMessage(s)));
      }
    }
  }  // An absent body leaves the message (or body field) empty; the service validates it.

  // 2. Query parameters: every field not carried by the body ("*" carries all of them).
  if (route.body != "*") {
    std::set<std::string> seen;
    for (const auto& [key, value] : request.query) {
      std::vector<std::string> parts;
      size_t start = 0;
      while (true) {
        size_t dot = key.find('.', start);
        parts.push_back(key.substr(start, dot == std::string::npos ? dot : dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
      absl::StatusOr<std::vector<const pb::FieldDescriptor*>> chain =
          ResolveFieldPath(input, parts, /*proto_names_only=*/false);
      if (!chain.ok()) {
        return absl::InvalidArgumentError(fmt::format("unknown query parameter '{}'", Echo(key)));
      }
      if (route.body_field != nullptr && chain->front() == route.body_field) {
        return absl::InvalidArgumentError(
            fmt::format("query parameter '{}' names the body field", key));
      }
      const pb::FieldDescriptor* leaf = chain->back();
      if (leaf->is_map()) {
        return absl::InvalidArgumentError(
            fmt::format("query parameter '{}': map fields are not supported", key));
      }
      std::string canonical;
      for (const pb::FieldDescriptor* f : *chain) {
        canonical += (canonical.empty() ? "" : ".") + f->name();
      }
      if (!leaf->is_repeated() && !seen.insert(canonical).second) {
        return absl::InvalidArgumentError(
            fmt::format("query parameter '{}' given more than once", key));
      }
      pb::Message* parent = MutableParent(msg.get(), *chain);
      if (leaf->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        COFFER_RETURN_IF_ERROR(SetMessageLeaf(parent, leaf, value, key));
      } else {
        COFFER_RETURN_IF_ERROR(SetScalar(parent, leaf, value, key));
      }
    }
  }

  // 3. Path variables win over body and query.
  for (size_t i = 0; i < bindings.size() && i < route.vars.size(); ++i) {
    const auto& chain = route.vars[i];
    COFFER_RETURN_IF_ERROR(SetScalar(MutableParent(msg.get(), chain), chain.back(),
                                     bindings[i].value, JoinPath(bindings[i].field_path)));
  }
  return msg;
}

std::variant<MappedRequest, HttpResponse> RestGateway::MapRequest(
    const HttpRequest& request) const {
  if (request.body.size() > options_.max_body_bytes) {
    return ErrorResponse(absl::ResourceExhaustedError(
                             fmt::format("request body of {} bytes exceeds the limit of {} bytes",
                                         request.body.size(), options_.max_body_bytes)),
                         413);
  }
  std::string method = ToUpper(request.method);
  if (method == "HEAD") method = "GET";

  // Routing: among the routes whose template matches, prefer the one with a verb, then the one
  // with most literal segments ("/v1/files/{id}:download" over "/v1/files/{id}").
  const Route* best = nullptr;
  std::vector<PathBinding> best_bindings;
  std::set<std::string> allowed;
  std::vector<PathBinding> bindings;
  for (const auto& route : routes_) {
    if (!route->path.Match(request.path, &bindings)) continue;
    allowed.insert(route->http_method);
    if (route->http_method != method) continue;
    auto rank = [](const Route* r) {
      return std::make_pair(r->path.verb().empty() ? 0 : 1, r->path.literal_count());
    };
    if (best == nullptr || rank(route.get()) > rank(best)) {
      best = route.get();
      best_bindings = bindings;
    }
  }
  if (best == nullptr && allowed.empty()) {
    return ErrorResponse(
        absl::NotFoundError(fmt::format("no route for {} on this path", Echo(request.method))));
  }
  if (best == nullptr) {
    std::string allow;
    for (const std::string& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    HttpResponse res = ErrorResponse(
        absl::UnimplementedError(fmt::format("method {} not allowed on this path (allowed: {})",
                                             Echo(request.method), allow)),
        405);
    res.headers.emplace_back("Allow", allow);
    return res;
  }

  absl::StatusOr<std::unique_ptr<pb::Message>> grpc_request =
      BuildRequest(*best, best_bindings, request);
  if (!grpc_request.ok()) return ErrorResponse(grpc_request.status());
  return MappedRequest{best->method, best->grpc_method, best->path.text(), std::move(best_bindings),
                       *std::move(grpc_request)};
}

HttpResponse RestGateway::Handle(const HttpRequest& request) const {
  std::variant<MappedRequest, HttpResponse> mapped = MapRequest(request);
  if (HttpResponse* error = std::get_if<HttpResponse>(&mapped)) return std::move(*error);
  MappedRequest& call = std::get<MappedRequest>(mapped);

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.deadline);
  for (const std::string& name : options_.forwarded_headers) {
    const std::string* value = FindHeader(request, name);
    if (value == nullptr) continue;
    if (!IsPrintableAscii(*value)) {
      return ErrorResponse(
          absl::InvalidArgumentError(fmt::format("header '{}' must be printable ASCII", name)));
    }
    context.AddMetadata(name, *value);
  }
  // The client's address for per-address limits in the service: the HTTP peer, or, behind a
  // configured proxy, the address that proxy saw (never a client-supplied header otherwise).
  const std::string client = ClientAddress(request, options_.trusted_proxies);
  if (!client.empty()) context.AddMetadata(std::string(kClientAddressMetadata), client);
  for (const auto& [key, value] : options_.extra_metadata) context.AddMetadata(key, value);

  const pb::Message* out_proto =
      pb::MessageFactory::generated_factory()->GetPrototype(call.method->output_type());
  std::unique_ptr<pb::Message> response(out_proto->New());
  grpc::TemplatedGenericStub<pb::Message, pb::Message> stub(channel_);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, call.grpc_method, grpc::StubOptions(), call.message.get(),
                 response.get(), [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status result = done.get_future().get();
  if (!result.ok()) {
    HttpResponse error = ErrorResponse(status::FromGrpcStatus(result));
    // A service's google.rpc.RetryInfo (rate limits, caps) becomes Retry-After for HTTP clients.
    if (std::optional<int64_t> seconds = RetryAfterSeconds(result)) {
      error.headers.emplace_back("Retry-After", std::to_string(*seconds));
    }
    return error;
  }

  HttpResponse res;
  pb::util::Status s =
      pb::util::MessageToJsonString(*response, &res.body, ResponseJsonPrintOptions(options_));
  if (!s.ok()) {
    return ErrorResponse(
        absl::InternalError(fmt::format("rendering the response: {}", PbMessage(s))));
  }
  return res;
}

}  // namespace coffer::restgw
