// Session: the CLI's connection to the identity and vault services for one command.
//
// Owns the gRPC channels (created lazily, so commands that need only one server never dial the
// other), applies the per-call deadline, attaches `authorization: Bearer <token>` from the
// TokenManager, and retries a vault or identity call once with a refreshed token when the server
// answers UNAUTHENTICATED (an access token revoked or expired early). Errors come back as
// absl::Status naming the server that failed.
// Lifecycle: built by the command runner after flags are parsed; lives for one command.
// Not thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cli/config.h"
#include "cli/read_positions.h"
#include "cli/token_manager.h"
#include "coffer/identity/v1/identity.grpc.pb.h"
#include "coffer/vault/v1/files.grpc.pb.h"
#include "coffer/vault/v1/spaces.grpc.pb.h"
#include "coffer/vault/v1/sync.grpc.pb.h"
#include "coffer/vault/v1/vault.grpc.pb.h"

namespace coffer::cli {

class Session {
 public:
  using Call = std::function<grpc::Status(grpc::ClientContext&)>;

  // `timeout` is the deadline of each unary call; `clock` gives Unix seconds (token expiry).
  Session(ClientConfig config, std::chrono::milliseconds timeout, const TokenManager::Clock& clock);

  const ClientConfig& config() const { return config_; }
  TokenManager& tokens() { return tokens_; }
  // Session tokens of this user's last writes per space (read-your-writes across commands).
  const ReadPositions& positions() const { return positions_; }
  int64_t Now() const { return clock_(); }  // Unix seconds, from the injected clock

  // Each service's stub; the channel is dialed on first use (an error when the address or the
  // TLS files cannot be used).
  absl::StatusOr<coffer::identity::v1::IdentityService::Stub*> Identity();
  absl::StatusOr<coffer::vault::v1::RecordService::Stub*> Records();
  absl::StatusOr<coffer::vault::v1::SyncService::Stub*> Sync();
  absl::StatusOr<coffer::vault::v1::FileService::Stub*> Files();
  absl::StatusOr<coffer::vault::v1::SpaceService::Stub*> Spaces();

  // Runs an unauthenticated identity call (register, login, refresh).
  absl::Status CallIdentityPublic(const Call& call);
  // Runs an identity call with the bearer token (whoami, logout).
  absl::Status CallIdentity(const Call& call);
  // Runs a vault call with the bearer token.
  absl::Status CallVault(const Call& call);

  // A context for a long-lived vault stream (Watch, file transfers): bearer token, no deadline.
  absl::StatusOr<std::unique_ptr<grpc::ClientContext>> NewStreamContext();

  // Converts a vault stream's final status like CallVault does.
  absl::Status VaultError(const grpc::Status& status) const;

 private:
  absl::Status CallAuthed(const Call& call, const std::string& service, const std::string& addr);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel(const std::string& addr);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> VaultChannel();

  ClientConfig config_;
  std::chrono::milliseconds timeout_;
  TokenManager::Clock clock_;
  TokenManager tokens_;
  ReadPositions positions_;
  std::shared_ptr<grpc::Channel> identity_channel_;
  std::shared_ptr<grpc::Channel> vault_channel_;
  std::unique_ptr<coffer::identity::v1::IdentityService::Stub> identity_;
  std::unique_ptr<coffer::vault::v1::RecordService::Stub> records_;
  std::unique_ptr<coffer::vault::v1::SyncService::Stub> sync_;
  std::unique_ptr<coffer::vault::v1::FileService::Stub> files_;
  std::unique_ptr<coffer::vault::v1::SpaceService::Stub> spaces_;
};

// Annotates a failed call with the service it went to: "vault at 127.0.0.1:7100: <message>".
absl::Status DescribeRpcError(const grpc::Status& status, const std::string& service,
                              const std::string& addr);

}  // namespace coffer::cli
