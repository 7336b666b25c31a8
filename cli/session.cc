#include "cli/session.h"

#include "pkg/grpcx/channel.h"
#include "pkg/status/status.h"

namespace coffer::cli {

namespace idv1 = ::coffer::identity::v1;
namespace v1 = ::coffer::vault::v1;

absl::Status DescribeRpcError(const grpc::Status& status, const std::string& service,
                              const std::string& addr) {
  if (status.ok()) return absl::OkStatus();
  absl::Status st = status::FromGrpcStatus(status);
  switch (st.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return status::Annotate(st, service + " service at " + addr + " is not reachable");
    case absl::StatusCode::kUnimplemented:
      return status::Annotate(st, service + " service at " + addr + " does not offer this");
    default:
      return st;
  }
}

Session::Session(ClientConfig config, std::chrono::milliseconds timeout,
                 const TokenManager::Clock& clock)
    : config_(std::move(config)),
      timeout_(timeout),
      clock_(clock),
      tokens_(
          TokenStore(config_.config_dir),
          [this](const std::string& refresh_token) -> absl::StatusOr<idv1::TokenPair> {
            idv1::RefreshRequest request;
            request.set_refresh_token(refresh_token);
            idv1::RefreshResponse response;
            absl::Status st = CallIdentityPublic([&](grpc::ClientContext& ctx) {
              return identity_->Refresh(&ctx, request, &response);
            });
            if (!st.ok()) return st;
            return response.tokens();
          },
          clock),
      positions_(config_.config_dir) {}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Session::Channel(const std::string& addr) {
  grpcx::ChannelOptions options;
  options.tls = ChannelTls(config_.ca_file, config_.cert_file, config_.key_file);
  return grpcx::MakeChannel(addr, options);
}

absl::StatusOr<idv1::IdentityService::Stub*> Session::Identity() {
  if (!identity_) {
    auto channel = Channel(config_.identity_addr);
    if (!channel.ok()) return channel.status();
    identity_channel_ = *channel;
    identity_ = idv1::IdentityService::NewStub(identity_channel_);
  }
  return identity_.get();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Session::VaultChannel() {
  if (!vault_channel_) {
    auto channel = Channel(config_.vault_addr);
    if (!channel.ok()) return channel.status();
    vault_channel_ = *channel;
  }
  return vault_channel_;
}

absl::StatusOr<v1::RecordService::Stub*> Session::Records() {
  if (!records_) {
    COFFER_ASSIGN_OR_RETURN(auto channel, VaultChannel());
    records_ = v1::RecordService::NewStub(channel);
  }
  return records_.get();
}

absl::StatusOr<v1::SyncService::Stub*> Session::Sync() {
  if (!sync_) {
    COFFER_ASSIGN_OR_RETURN(auto channel, VaultChannel());
    sync_ = v1::SyncService::NewStub(channel);
  }
  return sync_.get();
}

absl::StatusOr<v1::FileService::Stub*> Session::Files() {
  if (!files_) {
    COFFER_ASSIGN_OR_RETURN(auto channel, VaultChannel());
    files_ = v1::FileService::NewStub(channel);
  }
  return files_.get();
}

absl::StatusOr<v1::SpaceService::Stub*> Session::Spaces() {
  if (!spaces_) {
    COFFER_ASSIGN_OR_RETURN(auto channel, VaultChannel());
    spaces_ = v1::SpaceService::NewStub(channel);
  }
  return spaces_.get();
}

absl::Status Session::CallIdentityPublic(const Call& call) {
  if (auto stub = Identity(); !stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  return DescribeRpcError(call(ctx), "identity", config_.identity_addr);
}

absl::Status Session::CallIdentity(const Call& call) {
  if (auto stub = Identity(); !stub.ok()) return stub.status();
  return CallAuthed(call, "identity", config_.identity_addr);
}

absl::Status Session::CallVault(const Call& call) {
  if (auto stub = Records(); !stub.ok()) return stub.status();
  if (auto stub = Sync(); !stub.ok()) return stub.status();
  return CallAuthed(call, "vault", config_.vault_addr);
}

absl::Status Session::CallAuthed(const Call& call, const std::string& service,
                                 const std::string& addr) {
  // The refresher dials the identity service, so make sure its stub exists.
  if (auto stub = Identity(); !stub.ok()) return stub.status();
  auto token = tokens_.AccessToken();
  if (!token.ok()) return token.status();
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    ctx.AddMetadata("authorization", "Bearer " + *token);
    grpc::Status st = call(ctx);
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED && attempt == 0) {
      token = tokens_.ForceRefresh();
      if (!token.ok()) return token.status();
      continue;
    }
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      return absl::UnauthenticatedError(service + " rejected your session (" + st.error_message() +
                                        "): run `coffer login`");
    }
    return DescribeRpcError(st, service, addr);
  }
}

absl::StatusOr<std::unique_ptr<grpc::ClientContext>> Session::NewStreamContext() {
  if (auto stub = Identity(); !stub.ok()) return stub.status();
  auto token = tokens_.AccessToken();
  if (!token.ok()) return token.status();
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + *token);
  return ctx;
}

absl::Status Session::VaultError(const grpc::Status& status) const {
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    return absl::UnauthenticatedError("vault rejected your session (" + status.error_message() +
                                      "): run `coffer login`");
  }
  return DescribeRpcError(status, "vault", config_.vault_addr);
}

}  // namespace coffer::cli
