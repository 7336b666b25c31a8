#include "services/identity/transport/http_server.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "pkg/auth/bearer.h"
#include "pkg/crypto/encoding.h"
#include "pkg/http/url.h"
#include "pkg/log/log.h"
#include "services/identity/transport/identity_grpc_service.h"

namespace coffer::identity {
namespace {

constexpr char kJson[] = "application/json";

const log::Logger& Log() {
  static const log::Logger logger("http");
  return logger;
}

http::HttpResponse OAuthError(int http_status, const std::string& error,
                              const std::string& description) {
  http::HttpResponse res;
  res.status = http_status;
  res.content_type = kJson;
  res.headers.emplace_back("Cache-Control", "no-store");
  if (http_status == 401) {
    res.headers.emplace_back("WWW-Authenticate", "Basic realm=\"coffer-identity\"");
  }
  res.body = nlohmann::json{{"error", error}, {"error_description", description}}.dump();
  return res;
}

// A Host header worth echoing: a DNS name or IP literal with an optional port, nothing else.
bool PlausibleHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::pair<std::string, std::string>> ParseBasicAuth(std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size()) return absl::InvalidArgumentError("not Basic auth");
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = header[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != kScheme[i]) return absl::InvalidArgumentError("not Basic auth");
  }
  auto decoded = crypto::Base64Decode(header.substr(kScheme.size()));
  if (!decoded.ok()) return absl::InvalidArgumentError("malformed Basic credentials");
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError("malformed Basic credentials");
  return std::make_pair(http::FormDecode(decoded->substr(0, colon)),
                        http::FormDecode(decoded->substr(colon + 1)));
}

IdentityHttpServer::IdentityHttpServer(IdentityService& service, IdentityHttpServerOptions options)
    : service_(service), options_(std::move(options)) {}

IdentityHttpServer::~IdentityHttpServer() { Stop(); }

http::HttpResponse IdentityHttpServer::Handle(const http::HttpRequest& req) const {
  const bool read = req.method == "GET" || req.method == "HEAD";
  if (req.path == "/.well-known/jwks.json" && read) {
    http::HttpResponse res;
    res.headers.emplace_back("Cache-Control", "public, max-age=60");
    res.content_type = "application/jwk-set+json";
    res.body = service_.GetJwks().json;
    return res;
  }
  if (req.path == "/.well-known/openid-configuration" && read) return Discovery(req);
  if (req.path == "/oauth2/introspect" && req.method == "POST") return Introspect(req);
  const bool known = req.path == "/.well-known/jwks.json" ||
                     req.path == "/.well-known/openid-configuration" ||
                     req.path == "/oauth2/introspect";
  http::HttpResponse res;
  res.status = known ? 405 : 404;
  res.content_type = "text/plain";
  if (known) res.headers.emplace_back("Allow", req.path == "/oauth2/introspect" ? "POST" : "GET");
  res.body = known ? "method not allowed" : "not found";
  return res;
}

http::HttpResponse IdentityHttpServer::Discovery(const http::HttpRequest& req) const {
  http::HttpResponse res;
  std::string base = options_.public_base_url;
  if (!base.empty()) {
    while (!base.empty() && base.back() == '/') base.pop_back();
    res.headers.emplace_back("Cache-Control", "public, max-age=300");
  } else {
    // Without a configured base URL the links follow the request's Host; such an answer differs
    // per caller, so no cache may keep it (a forged Host must not poison a shared cache).
    const std::string_view host = req.Header("Host");
    if (!PlausibleHost(host)) return OAuthError(400, "invalid_request", "bad Host header");
    base = std::string(req.tls ? "https://" : "http://") + std::string(host);
    res.headers.emplace_back("Cache-Control", "no-store");
  }
  nlohmann::json doc = {
      {"issuer", service_.config().issuer},
      {"jwks_uri", base + "/.well-known/jwks.json"},
      {"introspection_endpoint", base + "/oauth2/introspect"},
      {"introspection_endpoint_auth_methods_supported", {"client_secret_basic", "bearer"}},
      {"grant_types_supported", {"password", "refresh_token", "client_credentials"}},
      {"token_endpoint_auth_signing_alg_values_supported", {"EdDSA"}},
      {"id_token_signing_alg_values_supported", {"EdDSA"}},
      {"subject_types_supported", {"public"}},
      {"response_types_supported", {"token"}},
  };
  res.content_type = kJson;
  res.body = doc.dump();
  return res;
}

http::HttpResponse IdentityHttpServer::Introspect(const http::HttpRequest& req) const {
  // Authenticate the caller first: bearer token or client credentials.
  const std::string authorization(req.Header("Authorization"));
  absl::StatusOr<Caller> caller = absl::UnauthenticatedError("authentication required");
  if (std::string bearer(auth::ParseBearer(authorization)); !bearer.empty()) {
    caller = service_.Authenticate(bearer);
  } else if (auto basic = ParseBasicAuth(authorization); basic.ok()) {
    caller = service_.AuthenticateClient(basic->first, basic->second);
    if (absl::IsInvalidArgument(caller.status())) {
      caller = absl::UnauthenticatedError("invalid client credentials");
    }
  }
  if (!caller.ok()) {
    if (absl::IsUnauthenticated(caller.status())) {
      return OAuthError(401, "invalid_client", std::string(caller.status().message()));
    }
    Log().Error("introspection authentication failed", {{"status", caller.status()}});
    return OAuthError(503, "temporarily_unavailable", "try again later");
  }
  const std::string_view content_type = req.Header("Content-Type");
  if (content_type.rfind("application/x-www-form-urlencoded", 0) != 0) {
    return OAuthError(400, "invalid_request", "body must be application/x-www-form-urlencoded");
  }
  std::string token;
  for (auto& [key, value] : http::ParseQueryString(req.body)) {
    if (key == "token") token = std::move(value);
  }
  if (token.empty()) return OAuthError(400, "invalid_request", "the token parameter is required");
  auto result = service_.Introspect(*caller, token);
  if (!result.ok()) {
    switch (result.status().code()) {
      case absl::StatusCode::kInvalidArgument:
        return OAuthError(400, "invalid_request", std::string(result.status().message()));
      case absl::StatusCode::kPermissionDenied:
        return OAuthError(403, "insufficient_scope", std::string(result.status().message()));
      default:
        Log().Error("introspection failed", {{"status", result.status()}});
        return OAuthError(503, "temporarily_unavailable", "try again later");
    }
  }
  nlohmann::json body = {{"active", result->active}};
  if (result->active) {
    body["sub"] = result->sub;
    body["scope"] = result->scope;
    body["exp"] = result->exp;
    body["iat"] = result->iat;
    body["token_type"] = result->token_type;
    body["iss"] = result->iss;
    if (!result->client_id.empty()) body["client_id"] = result->client_id;
    if (!result->jti.empty()) body["jti"] = result->jti;
    if (!result->aud.empty()) body["aud"] = result->aud;
  }
  http::HttpResponse res;
  res.headers.emplace_back("Cache-Control", "no-store");
  res.content_type = kJson;
  res.body = body.dump();
  return res;
}

absl::StatusOr<int> IdentityHttpServer::Start() {
  if (server_ != nullptr) return absl::FailedPreconditionError("HTTP server already started");
  server_ = std::make_unique<http::HttpServer>(
      http::HttpServerOptions{.host = options_.host,
                              .port = options_.port,
                              .max_body_bytes = 64 * 1024,
                              .max_header_bytes = 16 * 1024,
                              .tls_cert_file = options_.tls_cert_file,
                              .tls_key_file = options_.tls_key_file,
                              .name = "identity-http"},
      [this](const http::HttpRequest& request) { return Handle(request); });
  absl::StatusOr<int> port = server_->Start();
  if (!port.ok()) server_.reset();
  return port;
}

void IdentityHttpServer::Stop() {
  if (server_ == nullptr) return;
  server_->Stop();
  server_.reset();
}

}  // namespace coffer::identity
