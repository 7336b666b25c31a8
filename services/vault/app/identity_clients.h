// Where the vault gets token-verification material (docs/architecture.md §6):
//   IdentityJwksSource        the identity service's GetJwks over gRPC;
//   HttpJwksSource            any OIDC provider's JWKS URL (https, or http inside a trusted
//                             network) via cpp-httplib: no redirects followed, body capped;
//   IdentityIntrospector      the identity service's Introspect, so revoked tokens stop working
//                             (pkg/auth's TokenVerifier caches answers briefly). The call is
//                             authenticated with the token being introspected.
//   IdentityUserDirectory     public user profiles (service::UserDirectory) from the identity
//                             service's LookupUser / GetUser, with the caller's own token; GetUser
//                             answers are cached briefly (members' logins are listed often).
// Rate limiting of refetches on unknown kids and caching live in pkg/auth TokenVerifier.
//
// Lifecycle: the channel / URL are fixed at construction. Threading: Fetch(), IsActive() and the
// UserDirectory methods are thread-safe (gRPC stubs, a per-call httplib client, a mutex-guarded
// cache).
#pragma once

#include <grpcpp/channel.h>

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/time/time.h"
#include "coffer/identity/v1/identity.grpc.pb.h"
#include "pkg/auth/clock.h"
#include "pkg/auth/jwks_source.h"
#include "pkg/auth/token_verifier.h"
#include "services/vault/service/user_directory.h"

namespace coffer::vault::app {

// auth::JwksSource over identity's GetJwks: one call per Fetch with deadline `timeout` (waiting
// within it for the channel to connect). Errors keep identity's code; a malformed key set from
// identity is UNAVAILABLE.
class IdentityJwksSource final : public auth::JwksSource {
 public:
  IdentityJwksSource(const std::shared_ptr<grpc::Channel>& channel,
                     std::chrono::milliseconds timeout)
      : stub_(identity::v1::IdentityService::NewStub(channel)), timeout_(timeout) {}

  absl::StatusOr<auth::JwkSet> Fetch() override;

 private:
  std::unique_ptr<identity::v1::IdentityService::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

// A JWKS over HTTP(S). Fetch() sends one GET to the configured URL and
//   * never follows a redirect (a 3xx is an error: a redirect could downgrade https to http or
//     point anywhere; configure the final URL);
//   * reads at most `max_body_bytes` (1 MiB; a JWKS is a few hundred bytes per key), refusing a
//     larger Content-Length before reading and aborting a longer body;
//   * answers UNAVAILABLE for every failure: unreachable, timeout, non-200, too large, not JSON,
//     no "keys" array. (pkg/auth TokenVerifier keeps the last good keys on any failure and also
//     when the set holds no usable key.)
// The URL is fixed at construction; a plain http:// URL is accepted (in-cluster issuers) with a
// warning, since the keys could then be replaced in transit.
class HttpJwksSource final : public auth::JwksSource {
 public:
  static constexpr std::size_t kDefaultMaxBodyBytes = 1024 * 1024;

  // `url` like "https://issuer.example/.well-known/jwks.json". INVALID_ARGUMENT when it is not
  // an http(s) URL with a host.
  static absl::StatusOr<std::unique_ptr<HttpJwksSource>> Create(
      const std::string& url, std::chrono::milliseconds timeout,
      std::size_t max_body_bytes = kDefaultMaxBodyBytes);

  absl::StatusOr<auth::JwkSet> Fetch() override;

 private:
  HttpJwksSource(std::string origin, std::string path, std::chrono::milliseconds timeout,
                 std::size_t max_body_bytes)
      : origin_(std::move(origin)),
        path_(std::move(path)),
        timeout_(timeout),
        max_body_bytes_(max_body_bytes) {}

  std::string origin_;  // scheme://host[:port]
  std::string path_;
  std::chrono::milliseconds timeout_;
  std::size_t max_body_bytes_;
};

// auth::Introspector over identity's Introspect: one call per IsActive with deadline `timeout`.
// A token identity refuses as a credential (UNAUTHENTICATED) is not active (false); any other
// error keeps identity's code.
class IdentityIntrospector final : public auth::Introspector {
 public:
  IdentityIntrospector(const std::shared_ptr<grpc::Channel>& channel,
                       std::chrono::milliseconds timeout)
      : stub_(identity::v1::IdentityService::NewStub(channel)), timeout_(timeout) {}

  absl::StatusOr<bool> IsActive(std::string_view token) override;

 private:
  std::unique_ptr<identity::v1::IdentityService::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

// How long IdentityUserDirectory keeps GetUser answers.
struct UserDirectoryCacheOptions {
  // A found profile (logins and display names never change today; the TTL bounds staleness).
  std::chrono::seconds ttl{60};
  // NOT_FOUND, so a user who registers a moment later is soon visible.
  std::chrono::seconds not_found_ttl{5};
  // Most entries kept; past it the least recently used entry is dropped.
  std::size_t max_entries = 10000;
};

// service::UserDirectory over the identity service's gRPC API. Each call carries the caller's
// token (`authorization: Bearer <token>`) and a deadline of `timeout`; identity authenticates it
// and applies its per-caller LookupUser limit. Errors: identity's status code and message
// (NOT_FOUND, RESOURCE_EXHAUSTED, UNAUTHENTICATED, INVALID_ARGUMENT...), except that an
// unreachable or slow identity (UNAVAILABLE, DEADLINE_EXCEEDED) is UNAVAILABLE; an empty token is
// UNAUTHENTICATED without a call.
//
// Cache: GetUser answers by user id (found: `ttl`, NOT_FOUND: `not_found_ttl`; other errors are
// never cached), shared by all callers because profiles are public to every signed-in user; the
// vault has authenticated the caller before it asks. A successful LookupLogin fills the cache for
// the found id but is itself always sent to identity, so identity's lookup limit stays in force.
// Concurrent misses for one id may each call identity (no request coalescing).
class IdentityUserDirectory final : public service::UserDirectory {
 public:
  IdentityUserDirectory(const std::shared_ptr<grpc::Channel>& channel,
                        std::chrono::milliseconds timeout, UserDirectoryCacheOptions cache = {},
                        const auth::Clock& clock = auth::SystemClock::Instance());

  absl::StatusOr<service::UserProfile> LookupLogin(const std::string& bearer_token,
                                                   const std::string& login) override;
  absl::StatusOr<service::UserProfile> GetUser(const std::string& bearer_token,
                                               const std::string& user_id) override;

  // Entries currently held, expired ones included until they are touched or evicted (tests).
  std::size_t CacheSizeForTest() const;

 private:
  struct Entry {
    std::optional<service::UserProfile> profile;  // nullopt = NOT_FOUND
    absl::Time expires;
    std::list<std::string>::iterator lru;  // position in lru_
  };

  // The cached answer for `user_id` (a profile or NOT_FOUND) if fresh; nullopt on a miss.
  std::optional<absl::StatusOr<service::UserProfile>> CacheGet(const std::string& user_id);
  void CachePut(const std::string& user_id, std::optional<service::UserProfile> profile);
  void PrepareContext(grpc::ClientContext& ctx, const std::string& bearer_token) const;

  std::unique_ptr<identity::v1::IdentityService::Stub> stub_;
  const std::chrono::milliseconds timeout_;
  const UserDirectoryCacheOptions options_;
  const auth::Clock& clock_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> cache_;  // guarded by mu_
  std::list<std::string> lru_;                    // guarded by mu_; front = least recently used
};

}  // namespace coffer::vault::app
