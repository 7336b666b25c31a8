#include "services/identity/transport/http_server.h"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "pkg/crypto/encoding.h"
#include "pkg/log/log.h"
#include "services/identity/transport/identity_grpc_service.h"

namespace coffer::identity {
namespace {

constexpr char kJson[] = "application/json";

const log::Logger& Log() {
  static const log::Logger logger("http");
  return logger;
}

void SendOAuthError(httplib::Response& res, int http_status, const std::string& error,
                    const std::string& description) {
  res.status = http_status;
  if (http_status == 401) res.set_header("WWW-Authenticate", "Basic realm=\"coffer-identity\"");
  res.set_content(nlohmann::json{{"error", error}, {"error_description", description}}.dump(),
                  kJson);
}

std::string BaseUrl(const IdentityHttpServerOptions& options, const httplib::Request& req) {
  if (!options.public_base_url.empty()) {
    std::string base = options.public_base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base;
  }
  return "http://" + req.get_header_value("Host");
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
  return std::make_pair(httplib::detail::decode_url(decoded->substr(0, colon), true),
                        httplib::detail::decode_url(decoded->substr(colon + 1), true));
}

IdentityHttpServer::IdentityHttpServer(IdentityService& service, IdentityHttpServerOptions options)
    : service_(service),
      options_(std::move(options)),
      server_(std::make_unique<httplib::Server>()) {
  server_->set_payload_max_length(64 * 1024);

  server_->Get("/.well-known/jwks.json", [this](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "public, max-age=60");
    res.set_content(service_.GetJwks().json, "application/jwk-set+json");
  });

  server_->Get("/.well-known/openid-configuration", [this](const httplib::Request& req,
                                                           httplib::Response& res) {
    const std::string base = BaseUrl(options_, req);
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
    res.set_header("Cache-Control", "public, max-age=300");
    res.set_content(doc.dump(), kJson);
  });

  server_->Post("/oauth2/introspect", [this](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    // Authenticate the caller first: bearer token or client credentials.
    const std::string authorization = req.get_header_value("Authorization");
    absl::StatusOr<Caller> caller = absl::UnauthenticatedError("authentication required");
    if (std::string bearer = BearerToken(authorization); !bearer.empty()) {
      caller = service_.Authenticate(bearer);
    } else if (auto basic = ParseBasicAuth(authorization); basic.ok()) {
      caller = service_.AuthenticateClient(basic->first, basic->second);
      if (absl::IsInvalidArgument(caller.status())) {
        caller = absl::UnauthenticatedError("invalid client credentials");
      }
    }
    if (!caller.ok()) {
      if (absl::IsUnauthenticated(caller.status())) {
        SendOAuthError(res, 401, "invalid_client", std::string(caller.status().message()));
      } else {
        Log().Error("introspection authentication failed", {{"status", caller.status()}});
        SendOAuthError(res, 503, "temporarily_unavailable", "try again later");
      }
      return;
    }
    const std::string content_type = req.get_header_value("Content-Type");
    if (content_type.rfind("application/x-www-form-urlencoded", 0) != 0) {
      SendOAuthError(res, 400, "invalid_request", "body must be application/x-www-form-urlencoded");
      return;
    }
    httplib::Params form;
    httplib::detail::parse_query_text(req.body, form);
    auto token = form.find("token");
    if (token == form.end() || token->second.empty()) {
      SendOAuthError(res, 400, "invalid_request", "the token parameter is required");
      return;
    }
    auto result = service_.Introspect(*caller, token->second);
    if (!result.ok()) {
      switch (result.status().code()) {
        case absl::StatusCode::kInvalidArgument:
          SendOAuthError(res, 400, "invalid_request", std::string(result.status().message()));
          return;
        case absl::StatusCode::kPermissionDenied:
          SendOAuthError(res, 403, "insufficient_scope", std::string(result.status().message()));
          return;
        default:
          Log().Error("introspection failed", {{"status", result.status()}});
          SendOAuthError(res, 503, "temporarily_unavailable", "try again later");
          return;
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
    res.set_content(body.dump(), kJson);
  });
}

IdentityHttpServer::~IdentityHttpServer() { Stop(); }

absl::StatusOr<int> IdentityHttpServer::Start() {
  if (thread_.joinable()) return absl::FailedPreconditionError("HTTP server already started");
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
    if (port < 0) return absl::UnavailableError("cannot bind the HTTP address");
  } else if (!server_->bind_to_port(options_.host, port)) {
    return absl::UnavailableError("cannot bind the HTTP address");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // Stop() is a no-op until the listen loop runs; wait for it so Start/Stop cannot race.
  for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return port;
}

void IdentityHttpServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace coffer::identity
