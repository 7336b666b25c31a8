#include "services/vault/app/identity_clients.h"

#include <grpcpp/client_context.h>
#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "pkg/log/log.h"
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
  if (set.keys.empty() && !resp.json().empty()) {
    auto parsed = auth::JwkSet::FromJson(resp.json());
    // A malformed document is identity's fault, not the caller's: an outage.
    if (!parsed.ok())
      return absl::UnavailableError("JWKS from identity: " + parsed.status().ToString());
    return parsed;
  }
  return set;
}

absl::StatusOr<std::unique_ptr<HttpJwksSource>> HttpJwksSource::Create(
    const std::string& url, std::chrono::milliseconds timeout, std::size_t max_body_bytes) {
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
  if (max_body_bytes == 0) return absl::InvalidArgumentError("jwks-url: body limit must be > 0");
  if (scheme == "http") {
    log::Warn("the JWKS URL is plain http: token-signing keys could be replaced in transit");
  }
  return std::unique_ptr<HttpJwksSource>(new HttpJwksSource(origin, path, timeout, max_body_bytes));
}

absl::StatusOr<auth::JwkSet> HttpJwksSource::Fetch() {
  httplib::Client client(origin_);
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout_);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout_ - seconds);
  client.set_connection_timeout(seconds.count(), micros.count());
  client.set_read_timeout(seconds.count(), micros.count());
  // Never follow a redirect: it could go from https to http, or anywhere else.
  client.set_follow_location(false);
  int status = 0;
  bool too_large = false;
  bool too_slow = false;
  std::string body;
  // The read timeout is per read; a server trickling bytes is cut off at the overall deadline.
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  const httplib::Headers headers = {{"Accept", "application/jwk-set+json, application/json"}};
  httplib::Result result = client.Get(
      path_, headers,
      [&](const httplib::Response& response) {
        status = response.status;
        if (status != 200) return false;  // nothing of the body is needed
        // Refuse a declared oversized body before reading it; the receiver below bounds the
        // bytes actually read (chunked bodies, lying headers).
        const std::string length = response.get_header_value("Content-Length");
        unsigned long long declared = 0;
        auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), declared);
        if (!length.empty() && ec == std::errc() && end == length.data() + length.size() &&
            declared > max_body_bytes_) {
          too_large = true;
          return false;
        }
        return true;
      },
      [&](const char* data, size_t length) {
        if (body.size() + length > max_body_bytes_) {
          too_large = true;
          return false;
        }
        if (std::chrono::steady_clock::now() > deadline) {
          too_slow = true;
          return false;
        }
        body.append(data, length);
        return true;
      });
  if (too_slow) {
    return absl::DeadlineExceededError("fetching JWKS: the response took longer than the timeout");
  }
  if (too_large) {
    return absl::UnavailableError("fetching JWKS: the response exceeds " +
                                  std::to_string(max_body_bytes_) + " bytes");
  }
  if (status >= 300 && status < 400) {
    return absl::UnavailableError("fetching JWKS: HTTP " + std::to_string(status) +
                                  " redirect; redirects are not followed (configure the final "
                                  "URL)");
  }
  if (status != 0 && status != 200) {
    return absl::UnavailableError("fetching JWKS: HTTP " + std::to_string(status));
  }
  if (!result) {
    return absl::UnavailableError("fetching JWKS: " + httplib::to_string(result.error()));
  }
  auto set = auth::JwkSet::FromJson(body);
  // Not JSON, or no "keys" array: the issuer's (or a proxy's) fault, so an outage.
  if (!set.ok())
    return absl::UnavailableError("fetching JWKS: " + std::string(set.status().message()));
  return set;
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

namespace {

service::UserProfile ProfileFromProto(const identity::v1::UserProfile& p) {
  service::UserProfile out;
  out.user_id = p.user_id();
  out.login = p.login();
  out.display_name = p.display_name();
  out.created_at_ms = p.create_time().seconds() * 1000 + p.create_time().nanos() / 1000000;
  return out;
}

// identity's answer as the UserDirectory contract states it: its own code and message, except
// that "identity cannot be reached or did not answer in time" is UNAVAILABLE.
absl::Status DirectoryStatus(const grpc::Status& s, std::string_view what) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
      s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::UnavailableError(std::string(what) + ": identity service unavailable (" +
                                  s.error_message() + ")");
  }
  return status::FromGrpcStatus(s);
}

}  // namespace

IdentityUserDirectory::IdentityUserDirectory(const std::shared_ptr<grpc::Channel>& channel,
                                             std::chrono::milliseconds timeout,
                                             UserDirectoryCacheOptions cache,
                                             const auth::Clock& clock)
    : stub_(identity::v1::IdentityService::NewStub(channel)),
      timeout_(timeout),
      options_(cache),
      clock_(clock) {}

void IdentityUserDirectory::PrepareContext(grpc::ClientContext& ctx,
                                           const std::string& bearer_token) const {
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  // Wait (within the deadline) for the identity service instead of failing fast while the
  // channel is between reconnect attempts, e.g. right after either side restarted.
  ctx.set_wait_for_ready(true);
  ctx.AddMetadata("authorization", "Bearer " + bearer_token);
}

absl::StatusOr<service::UserProfile> IdentityUserDirectory::LookupLogin(
    const std::string& bearer_token, const std::string& login) {
  if (bearer_token.empty()) return absl::UnauthenticatedError("missing bearer token");
  grpc::ClientContext ctx;
  PrepareContext(ctx, bearer_token);
  identity::v1::LookupUserRequest req;
  req.set_login(login);
  identity::v1::LookupUserResponse resp;
  grpc::Status s = stub_->LookupUser(&ctx, req, &resp);
  if (!s.ok()) return DirectoryStatus(s, "looking up user");
  service::UserProfile profile = ProfileFromProto(resp.user());
  CachePut(profile.user_id, profile);
  return profile;
}

absl::StatusOr<service::UserProfile> IdentityUserDirectory::GetUser(const std::string& bearer_token,
                                                                    const std::string& user_id) {
  if (bearer_token.empty()) return absl::UnauthenticatedError("missing bearer token");
  if (auto cached = CacheGet(user_id)) return *std::move(cached);
  grpc::ClientContext ctx;
  PrepareContext(ctx, bearer_token);
  identity::v1::GetUserRequest req;
  req.set_user_id(user_id);
  identity::v1::GetUserResponse resp;
  grpc::Status s = stub_->GetUser(&ctx, req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
    CachePut(user_id, std::nullopt);
    return status::FromGrpcStatus(s);
  }
  if (!s.ok()) return DirectoryStatus(s, "getting user");
  service::UserProfile profile = ProfileFromProto(resp.user());
  CachePut(user_id, profile);
  return profile;
}

std::optional<absl::StatusOr<service::UserProfile>> IdentityUserDirectory::CacheGet(
    const std::string& user_id) {
  const absl::Time now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(user_id);
  if (it == cache_.end()) return std::nullopt;
  if (now >= it->second.expires) {
    lru_.erase(it->second.lru);
    cache_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.end(), lru_, it->second.lru);  // most recently used
  if (!it->second.profile) return absl::NotFoundError("no user with this id");
  return *it->second.profile;
}

void IdentityUserDirectory::CachePut(const std::string& user_id,
                                     std::optional<service::UserProfile> profile) {
  if (options_.max_entries == 0 || user_id.empty()) return;
  const auto ttl = profile ? options_.ttl : options_.not_found_ttl;
  if (ttl.count() <= 0) return;
  const absl::Time expires = clock_.Now() + absl::FromChrono(ttl);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(user_id);
  if (it != cache_.end()) {
    it->second.profile = std::move(profile);
    it->second.expires = expires;
    lru_.splice(lru_.end(), lru_, it->second.lru);
    return;
  }
  while (cache_.size() >= options_.max_entries) {
    cache_.erase(lru_.front());
    lru_.pop_front();
  }
  lru_.push_back(user_id);
  cache_.emplace(user_id, Entry{std::move(profile), expires, std::prev(lru_.end())});
}

std::size_t IdentityUserDirectory::CacheSizeForTest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_.size();
}

}  // namespace coffer::vault::app
