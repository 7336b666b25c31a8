// gRPC handlers of coffer.identity.v1.IdentityService: decode the request and its metadata,
// call IdentityService, encode the result, map the Status (one function, ToGrpcStatus below).
//
// Lifecycle: owned by the composition root; the IdentityService must outlive it. Threading:
// gRPC calls the handlers concurrently; they hold no state of their own.
#pragma once

#include <grpcpp/server_context.h>

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "coffer/identity/v1/identity.grpc.pb.h"
#include "services/identity/service/identity_service.h"

namespace coffer::identity {

// absl::Status -> grpc::Status; RESOURCE_EXHAUSTED from rate limiting also carries a
// google.rpc.RetryInfo in the status details ("grpc-status-details-bin").
grpc::Status ToGrpcStatus(const absl::Status& status);

// The IP address (no port) of a gRPC peer string like "ipv4:127.0.0.1:5000" or
// "ipv6:[::1]:5000"; the whole string for other forms (unix sockets, in-process).
std::string PeerAddress(std::string_view peer);

// Metadata with which the in-process REST gateway proves it is the gateway (a random secret the
// app gives both at start-up); only then is its "x-forwarded-for" the caller's address.
inline constexpr std::string_view kGatewaySecretMetadata = "x-coffer-gateway";

class IdentityGrpcService final : public coffer::identity::v1::IdentityService::Service {
 public:
  // `gateway_secret`: the in-process REST gateway's proof (see ContextOf); empty = no gateway.
  explicit IdentityGrpcService(IdentityService& service, std::string gateway_secret = "")
      : service_(service), gateway_secret_(std::move(gateway_secret)) {}

  grpc::Status Register(grpc::ServerContext* context, const v1::RegisterRequest* request,
                        v1::RegisterResponse* response) override;
  grpc::Status Login(grpc::ServerContext* context, const v1::LoginRequest* request,
                     v1::LoginResponse* response) override;
  grpc::Status Refresh(grpc::ServerContext* context, const v1::RefreshRequest* request,
                       v1::RefreshResponse* response) override;
  grpc::Status Logout(grpc::ServerContext* context, const v1::LogoutRequest* request,
                      v1::LogoutResponse* response) override;
  grpc::Status Revoke(grpc::ServerContext* context, const v1::RevokeRequest* request,
                      v1::RevokeResponse* response) override;
  grpc::Status Introspect(grpc::ServerContext* context, const v1::IntrospectRequest* request,
                          v1::IntrospectResponse* response) override;
  grpc::Status GetJwks(grpc::ServerContext* context, const v1::GetJwksRequest* request,
                       v1::GetJwksResponse* response) override;
  grpc::Status RotateSigningKey(grpc::ServerContext* context,
                                const v1::RotateSigningKeyRequest* request,
                                v1::RotateSigningKeyResponse* response) override;
  grpc::Status CreateServiceAccount(grpc::ServerContext* context,
                                    const v1::CreateServiceAccountRequest* request,
                                    v1::CreateServiceAccountResponse* response) override;
  grpc::Status ListServiceAccounts(grpc::ServerContext* context,
                                   const v1::ListServiceAccountsRequest* request,
                                   v1::ListServiceAccountsResponse* response) override;
  grpc::Status DeleteServiceAccount(grpc::ServerContext* context,
                                    const v1::DeleteServiceAccountRequest* request,
                                    v1::DeleteServiceAccountResponse* response) override;
  grpc::Status ClientCredentials(grpc::ServerContext* context,
                                 const v1::ClientCredentialsRequest* request,
                                 v1::ClientCredentialsResponse* response) override;
  grpc::Status WhoAmI(grpc::ServerContext* context, const v1::WhoAmIRequest* request,
                      v1::WhoAmIResponse* response) override;
  grpc::Status LookupUser(grpc::ServerContext* context, const v1::LookupUserRequest* request,
                          v1::LookupUserResponse* response) override;
  grpc::Status GetUser(grpc::ServerContext* context, const v1::GetUserRequest* request,
                       v1::GetUserResponse* response) override;

 private:
  // Bearer token and client address of a call (the REST client's address when the in-process
  // gateway vouches for it).
  RequestContext ContextOf(const grpc::ServerContext& context) const;

  IdentityService& service_;
  const std::string gateway_secret_;
};

}  // namespace coffer::identity
