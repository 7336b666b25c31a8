#include "services/vault/app/identity_clients.h"

#include <grpcpp/client_context.h>
#include <httplib.h>

#include "pkg/status/status.h"

namespace coffer::vault::app {

absl::StatusOr<auth::JwkSet> IdentityJwksSource::Fetch() {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  // Wait (within the deadline) for the identity service instead of failing fast while the
  // channel is between reconnect attempts, e.g. right after either side restarted.
  ctx.set_wait_for_ready(true);
  identity::v1::GetJwksRequest req;
  identity::v1::GetJwksResponse resp;
  grpc::Status s = stub_->GetJwks(&ctx, req, &resp);
  if (!s.ok()) return status::Annotate(status::FromGrpcStatus(s), "fetching JWKS from identity");
  auth::JwkSet set;
  for (const auto& k : resp.keys()) {
    set.keys.push_back(auth::Jwk{k.kty(), k.crv(), k.x(), k.kid(), k.use(), k.alg()});
  }
  if (set.keys.empty() && !resp.json().empty()) return auth::JwkSet::FromJson(resp.json());
  return set;
}

absl::StatusOr<std::unique_ptr<HttpJwksSource>> HttpJwksSource::Create(
    const std::string& url, std::chrono::milliseconds timeout) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    return absl::InvalidArgumentError("jwks-url: expected http(s)://host[:port]/path");
  }
  std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return absl::InvalidArgumentError("jwks-url: scheme must be http or https");
  }
  size_t path_start = url.find('/', scheme_end + 3);
  std::string origin = path_start == std::string::npos ? url : url.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (origin.size() <= scheme_end + 3) return absl::InvalidArgumentError("jwks-url: no host");
  return std::unique_ptr<HttpJwksSource>(new HttpJwksSource(origin, path, timeout));
}

absl::StatusOr<auth::JwkSet> HttpJwksSource::Fetch() {
  httplib::Client client(origin_);
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout_);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout_ - seconds);
  client.set_connection_timeout(seconds.count(), micros.count());
  client.set_read_timeout(seconds.count(), micros.count());
  client.set_follow_location(true);
  httplib::Result result = client.Get(path_.c_str());
  if (!result) {
    return absl::UnavailableError("fetching JWKS: " + httplib::to_string(result.error()));
  }
  if (result->status != 200) {
    return absl::UnavailableError("fetching JWKS: HTTP " + std::to_string(result->status));
  }
  return auth::JwkSet::FromJson(result->body);
}

absl::StatusOr<bool> IdentityIntrospector::IsActive(std::string_view token) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  // Wait (within the deadline) for the identity service instead of failing fast while the
  // channel is between reconnect attempts, e.g. right after either side restarted.
  ctx.set_wait_for_ready(true);
  identity::v1::IntrospectRequest req;
  req.set_token(std::string(token));
  // Introspect is authenticated with "any valid token": the token under question serves. When
  // identity rejects it as a credential (revoked, expired), it is simply not active.
  ctx.AddMetadata("authorization", "Bearer " + std::string(token));
  identity::v1::IntrospectResponse resp;
  grpc::Status s = stub_->Introspect(&ctx, req, &resp);
  if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) return false;
  if (!s.ok()) return status::Annotate(status::FromGrpcStatus(s), "introspecting token");
  return resp.active();
}

}  // namespace coffer::vault::app
