#include "services/vault/app/vault_options.h"

#include "pkg/status/status.h"

namespace coffer::vault::app {

postgres::ConnectionPoolConfig PoolConfig(const VaultConfig& config) {
  postgres::ConnectionPoolConfig pool;
  pool.dsn = config.db_dsn;
  pool.size = config.db_pool_size;
  pool.session.statement_timeout = std::chrono::milliseconds(config.db_statement_timeout_ms);
  pool.session.idle_in_transaction_timeout =
      std::chrono::milliseconds(config.db_idle_in_transaction_timeout_ms);
  return pool;
}

grpcx::GrpcServerOptions GrpcServerConfig(const VaultConfig& config) {
  grpcx::GrpcServerOptions server;
  server.address = config.grpc_addr;
  server.tls_cert_file = config.tls_cert_file;
  server.tls_key_file = config.tls_key_file;
  server.tls_client_ca_file = config.tls_client_ca_file;
  server.shutdown_grace = std::chrono::milliseconds(config.shutdown_grace_ms);
  server.max_threads = config.grpc_max_threads;
  server.max_concurrent_streams = config.grpc_max_concurrent_streams;
  server.keepalive_time = std::chrono::milliseconds(config.grpc_keepalive_time_ms);
  server.keepalive_timeout = std::chrono::milliseconds(config.grpc_keepalive_timeout_ms);
  server.min_client_ping_interval =
      std::chrono::milliseconds(config.grpc_min_client_ping_interval_ms);
  server.max_connection_idle = std::chrono::milliseconds(config.grpc_max_connection_idle_ms);
  server.max_connection_age = std::chrono::milliseconds(config.grpc_max_connection_age_ms);
  server.max_connection_age_grace =
      std::chrono::milliseconds(config.grpc_max_connection_age_grace_ms);
  return server;
}

grpcx::ChannelOptions IdentityChannelOptions(const VaultConfig& config) {
  grpcx::ChannelOptions channel;
  channel.tls.use_tls = !config.identity_ca_file.empty() || !config.identity_cert_file.empty();
  channel.tls.ca_file = config.identity_ca_file;
  channel.tls.cert_file = config.identity_cert_file;
  channel.tls.key_file = config.identity_key_file;
  return channel;
}

bool TombstoneGcOn(const VaultConfig& config) {
  return !config.kafka_bootstrap.empty() && config.tombstone_gc_interval_ms > 0;
}

absl::StatusOr<kafka::ClientConfig> KafkaClient(const VaultConfig& config) {
  kafka::ClientConfig client;
  client.bootstrap_servers = config.kafka_bootstrap;
  client.client_id = "coffer-vault-" + config.shard_id;
  COFFER_ASSIGN_OR_RETURN(client.properties, KafkaSecurityProperties(config));
  return client;
}

sync::OutboxRelayOptions RelayOptions(const VaultConfig& config,
                                      const kafka::ClientConfig& client) {
  sync::OutboxRelayOptions relay;
  relay.shard_id = config.shard_id;
  relay.topic = config.kafka_topic;
  relay.producer = kafka::ProducerConfig{client};
  relay.producer.properties["message.timeout.ms"] =
      std::to_string(config.kafka_delivery_timeout_ms);
  // Flush waits a little longer than the messages' own timeout, so it sees their reports.
  relay.delivery_timeout = std::chrono::milliseconds(config.kafka_delivery_timeout_ms + 1000);
  // Markers only matter for tombstone GC, which must be on for every shard alike.
  relay.progress_interval =
      std::chrono::milliseconds(TombstoneGcOn(config) ? config.progress_interval_ms : 0);
  return relay;
}

sync::ChangeConsumerOptions ConsumerOptions(const VaultConfig& config,
                                            const kafka::ClientConfig& client) {
  sync::ChangeConsumerOptions consumer;
  consumer.shard_id = config.shard_id;
  consumer.topic = config.kafka_topic;
  consumer.history_keep = config.history_retention;
  consumer.max_clock_skew = std::chrono::milliseconds(config.max_clock_skew_ms);
  consumer.consumer = kafka::ConsumerConfig{client};
  // How long a fetch may wait at the broker for new events: the floor of the replication delay
  // on a quiet topic (librdkafka's default is 500 ms).
  consumer.consumer.properties["fetch.wait.max.ms"] = std::to_string(config.kafka_fetch_wait_ms);
  return consumer;
}

kafka::ConsumerConfig ProbeConfig(const kafka::ClientConfig& client) {
  kafka::ConsumerConfig probe{client};
  probe.client_id = client.client_id + "-probe";
  return probe;
}

sync::TombstoneCollectorOptions TombstoneGcOptions(const VaultConfig& config) {
  return sync::TombstoneCollectorOptions{config.shard_id,
                                         std::chrono::milliseconds(config.tombstone_gc_interval_ms),
                                         std::chrono::milliseconds(config.tombstone_gc_min_age_ms)};
}

sync::BootstrapPeerConfig BootstrapPeer(const VaultConfig& config) {
  sync::BootstrapPeerConfig peer;
  peer.shard_id = config.shard_id;
  peer.topic = config.kafka_topic;
  peer.mode = config.bootstrap_mode == "snapshot" ? sync::BootstrapMode::kSnapshot
                                                  : sync::BootstrapMode::kAuto;
  peer.peer_addr = config.bootstrap_peer;
  peer.peer_ca_file = config.bootstrap_peer_ca_file;
  peer.token_file = config.bootstrap_token_file;
  return peer;
}

}  // namespace coffer::vault::app
