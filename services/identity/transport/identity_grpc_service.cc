#include "services/identity/transport/identity_grpc_service.h"

#include <google/protobuf/util/time_util.h>

#include <cctype>
#include <charconv>
#include <optional>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "pkg/auth/bearer.h"
#include "pkg/crypto/hash.h"
#include "pkg/grpcx/server.h"
#include "pkg/log/log.h"
#include "pkg/status/status.h"

namespace coffer::identity {
namespace {

google::protobuf::Timestamp ToTimestamp(std::chrono::system_clock::time_point t) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch());
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(us.count());
}

// Only the public fields: UserProfile has no room for anything else.
void FillProfile(const UserProfile& p, v1::UserProfile* out) {
  out->set_user_id(p.user_id);
  out->set_login(p.login);
  out->set_display_name(p.display_name);
  *out->mutable_create_time() = ToTimestamp(p.created_at);
}

void FillTokens(const IssuedTokens& t, v1::TokenPair* out) {
  out->set_access_token(t.access_token);
  out->set_refresh_token(t.refresh_token);
  out->set_token_type("Bearer");
  out->set_expires_in(t.expires_in);
  out->set_refresh_expires_in(t.refresh_expires_in);
  out->set_scope(t.scope);
}

}  // namespace

RequestContext IdentityGrpcService::ContextOf(const grpc::ServerContext& context) const {
  RequestContext ctx;
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it != md.end()) {
    ctx.bearer_token =
        std::string(auth::ParseBearer(std::string_view(it->second.data(), it->second.size())));
  }
  ctx.peer_address = PeerAddress(context.peer());
  // The REST gateway runs in this process and calls through the in-process channel; it proves
  // that with the process's gateway secret and passes the HTTP client's address. Without the
  // secret, "x-forwarded-for" is just a client's claim and is ignored.
  auto secret = md.find(std::string(kGatewaySecretMetadata));
  auto forwarded = md.find("x-forwarded-for");
  if (!gateway_secret_.empty() && secret != md.end() && forwarded != md.end() &&
      forwarded->second.size() <= 64 &&
      crypto::ConstantTimeEquals(std::string_view(secret->second.data(), secret->second.size()),
                                 gateway_secret_)) {
    ctx.peer_address = std::string(forwarded->second.data(), forwarded->second.size());
  }
  return ctx;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return status::ToGrpcStatusWithRetryInfo(status);
}

std::string PeerAddress(std::string_view peer) {
  if (peer.substr(0, 5) == "ipv4:") {
    peer.remove_prefix(5);
    return std::string(peer.substr(0, peer.rfind(':')));
  }
  if (peer.substr(0, 5) == "ipv6:") {
    peer.remove_prefix(5);
    // gRPC writes "[addr]:port", some versions URL-escaped as "%5Baddr%5D:port"; the key is the
    // address alone, lowercased, so a new connection (a new port) never gets a fresh budget.
    std::string_view addr = peer;
    if (!peer.empty() && peer.front() == '[') {
      const auto close = peer.find(']');
      if (close != std::string_view::npos) addr = peer.substr(1, close - 1);
    } else if (peer.size() > 3 && (peer.substr(0, 3) == "%5B" || peer.substr(0, 3) == "%5b")) {
      auto close = peer.find("%5D");
      if (close == std::string_view::npos) close = peer.find("%5d");
      if (close != std::string_view::npos) addr = peer.substr(3, close - 3);
    }
    std::string out(addr);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }
  return std::string(peer);
}

grpc::Status IdentityGrpcService::Register(grpc::ServerContext* context,
                                           const v1::RegisterRequest* request,
                                           v1::RegisterResponse* response) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  auto id = service_.Register(ContextOf(*context), request->login(), request->password(),
                              request->display_name());
  if (!id.ok()) return ToGrpcStatus(id.status());
  response->set_user_id(*id);
  return grpc::Status::OK;
}

grpc::Status IdentityGrpcService::Login(grpc::ServerContext* context,
                                        const v1::LoginRequest* request,
                                        v1::LoginResponse* response) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  auto tokens = service_.Login(ContextOf(*context), request->login(), request->password(),
                               request->client_address());
  if (!tokens.ok()) return ToGrpcStatus(tokens.status());
  FillTokens(*tokens, response->mutable_tokens());
  return grpc::Status::OK;
}

grpc::Status IdentityGrpcService::Refresh(grpc::ServerContext* context,
                                          const v1::RefreshRequest* request,
                                          v1::RefreshResponse* response) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  auto tokens = service_.Refresh(request->refresh_token());
  if (!tokens.ok()) return ToGrpcStatus(tokens.status());
  FillTokens(*tokens, response->mutable_tokens());
  return grpc::Status::OK;
}

grpc::Status IdentityGrpcService::Logout(grpc::ServerContext* context,
                                         const v1::LogoutRequest* request,
                                         v1::LogoutResponse* /*response*/) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  return ToGrpcStatus(service_.Logout(ContextOf(*context), request->refresh_token()));
}

grpc::Status IdentityGrpcService::Revoke(grpc::ServerContext* context,
                                         const v1::RevokeRequest* request,
                                         v1::RevokeResponse* /*response*/) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  return ToGrpcStatus(
      service_.Revoke(ContextOf(*context), request->token(), request->token_type_hint()));
}

grpc::Status IdentityGrpcService::Introspect(grpc::ServerContext* context,
                                             const v1::IntrospectRequest* request,
                                             v1::IntrospectResponse* response) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  auto caller = service_.Authenticate(ContextOf(*context).bearer_token);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto result = service_.Introspect(*caller, request->token());
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_active(result->active);
  if (result->active) {
    response->set_sub(result->sub);
    response->set_scope(result->scope);
    response->set_exp(result->exp);
    response->set_iat(result->iat);
    response->set_client_id(result->client_id);
    response->set_token_type(result->token_type);
    response->set_jti(result->jti);
    response->set_iss(result->iss);
    response->set_aud(result->aud);
  }
  return grpc::Status::OK;
}

grpc::Status IdentityGrpcService::GetJwks(grpc::ServerContext* context,
                                          const v1::GetJwksRequest* /*request*/,
                                          v1::GetJwksResponse* response) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  JwksDocument doc = service_.GetJwks();
  for (const auto& k : doc.keys) {
    v1::Jwk* jwk = response->add_keys();
    jwk->set_kty("OKP");
    jwk->set_crv("Ed25519");
    jwk->set_x(k.x);
    jwk->set_kid(k.kid);
    jwk->set_use("sig");
    jwk->set_alg("EdDSA");
  }
  response->set_json(doc.json);
  return grpc::Status::OK;
}

grpc::Status IdentityGrpcService::RotateSigningKey(grpc::ServerContext* context,
                                                   const v1::RotateSigningKeyRequest* /*request*/,
                                                   v1::RotateSigningKeyResponse* response) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  auto kid = service_.RotateSigningKey(ContextOf(*context));
  if (!kid.ok()) return ToGrpcStatus(kid.status());
  response->set_kid(*kid);
  return grpc::Status::OK;
}

grpc::Status IdentityGrpcService::CreateServiceAccount(
    grpc::ServerContext* context, const v1::CreateServiceAccountRequest* request,
    v1::CreateServiceAccountResponse* response) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  std::vector<std::string> scopes(request->scopes().begin(), request->scopes().end());
  auto created = service_.CreateServiceAccount(ContextOf(*context), request->name(), scopes);
  if (!created.ok()) return ToGrpcStatus(created.status());
  response->set_client_id(created->client_id);
  response->set_client_secret(created->client_secret);
  response->set_name(created->name);
  for (const auto& s : created->scopes) response->add_scopes(s);
  return grpc::Status::OK;
}

grpc::Status IdentityGrpcService::ListServiceAccounts(grpc::ServerContext* context,
                                                      const v1::ListServiceAccountsRequest* request,
                                                      v1::ListServiceAccountsResponse* response) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  auto page = service_.ListServiceAccounts(ContextOf(*context), request->page_size(),
                                           request->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const auto& a : page->accounts) {
    v1::ServiceAccount* out = response->add_service_accounts();
    out->set_client_id(a.client_id);
    out->set_name(a.name);
    for (const auto& s : a.scopes) out->add_scopes(s);
    *out->mutable_create_time() = ToTimestamp(a.created_at);
  }
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status IdentityGrpcService::DeleteServiceAccount(
    grpc::ServerContext* context, const v1::DeleteServiceAccountRequest* request,
    v1::DeleteServiceAccountResponse* /*response*/) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  return ToGrpcStatus(service_.DeleteServiceAccount(ContextOf(*context), request->client_id()));
}

grpc::Status IdentityGrpcService::ClientCredentials(grpc::ServerContext* context,
                                                    const v1::ClientCredentialsRequest* request,
                                                    v1::ClientCredentialsResponse* response) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  auto tokens =
      service_.ClientCredentials(request->client_id(), request->client_secret(), request->scope());
  if (!tokens.ok()) return ToGrpcStatus(tokens.status());
  FillTokens(*tokens, response->mutable_tokens());
  return grpc::Status::OK;
}

grpc::Status IdentityGrpcService::WhoAmI(grpc::ServerContext* context,
                                         const v1::WhoAmIRequest* /*request*/,
                                         v1::WhoAmIResponse* response) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  auto who = service_.WhoAmI(ContextOf(*context));
  if (!who.ok()) return ToGrpcStatus(who.status());
  response->set_sub(who->sub);
  response->set_login(who->login);
  for (const auto& s : who->scopes) response->add_scopes(s);
  response->set_is_service_account(who->is_service_account);
  return grpc::Status::OK;
}

grpc::Status IdentityGrpcService::LookupUser(grpc::ServerContext* context,
                                             const v1::LookupUserRequest* request,
                                             v1::LookupUserResponse* response) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  auto user = service_.LookupUser(ContextOf(*context), request->login());
  if (!user.ok()) return ToGrpcStatus(user.status());
  FillProfile(*user, response->mutable_user());
  return grpc::Status::OK;
}

grpc::Status IdentityGrpcService::GetUser(grpc::ServerContext* context,
                                          const v1::GetUserRequest* request,
                                          v1::GetUserResponse* response) {
  log::ScopedRequestId rid(grpcx::RequestIdFrom(*context));
  auto user = service_.GetUser(ContextOf(*context), request->user_id());
  if (!user.ok()) return ToGrpcStatus(user.status());
  FillProfile(*user, response->mutable_user());
  return grpc::Status::OK;
}

}  // namespace coffer::identity
