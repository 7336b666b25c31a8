// What each component of coffer-vault is built with, derived from the one VaultConfig: the flag
// -> option mapping, kept out of VaultApp so that the composition root only builds and connects
// (docs/architecture.md §1a). Each function fills one component's own options struct; the
// collaborators (gate, authenticator, recovery) are wired by VaultApp.
//
// Pure functions of the config (KafkaClient reads the SASL password file); thread-safe.
#pragma once

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "pkg/grpcx/channel.h"
#include "pkg/grpcx/server.h"
#include "pkg/kafka/client.h"
#include "pkg/postgres/connection_pool.h"
#include "services/vault/app/vault_config.h"
#include "services/vault/sync/bootstrap.h"
#include "services/vault/sync/change_consumer.h"
#include "services/vault/sync/outbox_relay.h"
#include "services/vault/sync/tombstone_collector.h"

namespace coffer::vault::app {

// The shard's connection pool (--db-*).
postgres::ConnectionPoolConfig PoolConfig(const VaultConfig& config);
// The gRPC listener (--grpc-*, --tls-*, --shutdown-grace-ms).
grpcx::GrpcServerOptions GrpcServerConfig(const VaultConfig& config);
// The channel to identity (--identity-*): TLS when a CA or a client certificate is given.
grpcx::ChannelOptions IdentityChannelOptions(const VaultConfig& config);

// Whether tombstone GC runs: with Kafka and a GC interval. Then writes also wait for this shard
// to count in every shard's GC horizon (sync/replication_gate.h).
bool TombstoneGcOn(const VaultConfig& config);
// Every Kafka client of this replica: brokers, client id "coffer-vault-<shard>", security
// properties (KafkaSecurityProperties).
absl::StatusOr<kafka::ClientConfig> KafkaClient(const VaultConfig& config);
// The outbox relay's producer and rounds; `auth` is left for the wiring.
sync::OutboxRelayOptions RelayOptions(const VaultConfig& config, const kafka::ClientConfig& client);
// The change consumer's Kafka consumer and merges; `gate`, `auth` and `recovery` are left for
// the wiring.
sync::ChangeConsumerOptions ConsumerOptions(const VaultConfig& config,
                                            const kafka::ClientConfig& client);
// The metadata/watermark probe (bootstrap, GetShardStatus, /replicationz).
kafka::ConsumerConfig ProbeConfig(const kafka::ClientConfig& client);
// Tombstone GC's rounds (--tombstone-gc-*); only used when TombstoneGcOn.
sync::TombstoneCollectorOptions TombstoneGcOptions(const VaultConfig& config);
// The bootstrap peer (--bootstrap-*).
sync::BootstrapPeerConfig BootstrapPeer(const VaultConfig& config);

}  // namespace coffer::vault::app
