// Client channels to other Coffer services (and to our own servers in tests).
//
// Why: every client (CLI, vault -> identity, e2e tests) needs the same choice between plaintext,
// TLS and mTLS from files, with the same message limits as the server, in one place.
//
// Threading: channels are thread-safe and meant to be shared; create one per target.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace coffer::grpcx {

struct ChannelTlsOptions {
  bool use_tls = false;  // false: plaintext (loopback and tests only)
  // PEM CA bundle that signed the server certificate; empty = the system roots.
  std::string ca_file;
  // Client certificate and key for mTLS; both or neither.
  std::string cert_file;
  std::string key_file;
  // Expected server name when it differs from the target host (e.g. dialing 127.0.0.1).
  std::string server_name_override;
};

struct ChannelOptions {
  ChannelTlsOptions tls;
  int max_message_bytes = 16 * 1024 * 1024;
  // Upper bound of the reconnect backoff. gRPC's default (120 s) would keep a service-to-service
  // channel failing fast for minutes after its peer restarts; peers here are on the same network.
  int max_reconnect_backoff_ms = 2000;
};

// Creates a channel to `target` ("host:port" or any gRPC target URI). Connection happens lazily.
// NOT_FOUND / PERMISSION_DENIED for unreadable files, INVALID_ARGUMENT for cert without key.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const ChannelOptions& options = {});

}  // namespace coffer::grpcx
