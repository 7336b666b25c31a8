// Registers `login` (an existing account is fine) and logs it in: the "Bearer <token>" value of
// the authorization header. For the single-user bench tools (scale_bench, rollout_bench).
#pragma once

#include <grpcpp/grpcpp.h>

#include <stdexcept>
#include <string>

#include "coffer/identity/v1/identity.grpc.pb.h"

namespace coffer::bench {

inline std::string RegisterAndLogin(const std::string& identity_addr, const std::string& login,
                                    const std::string& password) {
  namespace idv1 = coffer::identity::v1;
  auto stub = idv1::IdentityService::NewStub(
      grpc::CreateChannel(identity_addr, grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext ctx;
    idv1::RegisterRequest req;
    idv1::RegisterResponse resp;
    req.set_login(login);
    req.set_password(password);
    grpc::Status s = stub->Register(&ctx, req, &resp);
    if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
      throw std::runtime_error("Register: " + s.error_message());
    }
  }
  grpc::ClientContext ctx;
  idv1::LoginRequest req;
  idv1::LoginResponse resp;
  req.set_login(login);
  req.set_password(password);
  grpc::Status s = stub->Login(&ctx, req, &resp);
  if (!s.ok()) throw std::runtime_error("Login: " + s.error_message());
  return "Bearer " + resp.tokens().access_token();
}

}  // namespace coffer::bench
