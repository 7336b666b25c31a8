#include "services/vault/app/vault_config.h"

#include <fstream>
#include <sstream>

#include "pkg/status/status.h"

namespace coffer::vault::app {
namespace {

// gRPC threads the stream caps must leave for unary calls (and gRPC's idle pollers).
constexpr int64_t kThreadsForOtherCalls = 64;

}  // namespace

void RegisterVaultConfig(config::ConfigParser& parser, VaultConfig* c) {
  parser.Add("grpc-addr", &c->grpc_addr, "gRPC listen address host:port (port 0 = any free port)");
  parser.Add("admin-addr", &c->admin_addr,
             "Admin HTTP listen address host:port for /metrics, /healthz, /readyz");
  parser.Add("rest-addr", &c->rest_addr,
             "REST/JSON gateway host:port for the gRPC API (routes in swagger/); empty = off");
  parser.Add("db-dsn", &c->db_dsn, "libpq connection string of the shard's PostgreSQL")
      .Required()
      .Secret();
  parser.Add("db-pool-size", &c->db_pool_size, "PostgreSQL connections per replica")
      .Validate(config::InRange(1, 256));
  parser
      .Add("migrate", &c->migrate,
           "Schema migrations: auto = apply pending ones at start (replicas may start together), "
           "off = apply none and refuse to start while the schema is behind this binary (a "
           "separate step migrates, e.g. the chart's Job), only = apply them, print a one-line "
           "summary and exit")
      .Validate(config::OneOf({"auto", "off", "only"}));
  parser.Add("migrate-only", &c->migrate_only,
             "Short for --migrate=only: connect, apply the migrations, print \"applied N, now at "
             "version V\" and exit 0 (non-zero on failure)");
  parser
      .Add("migration-db-dsn", &c->migration_db_dsn,
           "libpq connection string used only to apply migrations, e.g. of a role that owns the "
           "schema while --db-dsn's role has only the GRANTs in helm/README.md (empty = "
           "--db-dsn)")
      .Secret();
  parser.Add("kek", &c->kek, "Key-encryption keys \"k1:<base64 32 bytes>,...[,primary=k1]\"")
      .Secret();
  parser.Add("kek-file", &c->kek_file, "File holding the key-encryption keys (instead of --kek)");
  parser.Add("log-level", &c->log_level, "trace, debug, info, warn, error or off")
      .Validate(config::OneOf({"trace", "debug", "info", "warn", "error", "off"}));
  parser.Add("tls-cert-file", &c->tls_cert_file, "PEM server certificate (enables TLS)");
  parser.Add("tls-key-file", &c->tls_key_file, "PEM server private key");
  parser.Add("tls-client-ca-file", &c->tls_client_ca_file,
             "PEM CA for client certificates (enables mTLS)");
  parser.Add("shard-id", &c->shard_id, "This shard's id, e.g. shard-a (origin of local writes)")
      .Required()
      .Validate(config::NonEmpty());
  parser.Add("identity-addr", &c->identity_addr,
             "gRPC target of the identity service (GetJwks, Introspect)");
  parser.Add("identity-ca-file", &c->identity_ca_file,
             "PEM CA of the identity service's certificate (enables TLS to identity)");
  parser.Add("identity-cert-file", &c->identity_cert_file,
             "PEM client certificate the vault presents to identity when identity requires one "
             "(mutual TLS; with --identity-key-file; enables TLS to identity)");
  parser.Add("identity-key-file", &c->identity_key_file, "PEM private key of --identity-cert-file");
  parser.Add("jwks-url", &c->jwks_url, "JWKS URL of any OIDC issuer (instead of --identity-addr)");
  parser.Add("issuer", &c->issuer, "Expected token issuer (iss)");
  parser.Add("audience", &c->audience, "Expected token audience (aud)");
  parser.Add("required-scope", &c->required_scope,
             "Scope every token must carry (identity grants \"vault\" to users); vault.admin "
             "tokens pass too; empty = any valid token");
  parser.Add("introspect", &c->introspect,
             "With --identity-addr: also ask identity's Introspect (answers cached 10 s) so "
             "logged-out or revoked tokens and deleted service accounts' tokens stop working");
  parser
      .Add("history-retention", &c->history_retention,
           "Revisions kept per record in history (0 = all)")
      .Validate(config::InRange(0, 100000));
  parser
      .Add("record-index-max-bytes", &c->record_index_max_bytes,
           "Memory this replica may use to index spaces' decrypted names and search fields, so "
           "List/Search/ListConflicts pages cost O(page) (0 = off: every page reads and "
           "decrypts the whole space; a space larger than this is served that way)")
      .Validate(config::InRange(int64_t{0}, int64_t{64} << 30));
  parser
      .Add("head-cache-max-bytes", &c->head_cache_max_bytes,
           "Memory this replica may use to keep sealed record heads, so GetRecord needs no "
           "PostgreSQL round trip while the space has not changed (0 = off)")
      .Validate(config::InRange(int64_t{0}, int64_t{64} << 30));
  parser
      .Add("head-cache-max-age-ms", &c->head_cache_max_age_ms,
           "Longest time a cached record head serves GetRecord without being read again (bounds "
           "staleness when a replica misses another replica's change notification)")
      .Validate(config::InRange(1, 60'000));
  parser
      .Add("write-batch-max", &c->write_batch_max,
           "Group commit: concurrent writes that may share one PostgreSQL transaction (1 = off: "
           "each write commits alone)")
      .Validate(config::InRange(1, 256));
  parser
      .Add("write-batch-leaders", &c->write_batch_leaders,
           "Group commit: write transactions in flight at once (each holds a database "
           "connection while it runs)")
      .Validate(config::InRange(1, 64));
  parser
      .Add("shutdown-grace-ms", &c->shutdown_grace_ms,
           "How long a shutdown lets in-flight calls finish")
      .Validate(config::InRange(0, 600000));
  parser.Add(
      "kafka-bootstrap", &c->kafka_bootstrap,
      "Kafka bootstrap servers host:port,... for shard sync (empty = this shard runs alone)");
  parser.Add("kafka-topic", &c->kafka_topic, "Kafka topic of the shards' change events")
      .Validate(config::NonEmpty());
  parser
      .Add("kafka-delivery-timeout-ms", &c->kafka_delivery_timeout_ms,
           "How long the outbox relay waits for Kafka to acknowledge an event before it sends it "
           "again (librdkafka message.timeout.ms)")
      .Validate(config::InRange(1000, 600000));
  parser
      .Add("kafka-fetch-wait-ms", &c->kafka_fetch_wait_ms,
           "How long the consumer's fetch may wait at the broker for new events (librdkafka "
           "fetch.wait.max.ms): bounds the replication delay on a quiet topic")
      .Validate(config::InRange(1, 10000));
  parser
      .Add("kafka-security-protocol", &c->kafka_security_protocol,
           "plaintext, ssl, sasl_plaintext or sasl_ssl (librdkafka security.protocol)")
      .Validate(config::OneOf({"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"}));
  parser.Add("kafka-ssl-ca-file", &c->kafka_ssl_ca_file,
             "PEM file of the CA that signed the brokers' certificates (ssl, sasl_ssl)");
  parser.Add("kafka-ssl-cert-file", &c->kafka_ssl_cert_file,
             "PEM client certificate presented to the brokers (mutual TLS)");
  parser.Add("kafka-ssl-key-file", &c->kafka_ssl_key_file,
             "PEM private key of --kafka-ssl-cert-file");
  parser
      .Add("kafka-sasl-mechanism", &c->kafka_sasl_mechanism,
           "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (sasl_plaintext, sasl_ssl)")
      .Validate(config::OneOf({"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}));
  parser.Add("kafka-sasl-username", &c->kafka_sasl_username, "SASL user name");
  parser.Add("kafka-sasl-password-file", &c->kafka_sasl_password_file,
             "File holding the SASL password (a mounted secret)");
  parser
      .Add("max-clock-skew-ms", &c->max_clock_skew_ms,
           "A received event's clock further ahead of this shard's is merged but not adopted")
      .Validate(config::InRange(1000, 86400000));
  parser
      .Add("progress-interval-ms", &c->progress_interval_ms,
           "How often the relay publishes this shard's progress marker (tombstone GC horizon)")
      .Validate(config::InRange(100, 3600000));
  parser
      .Add("tombstone-gc-interval-ms", &c->tombstone_gc_interval_ms,
           "How often purged records every shard has passed are dropped (0 = keep them; set "
           "alike on every shard: it also makes a new shard wait to join before writes)")
      .Validate(config::InRange(0, 86400000));
  parser
      .Add("tombstone-gc-min-age-ms", &c->tombstone_gc_min_age_ms,
           "Minimum age of a purged record before GC may drop it (older Sync cursors of its "
           "space are then reset)")
      .Validate(config::InRange(int64_t{0}, int64_t{31536000000}));
  parser
      .Add("max-file-bytes", &c->max_file_bytes,
           "Largest file FileService.UploadFile accepts (RESOURCE_EXHAUSTED above it)")
      .Validate(config::InRange(int64_t{0}, int64_t{16} << 30));
  parser
      .Add("max-upload-buffer-bytes", &c->max_upload_buffer_bytes,
           "File content all uploads of this replica may hold in memory together before storing "
           "it (further uploads get RESOURCE_EXHAUSTED until it frees up)")
      .Validate(config::InRange(int64_t{1} << 20, int64_t{64} << 30));
  parser
      .Add("max-upload-buffer-bytes-per-user", &c->max_upload_buffer_bytes_per_user,
           "File content one user's uploads may hold in memory together on this replica (0 = "
           "the larger of a quarter of --max-upload-buffer-bytes and --max-file-bytes); further "
           "chunks of that user get RESOURCE_EXHAUSTED, other users' uploads go on")
      .Validate(config::InRange(int64_t{0}, int64_t{64} << 30));
  parser
      .Add("max-watch-streams-per-user", &c->max_watch_streams_per_user,
           "SyncService.Watch streams one user may have open on this replica (more are refused "
           "RESOURCE_EXHAUSTED at once)")
      .Validate(config::InRange(1, 10000));
  parser
      .Add("max-watch-streams", &c->max_watch_streams,
           "SyncService.Watch streams all users may have open on this replica (an idle stream "
           "holds no thread: a few KiB of memory each)")
      .Validate(config::InRange(1, 100000));
  parser
      .Add("watch-threads", &c->watch_threads,
           "Threads that run the Watch streams' database steps (catch-up pages, token and "
           "membership checks); idle streams need none")
      .Validate(config::InRange(1, 256));
  parser
      .Add("max-uploads-per-user", &c->max_uploads_per_user,
           "FileService.UploadFile calls one user may have open on this replica")
      .Validate(config::InRange(1, 10000));
  parser
      .Add("max-uploads", &c->max_uploads,
           "FileService.UploadFile calls all users may have open on this replica")
      .Validate(config::InRange(1, 100000));
  parser
      .Add("max-downloads-per-user", &c->max_downloads_per_user,
           "FileService.DownloadFile calls one user may have open on this replica")
      .Validate(config::InRange(1, 10000));
  parser
      .Add("max-downloads", &c->max_downloads,
           "FileService.DownloadFile calls all users may have open on this replica")
      .Validate(config::InRange(1, 100000));
  parser
      .Add("file-stream-idle-timeout-ms", &c->file_stream_idle_timeout_ms,
           "An upload that receives no message, or a download whose client accepts no data, for "
           "this long is ended with DEADLINE_EXCEEDED and its memory released")
      .Validate(config::InRange(100, 3600000));
  parser
      .Add("grpc-max-threads", &c->grpc_max_threads,
           "Most threads the gRPC server runs; each open call holds one, and a call beyond that "
           "is refused RESOURCE_EXHAUSTED at once (0 = unbounded)")
      .Validate(config::InRange(0, 100000));
  parser
      .Add("grpc-max-concurrent-streams", &c->grpc_max_concurrent_streams,
           "Calls one client connection may have open at once (HTTP/2 "
           "MAX_CONCURRENT_STREAMS; 0 = gRPC's default, unbounded)")
      .Validate(config::InRange(0, 100000));
  parser
      .Add("grpc-keepalive-time-ms", &c->grpc_keepalive_time_ms,
           "The server pings a connection after this long without activity; with "
           "--grpc-keepalive-timeout-ms it closes connections of clients that vanished (0 = off)")
      .Validate(config::InRange(0, 86400000));
  parser
      .Add("grpc-keepalive-timeout-ms", &c->grpc_keepalive_timeout_ms,
           "How long the server waits for a keepalive ping's answer before closing the "
           "connection")
      .Validate(config::InRange(1, 3600000));
  parser
      .Add("grpc-min-client-ping-interval-ms", &c->grpc_min_client_ping_interval_ms,
           "Shortest interval at which clients may send keepalive pings; more often gets the "
           "connection closed (too_many_pings)")
      .Validate(config::InRange(0, 86400000));
  parser
      .Add("grpc-max-connection-idle-ms", &c->grpc_max_connection_idle_ms,
           "A client connection without any open call for this long is closed (clients "
           "reconnect on their next call; 0 = never)")
      .Validate(config::InRange(0, 86400000));
  parser
      .Add("grpc-max-connection-age-ms", &c->grpc_max_connection_age_ms,
           "A client connection older than this is asked to reconnect for new calls (spreads "
           "clients over replicas; 0 = never)")
      .Validate(config::InRange(0, 604800000));
  parser
      .Add("grpc-max-connection-age-grace-ms", &c->grpc_max_connection_age_grace_ms,
           "After --grpc-max-connection-age-ms, how long calls still open on the old connection "
           "may run before they are cancelled (0 = until they end; Watch streams never do)")
      .Validate(config::InRange(0, 604800000));
  parser
      .Add("db-statement-timeout-ms", &c->db_statement_timeout_ms,
           "PostgreSQL statement_timeout of every connection: a longer statement fails "
           "DEADLINE_EXCEEDED (0 = the server's setting; a DSN options='-c statement_timeout=...' "
           "wins)")
      .Validate(config::InRange(0, 86400000));
  parser
      .Add("db-idle-in-transaction-timeout-ms", &c->db_idle_in_transaction_timeout_ms,
           "PostgreSQL idle_in_transaction_session_timeout of every connection: the server ends "
           "a session whose transaction sat idle this long (0 = the server's setting)")
      .Validate(config::InRange(0, 86400000));
  parser
      .Add("watch-heartbeat-ms", &c->watch_heartbeat_ms,
           "Heartbeat interval of idle SyncService.Watch streams")
      .Validate(config::InRange(100, 3600000));
  parser.Add("bootstrap-peer", &c->bootstrap_peer,
             "gRPC address of another shard whose snapshot an empty shard imports when the "
             "change log is incomplete (empty = none)");
  parser.Add("bootstrap-token-file", &c->bootstrap_token_file,
             "File holding a bearer token with scope vault.admin for --bootstrap-peer");
  parser.Add("bootstrap-peer-ca-file", &c->bootstrap_peer_ca_file,
             "PEM CA of --bootstrap-peer's certificate (enables TLS to the peer)");
  parser
      .Add("bootstrap-mode", &c->bootstrap_mode,
           "auto: an empty shard imports --bootstrap-peer's snapshot only when the change log "
           "no longer starts at offset 0; snapshot: always")
      .Validate(config::OneOf({"auto", "snapshot"}));
}

absl::Status ValidateVaultConfig(const VaultConfig& c, bool keys_supplied) {
  COFFER_RETURN_IF_ERROR(VaultMigrateMode(c).status());
  if (c.kek.empty() == c.kek_file.empty()) {
    return absl::InvalidArgumentError(
        "exactly one of --kek (COFFER_KEK) and --kek-file "
        "(COFFER_KEK_FILE) must be set");
  }
  if (c.identity_addr.empty() && c.jwks_url.empty() && !keys_supplied) {
    return absl::InvalidArgumentError(
        "one of --identity-addr (COFFER_IDENTITY_ADDR) and --jwks-url (COFFER_JWKS_URL) must be "
        "set");
  }
  if (c.identity_cert_file.empty() != c.identity_key_file.empty()) {
    return absl::InvalidArgumentError("--identity-cert-file and --identity-key-file go together");
  }
  if (!c.bootstrap_peer.empty() && (c.bootstrap_token_file.empty() || c.kafka_bootstrap.empty())) {
    return absl::InvalidArgumentError(
        "--bootstrap-peer needs --bootstrap-token-file and --kafka-bootstrap");
  }
  // File streams each hold a gRPC thread (sync API): together they must leave threads for every
  // other call, or a full set of uploads would refuse everybody's unary calls. Watch streams run
  // on the callback API and hold none.
  const int64_t streams = int64_t{c.max_uploads} + c.max_downloads;
  if (c.grpc_max_threads > 0 && streams + kThreadsForOtherCalls > c.grpc_max_threads) {
    return absl::InvalidArgumentError(
        "--max-uploads + --max-downloads (" + std::to_string(streams) + ") must leave at least " +
        std::to_string(kThreadsForOtherCalls) + " of --grpc-max-threads (" +
        std::to_string(c.grpc_max_threads) + ") for other calls");
  }
  return absl::OkStatus();
}

absl::StatusOr<postgres::MigrateMode> VaultMigrateMode(const VaultConfig& c) {
  return postgres::ResolveMigrateMode(c.migrate, c.migrate_only);
}

absl::StatusOr<std::map<std::string, std::string>> KafkaSecurityProperties(const VaultConfig& c) {
  std::map<std::string, std::string> p;
  const std::string& protocol = c.kafka_security_protocol;
  const bool tls = protocol == "ssl" || protocol == "sasl_ssl";
  const bool sasl = protocol == "sasl_plaintext" || protocol == "sasl_ssl";
  if (!tls && !sasl && protocol != "plaintext") {
    // The flag's own check refuses other values; a VaultConfig built in code may still hold one.
    return absl::InvalidArgumentError(
        "--kafka-security-protocol must be plaintext, ssl, sasl_plaintext or sasl_ssl");
  }
  // A TLS or SASL setting the protocol would ignore is a mistake (e.g. a forgotten
  // --kafka-security-protocol): refuse it rather than connect without the intended security.
  if (!tls) {
    for (const auto& [flag, value] :
         {std::pair<const char*, const std::string*>{"--kafka-ssl-ca-file", &c.kafka_ssl_ca_file},
          {"--kafka-ssl-cert-file", &c.kafka_ssl_cert_file},
          {"--kafka-ssl-key-file", &c.kafka_ssl_key_file}}) {
      if (!value->empty()) {
        return absl::InvalidArgumentError(std::string(flag) +
                                          " is set but --kafka-security-protocol " + protocol +
                                          " does not use TLS (ssl or sasl_ssl)");
      }
    }
  }
  if (!sasl) {
    for (const auto& [flag, value] :
         {std::pair<const char*, const std::string*>{"--kafka-sasl-mechanism",
                                                     &c.kafka_sasl_mechanism},
          {"--kafka-sasl-username", &c.kafka_sasl_username},
          {"--kafka-sasl-password-file", &c.kafka_sasl_password_file}}) {
      if (!value->empty()) {
        return absl::InvalidArgumentError(std::string(flag) +
                                          " is set but --kafka-security-protocol " + protocol +
                                          " does not use SASL (sasl_plaintext or sasl_ssl)");
      }
    }
  }
  if (sasl && c.kafka_sasl_mechanism != "PLAIN" && c.kafka_sasl_mechanism != "SCRAM-SHA-256" &&
      c.kafka_sasl_mechanism != "SCRAM-SHA-512" && !c.kafka_sasl_mechanism.empty()) {
    return absl::InvalidArgumentError(
        "--kafka-sasl-mechanism must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
  }
  if (protocol == "plaintext") return p;
  p["security.protocol"] = protocol;
  auto readable = [](const std::string& path) { return std::ifstream(path).good(); };
  if (tls) {
    if (!c.kafka_ssl_ca_file.empty()) {
      if (!readable(c.kafka_ssl_ca_file)) {
        return absl::InvalidArgumentError("--kafka-ssl-ca-file: cannot read the file");
      }
      p["ssl.ca.location"] = c.kafka_ssl_ca_file;
    }
    if (c.kafka_ssl_cert_file.empty() != c.kafka_ssl_key_file.empty()) {
      return absl::InvalidArgumentError(
          "--kafka-ssl-cert-file and --kafka-ssl-key-file go together");
    }
    if (!c.kafka_ssl_cert_file.empty()) {
      if (!readable(c.kafka_ssl_cert_file) || !readable(c.kafka_ssl_key_file)) {
        return absl::InvalidArgumentError(
            "--kafka-ssl-cert-file / --kafka-ssl-key-file: cannot read the files");
      }
      p["ssl.certificate.location"] = c.kafka_ssl_cert_file;
      p["ssl.key.location"] = c.kafka_ssl_key_file;
    }
  }
  if (sasl) {
    if (c.kafka_sasl_mechanism.empty() || c.kafka_sasl_username.empty() ||
        c.kafka_sasl_password_file.empty()) {
      return absl::InvalidArgumentError(
          "--kafka-security-protocol " + protocol +
          " needs --kafka-sasl-mechanism, --kafka-sasl-username and --kafka-sasl-password-file");
    }
    std::ifstream in(c.kafka_sasl_password_file);
    std::string password;
    std::getline(in, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
    if (password.empty()) {
      return absl::InvalidArgumentError("--kafka-sasl-password-file: cannot read a password");
    }
    p["sasl.mechanism"] = c.kafka_sasl_mechanism;
    p["sasl.username"] = c.kafka_sasl_username;
    p["sasl.password"] = password;
  }
  return p;
}

}  // namespace coffer::vault::app
