// Bootstrap of a new shard (docs/architecture.md §4, README "Bootstrap"): a shard whose database is
// empty catches up from the beginning of the change topic when the topic still holds every event,
// or else imports a peer shard's snapshot (AdminService.ExportSnapshot: records + the consumer
// positions they reflect) and then consumes from those positions.
//
// Why a snapshot: Kafka retention or compaction drops old events, so a shard that starts late
// (or was re-created after falling behind the log start) cannot rebuild the state from the log.
//
// Runs once in VaultApp::Start, before the consumer and the gRPC server start
// (PeerBootstrap::BootstrapIfEmpty); the consumer recovers through the same peer
// (PeerBootstrap::Recover). Threading: one call at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "pkg/kafka/consumer.h"
#include "services/vault/repository/sync_stores.h"
#include "services/vault/sync/snapshot_recovery.h"

namespace grpc {
class Channel;
}

namespace coffer::vault::sync {

enum class BootstrapMode {
  kAuto,      // snapshot only when the topic no longer starts at offset 0 on every partition
  kSnapshot,  // always import the peer's snapshot into an empty database
};

// One bootstrap or recovery attempt.
struct BootstrapOptions {
  std::string shard_id;
  std::string topic;
  BootstrapMode mode = BootstrapMode::kAuto;
  std::shared_ptr<grpc::Channel> peer;  // null = no peer configured
  std::string token;                    // secret: bearer token with scope vault.admin
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
};

// What Bootstrap did.
enum class BootstrapResult {
  kNotNeeded,     // the database already holds state: resume from the stored positions
  kFromLogStart,  // empty database, complete log: the consumer starts at offset 0
  kFromSnapshot,  // a peer's snapshot was imported
};

// Bootstraps `repo`'s database if it is empty. FAILED_PRECONDITION when a snapshot is needed but
// no peer is configured, or the peer's snapshot is itself behind the log start; the peer's
// errors (UNAVAILABLE, PERMISSION_DENIED...) otherwise. `probe` reads partition watermarks.
absl::StatusOr<BootstrapResult> Bootstrap(const BootstrapOptions& options,
                                          repository::SnapshotStore& repo, kafka::Consumer& probe);

// Recovery of a running shard whose stored positions fell below the log start (events it never
// applied were truncated): merges the peer's snapshot into the current state and moves the
// positions forward to the snapshot's (SnapshotStore::MergeSnapshot). FAILED_PRECONDITION
// without a peer, when the peer is this shard, or when the peer is itself behind the log start.
absl::Status RecoverFromPeer(const BootstrapOptions& options, repository::SnapshotStore& repo,
                             kafka::Consumer& probe);

// The peer as configured (--bootstrap-*, app/vault_config.h).
struct BootstrapPeerConfig {
  std::string shard_id;
  std::string topic;
  BootstrapMode mode = BootstrapMode::kAuto;
  std::string peer_addr;     // gRPC address of another shard; empty = no peer
  std::string peer_ca_file;  // CA of the peer's TLS certificate; empty = plaintext
  std::string token_file;    // holds a bearer token with scope vault.admin (secret)
};

// Bootstrap and recovery against the configured peer. Each attempt reads the token file again
// (so a rotated token counts from the next attempt) and opens its own channel to the peer;
// INVALID_ARGUMENT when a peer is configured and the file holds no token.
class PeerBootstrap final : public SnapshotRecovery {
 public:
  // `store` and `probe` must outlive it.
  PeerBootstrap(BootstrapPeerConfig config, repository::SnapshotStore& store,
                kafka::Consumer& probe)
      : config_(std::move(config)), store_(store), probe_(probe) {}

  // Bootstrap() with the configured peer.
  absl::StatusOr<BootstrapResult> BootstrapIfEmpty();
  // RecoverFromPeer() with the configured peer (ChangeConsumer's recovery).
  absl::Status Recover() override;

 private:
  absl::StatusOr<BootstrapOptions> Options() const;

  const BootstrapPeerConfig config_;
  repository::SnapshotStore& store_;
  kafka::Consumer& probe_;
};

}  // namespace coffer::vault::sync
