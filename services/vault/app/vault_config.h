// VaultConfig: every setting of coffer-vault, declared once for flags and COFFER_* variables
// (pkg/config). `coffer-vault --print-config-reference` prints the table in README.md.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/config/config.h"
#include "pkg/postgres/migrations.h"

namespace coffer::vault::app {

// One field per option: `foo_bar` is --foo-bar and COFFER_FOO_BAR. Each option's description
// and checks are declared in RegisterVaultConfig (vault_config.cc); the comments here add only
// what a reader of this struct needs besides.
struct VaultConfig {
  std::string grpc_addr = "127.0.0.1:0";
  std::string admin_addr = "127.0.0.1:0";
  // REST/JSON face of the gRPC API (pkg/restgw); empty = off.
  std::string rest_addr;
  std::string db_dsn;
  int db_pool_size = 16;
  // Schema migrations (README "Migrations"): auto | off | only (postgres::MigrateMode);
  // --migrate-only is short for --migrate=only. A set migration DSN is used for migrations only
  // (a role allowed to run DDL), --db-dsn for everything else.
  std::string migrate = "auto";
  bool migrate_only = false;
  std::string migration_db_dsn;
  std::string kek;
  std::string kek_file;
  std::string log_level = "info";
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  std::string shard_id;
  std::string identity_addr;
  std::string identity_ca_file;
  // Client certificate and key the vault presents to identity (mutual TLS); both or neither.
  std::string identity_cert_file;
  std::string identity_key_file;
  std::string jwks_url;
  std::string issuer = "coffer-identity";
  std::string audience = "coffer";
  bool introspect = true;
  std::string required_scope = "vault";
  int history_retention = 100;
  // Memory of the record index (service/record_index.h); 0 = List/Search read PostgreSQL.
  int64_t record_index_max_bytes = int64_t{256} << 20;
  // The head cache (service/head_cache.h): its memory (0 = every GetRecord reads PostgreSQL) and
  // how long an entry serves at most.
  int64_t head_cache_max_bytes = int64_t{32} << 20;
  int head_cache_max_age_ms = 5000;
  // Group commit (repository/pg_write_batcher.h): writes per transaction (1 = off) and batches in
  // flight at once.
  int write_batch_max = 1;
  int write_batch_leaders = 4;
  int shutdown_grace_ms = 10000;
  // Shard sync (README "Sync"): empty bootstrap = this shard runs alone (no relay, no consumer).
  std::string kafka_bootstrap;
  std::string kafka_topic = "coffer.vault.changes.v1";
  int kafka_delivery_timeout_ms = 15000;
  int kafka_fetch_wait_ms = 50;
  // Kafka security (README "Kafka security"): passed to librdkafka as security.protocol,
  // ssl.ca.location, ssl.certificate.location, ssl.key.location, sasl.mechanism, sasl.username
  // and sasl.password (read from the file; never a flag value).
  std::string kafka_security_protocol = "plaintext";
  std::string kafka_ssl_ca_file;
  std::string kafka_ssl_cert_file;
  std::string kafka_ssl_key_file;
  std::string kafka_sasl_mechanism;
  std::string kafka_sasl_username;
  std::string kafka_sasl_password_file;
  // A received HLC further ahead of the local clock merges but is not adopted (docs/architecture.md
  // §4).
  int max_clock_skew_ms = 60000;
  // Tombstone GC (README "Tombstone GC"); must be set alike on every shard of a deployment.
  int progress_interval_ms = 5000;
  int tombstone_gc_interval_ms = 0;  // 0 = off
  int64_t tombstone_gc_min_age_ms = 86400000;
  int watch_heartbeat_ms = 15000;
  int64_t max_file_bytes = int64_t{64} << 20;
  int64_t max_upload_buffer_bytes = int64_t{256} << 20;
  int64_t max_upload_buffer_bytes_per_user = 0;  // 0 = max(a quarter of the budget, a file)
  // Long-lived calls (README "Limits"): caps per user (token subject) and per replica, and the
  // idle timeout of a stalled upload / download.
  int max_watch_streams_per_user = 8;
  int max_watch_streams = 10000;  // callback API: an idle stream holds no thread
  int watch_threads = 4;          // threads running the Watch streams' database steps
  int max_uploads_per_user = 4;
  int max_uploads = 64;
  int max_downloads_per_user = 8;
  int max_downloads = 64;
  int file_stream_idle_timeout_ms = 30000;
  // gRPC server bounds (pkg/grpcx GrpcServerOptions).
  int grpc_max_threads = 1024;
  int grpc_max_concurrent_streams = 128;
  int grpc_keepalive_time_ms = 60000;
  int grpc_keepalive_timeout_ms = 20000;
  int grpc_min_client_ping_interval_ms = 10000;
  int grpc_max_connection_idle_ms = 600000;
  int grpc_max_connection_age_ms = 0;  // 0 = no age limit
  int grpc_max_connection_age_grace_ms = 0;
  // PostgreSQL session limits of every connection (pkg/postgres SessionSettings); a value the
  // DSN sets itself wins. Keepalives: set keepalives_* / tcp_user_timeout in the DSN to change.
  int db_statement_timeout_ms = 30000;
  int db_idle_in_transaction_timeout_ms = 60000;
  // Bootstrap of a new (empty) shard from a peer's snapshot (README "Bootstrap").
  std::string bootstrap_peer;        // gRPC address of another shard; empty = none
  std::string bootstrap_token_file;  // bearer token with scope vault.admin (secret: the file)
  std::string bootstrap_peer_ca_file;
  std::string bootstrap_mode = "auto";  // auto | snapshot
};

// Declares every option of `config` on `parser`.
void RegisterVaultConfig(config::ConfigParser& parser, VaultConfig* config);

// Cross-field checks after parsing: one KEK source, one token source, introspection needs
// identity, the stream caps leave gRPC threads for other calls. INVALID_ARGUMENT naming the
// flags. `keys_supplied`: the embedding code (tests) hands VaultApp its token keys, so neither
// --identity-addr nor --jwks-url is needed.
absl::Status ValidateVaultConfig(const VaultConfig& config, bool keys_supplied = false);

// librdkafka properties of the --kafka-security-* / --kafka-ssl-* / --kafka-sasl-* flags (empty
// for plaintext). Reads the SASL password file; INVALID_ARGUMENT naming the flag when a file
// named for the chosen protocol is missing or unreadable (the password never appears in a
// message).
absl::StatusOr<std::map<std::string, std::string>> KafkaSecurityProperties(
    const VaultConfig& config);

// The --migrate / --migrate-only choice (postgres::ResolveMigrateMode).
absl::StatusOr<postgres::MigrateMode> VaultMigrateMode(const VaultConfig& config);

}  // namespace coffer::vault::app
