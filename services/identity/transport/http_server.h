// The identity service's public HTTP endpoints (pkg/http, libmicrohttpd, with its header, body,
// connection and idle limits), for clients that speak OAuth/OIDC
// over HTTP rather than gRPC:
//
//   GET  /.well-known/jwks.json               the JWKS (same keys as GetJwks)
//   GET  /.well-known/openid-configuration    discovery document (issuer, jwks_uri, ...)
//   POST /oauth2/introspect                   RFC 7662 introspection, form-encoded body
//                                             "token=...", authenticated with
//                                             "Authorization: Bearer <access token>" or
//                                             "Authorization: Basic base64(client_id:secret)"
//
// Lifecycle: construct, Start() once (serves on a background thread), Stop() (also run by the
// destructor). The IdentityService must outlive the server. Threading: requests are handled on
// the HTTP server's worker threads; the handlers are stateless.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "pkg/http/server.h"
#include "services/identity/service/identity_service.h"

namespace coffer::identity {

struct IdentityHttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 = any free port; Start() returns it
  // Base URL clients reach this server at ("https://id.example.com"), used for the URLs in the
  // discovery document. Empty = the request's scheme and Host header (answered no-store).
  std::string public_base_url;
  // PEM files: HTTPS when both are set.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class IdentityHttpServer {
 public:
  IdentityHttpServer(IdentityService& service, IdentityHttpServerOptions options);
  ~IdentityHttpServer();
  IdentityHttpServer(const IdentityHttpServer&) = delete;
  IdentityHttpServer& operator=(const IdentityHttpServer&) = delete;

  // Binds and serves in a background thread; returns the bound port. UNAVAILABLE if the address
  // cannot be bound.
  absl::StatusOr<int> Start();

  // Stops serving and joins the thread. Idempotent.
  void Stop();

 private:
  http::HttpResponse Handle(const http::HttpRequest& req) const;
  http::HttpResponse Discovery(const http::HttpRequest& req) const;
  http::HttpResponse Introspect(const http::HttpRequest& req) const;

  IdentityService& service_;
  const IdentityHttpServerOptions options_;
  std::unique_ptr<http::HttpServer> server_;
};

// Splits "Basic base64(id:secret)" into id and secret (each form-url-decoded, RFC 6749
// §2.3.1). INVALID_ARGUMENT when malformed.
absl::StatusOr<std::pair<std::string, std::string>> ParseBasicAuth(std::string_view header);

}  // namespace coffer::identity
