// Where the vault gets token-verification material (DESIGN.md §6):
//   IdentityJwksSource        the identity service's GetJwks over gRPC;
//   HttpJwksSource            any OIDC provider's JWKS URL (http or https) via cpp-httplib;
//   IdentityIntrospector      the identity service's Introspect, so revoked tokens stop working
//                             (pkg/auth's TokenVerifier caches answers briefly). The call is
//                             authenticated with the token being introspected.
// Rate limiting of refetches on unknown kids and caching live in pkg/auth TokenVerifier.
//
// Lifecycle: the channel / URL are fixed at construction. Threading: Fetch() and IsActive() are
// thread-safe (gRPC stubs and a per-call httplib client).
#pragma once

#include <grpcpp/channel.h>

#include <chrono>
#include <memory>
#include <string>

#include "coffer/identity/v1/identity.grpc.pb.h"
#include "pkg/auth/jwks_source.h"
#include "pkg/auth/token_verifier.h"

namespace coffer::vault::app {

class IdentityJwksSource final : public auth::JwksSource {
 public:
  IdentityJwksSource(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout)
      : stub_(identity::v1::IdentityService::NewStub(channel)), timeout_(timeout) {}

  absl::StatusOr<auth::JwkSet> Fetch() override;

 private:
  std::unique_ptr<identity::v1::IdentityService::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

class HttpJwksSource final : public auth::JwksSource {
 public:
  // `url` like "https://issuer.example/.well-known/jwks.json". INVALID_ARGUMENT when it is not
  // an http(s) URL.
  static absl::StatusOr<std::unique_ptr<HttpJwksSource>> Create(const std::string& url,
                                                                std::chrono::milliseconds timeout);

  absl::StatusOr<auth::JwkSet> Fetch() override;

 private:
  HttpJwksSource(std::string origin, std::string path, std::chrono::milliseconds timeout)
      : origin_(std::move(origin)), path_(std::move(path)), timeout_(timeout) {}

  std::string origin_;  // scheme://host[:port]
  std::string path_;
  std::chrono::milliseconds timeout_;
};

class IdentityIntrospector final : public auth::Introspector {
 public:
  IdentityIntrospector(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout)
      : stub_(identity::v1::IdentityService::NewStub(channel)), timeout_(timeout) {}

  absl::StatusOr<bool> IsActive(std::string_view token) override;

 private:
  std::unique_ptr<identity::v1::IdentityService::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

}  // namespace coffer::vault::app
