#include "services/vault/app/vault_app.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "pkg/auth/token_verifier.h"
#include "pkg/config/host_port.h"
#include "pkg/crypto/keyring.h"
#include "pkg/crypto/random.h"
#include "pkg/grpcx/channel.h"
#include "pkg/grpcx/idle_watchdog.h"
#include "pkg/grpcx/server.h"
#include "pkg/log/log.h"
#include "pkg/metrics/admin_server.h"
#include "pkg/metrics/build_info.h"
#include "pkg/metrics/grpc_server_metrics.h"
#include "pkg/postgres/connection_pool.h"
#include "pkg/postgres/migrations.h"
#include "pkg/postgres/schema_setup.h"
#include "pkg/restgw/server.h"
#include "pkg/status/status.h"
#include "pkg/wallclock/wallclock.h"
#include "services/vault/app/identity_clients.h"
#include "services/vault/app/migrations.h"
#include "services/vault/app/vault_options.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/domain/ids.h"
#include "services/vault/repository/pg_blob_repository.h"
#include "services/vault/repository/pg_record_repository.h"
#include "services/vault/repository/pg_space_repository.h"
#include "services/vault/repository/pg_sync_repository.h"
#include "services/vault/service/change_feed.h"
#include "services/vault/service/file_ref_checker.h"
#include "services/vault/service/file_service.h"
#include "services/vault/service/head_cache.h"
#include "services/vault/service/record_service.h"
#include "services/vault/service/space_service.h"
#include "services/vault/service/user_directory.h"
#include "services/vault/sync/bootstrap.h"
#include "services/vault/sync/change_consumer.h"
#include "services/vault/sync/change_notifier.h"
#include "services/vault/sync/dead_letters.h"
#include "services/vault/sync/event_auth.h"
#include "services/vault/sync/outbox_relay.h"
#include "services/vault/sync/replication_gate.h"
#include "services/vault/sync/shard_reporter.h"
#include "services/vault/sync/sync_metrics.h"
#include "services/vault/sync/tombstone_collector.h"
#include "services/vault/transport/admin_grpc_service.h"
#include "services/vault/transport/file_grpc_service.h"
#include "services/vault/transport/record_grpc_service.h"
#include "services/vault/transport/space_grpc_service.h"
#include "services/vault/transport/stream_limiter.h"
#include "services/vault/transport/sync_grpc_service.h"

namespace coffer::vault::app {
namespace {

constexpr std::chrono::milliseconds kIdentityTimeout{3000};

// The vault's schema step (pkg/postgres/schema_setup.h) per --migrate and the DSNs.
postgres::SchemaSetup VaultSchema(const VaultConfig& config) {
  postgres::SchemaSetup setup;
  setup.binary = "coffer-vault";
  setup.migrations = VaultMigrations();
  setup.db_dsn = config.db_dsn;
  setup.migration_db_dsn = config.migration_db_dsn;
  setup.log_prefix = "vault ";
  setup.migrate_only_entry = "MigrateVaultDatabase";
  return setup;
}

}  // namespace

// Members are declared (so built, and destroyed in reverse) before whatever borrows them.
struct VaultApp::Impl {
  VaultConfig config;
  std::unique_ptr<crypto::Keyring> keyring;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<service::VaultMetrics> metrics;
  std::unique_ptr<postgres::ConnectionPool> pool;
  // The repositories' CommitListener: wakes Watch streams and the relay after commits.
  std::unique_ptr<sync::ChangeNotifier> notifier;
  std::unique_ptr<repository::PgRecordRepository> records;
  std::unique_ptr<repository::PgSpaceRepository> spaces;
  std::unique_ptr<repository::PgBlobRepository> blobs;
  std::unique_ptr<service::BlobFileRefChecker> file_refs;  // RecordService's FILE reference rule
  std::unique_ptr<service::RecordCipher> cipher;
  std::unique_ptr<domain::Hlc> hlc;
  std::unique_ptr<sync::EventAuthenticator> event_auth;  // MAC of every change event
  std::unique_ptr<service::SpaceAccess> access;
  // Before record_service, whose write gate uses it; opened by the consumer.
  std::unique_ptr<sync::ReplicationGate> gate;
  // Before record_index, which reads the change feed through it.
  std::unique_ptr<repository::PgSyncRepository> sync_repo;
  std::unique_ptr<service::RecordIndex> record_index;
  std::unique_ptr<service::HeadCache> head_cache;
  std::unique_ptr<service::RecordService> record_service;
  std::unique_ptr<auth::JwksSource> owned_jwks;
  auth::JwksSource* jwks = nullptr;
  const auth::Clock* clock = nullptr;
  std::unique_ptr<auth::Introspector> introspector;
  std::unique_ptr<auth::TokenVerifier> verifier;
  std::unique_ptr<transport::Authenticator> authenticator;
  std::unique_ptr<transport::RecordGrpcService> record_grpc;
  std::unique_ptr<service::UserDirectory> directory;  // null without an identity address
  std::unique_ptr<service::SpaceService> space_service;
  std::unique_ptr<transport::SpaceGrpcService> space_grpc;
  std::unique_ptr<sync::SyncMetrics> sync_metrics;
  std::unique_ptr<service::ChangeFeed> feed;
  // Caps and idle timeouts of long-lived calls; before the services that use them.
  std::unique_ptr<transport::StreamMetrics> stream_metrics;
  std::unique_ptr<transport::StreamLimiter> watch_streams, uploads, downloads;
  std::unique_ptr<grpcx::IdleWatchdog> watchdog;
  std::unique_ptr<transport::SyncGrpcService> sync_grpc;
  // Null when the shard runs alone (no --kafka-bootstrap), like relay, consumer and gc.
  std::unique_ptr<kafka::Consumer> kafka_probe;    // metadata/watermarks for status, /replicationz
  std::unique_ptr<sync::PeerBootstrap> bootstrap;  // also the consumer's recovery
  std::unique_ptr<sync::OutboxRelay> relay;
  std::unique_ptr<sync::ChangeConsumer> consumer;
  std::unique_ptr<sync::TombstoneCollector> gc;     // null without tombstone GC
  std::unique_ptr<sync::ShardReporter> reporter;    // GetShardStatus, ExportSnapshot, /replicationz
  std::unique_ptr<sync::DeadLetters> dead_letters;  // null without Kafka
  std::unique_ptr<transport::AdminGrpcService> admin_grpc;
  std::unique_ptr<service::FileService> file_service;
  std::unique_ptr<transport::FileGrpcService> file_grpc;
  std::unique_ptr<grpcx::GrpcServer> grpc_server;
  std::unique_ptr<metrics::AdminServer> admin_server;
  std::unique_ptr<restgw::RestServer> rest_server;  // null when --rest-addr is empty
  int grpc_port = 0;
  int rest_port = 0;
  int admin_port = 0;
  bool started = false;
};

VaultApp::VaultApp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

VaultApp::~VaultApp() { Shutdown(); }

absl::StatusOr<std::unique_ptr<VaultApp>> VaultApp::Create(const VaultConfig& config,
                                                           Overrides overrides) {
  // Tests too run with a validated config; only the token keys may come from the caller.
  COFFER_RETURN_IF_ERROR(ValidateVaultConfig(config, /*keys_supplied=*/overrides.jwks != nullptr));
  auto impl = std::make_unique<Impl>();
  Impl& a = *impl;
  a.config = config;

  // Keys: the KEK never appears in errors or logs (pkg/crypto messages name entries only).
  absl::StatusOr<crypto::Keyring> keyring = config.kek_file.empty()
                                                ? crypto::Keyring::Parse(config.kek)
                                                : crypto::Keyring::LoadFile(config.kek_file);
  if (!keyring.ok()) return status::Annotate(keyring.status(), "--kek / --kek-file");
  a.keyring = std::make_unique<crypto::Keyring>(*std::move(keyring));

  a.metrics = std::make_unique<service::VaultMetrics>(*a.registry);
  metrics::RegisterBuildInfo(*a.registry, "vault");

  const postgres::ConnectionPoolConfig pool_config = PoolConfig(config);
  COFFER_ASSIGN_OR_RETURN(a.pool, postgres::ConnectionPool::Create(pool_config));
  // Told of every commit by the repositories; wakes Watch streams and the relay, here and on the
  // other replicas (no NOTIFY inside write transactions: see migrations/V003).
  a.notifier = std::make_unique<sync::ChangeNotifier>(config.db_dsn, std::chrono::milliseconds(2),
                                                      pool_config.session);
  repository::WriteBatcherConfig batching;
  batching.max_batch = config.write_batch_max;
  batching.max_leaders = config.write_batch_leaders;
  a.records = std::make_unique<repository::PgRecordRepository>(*a.pool, a.notifier.get(), batching);
  a.spaces = std::make_unique<repository::PgSpaceRepository>(*a.pool, a.notifier.get());
  a.blobs = std::make_unique<repository::PgBlobRepository>(*a.pool, a.notifier.get());
  a.sync_repo = std::make_unique<repository::PgSyncRepository>(*a.pool, a.notifier.get());
  a.cipher = std::make_unique<service::RecordCipher>(*a.keyring);
  a.hlc = std::make_unique<domain::Hlc>();
  a.access = std::make_unique<service::SpaceAccess>(*a.spaces, wallclock::NowMs);
  // With tombstone GC, writes wait until this shard counts in every shard's GC horizon.
  a.gate = std::make_unique<sync::ReplicationGate>(/*open=*/!TombstoneGcOn(config));
  a.file_refs = std::make_unique<service::BlobFileRefChecker>(*a.blobs);
  service::RecordServiceConfig service_config;
  service_config.shard_id = config.shard_id;
  service_config.history_keep = config.history_retention;
  service_config.write_gate = a.gate.get();
  service_config.file_refs = a.file_refs.get();
  // Invalidated by the notifier's generations: local commits and other replicas' notifications.
  a.head_cache = std::make_unique<service::HeadCache>(
      service::HeadCacheConfig{config.head_cache_max_bytes,
                               std::chrono::milliseconds(config.head_cache_max_age_ms)},
      *a.records, *a.notifier, a.registry.get());
  service_config.head_cache = a.head_cache.get();
  service::RecordIndexConfig index_config;
  index_config.max_bytes = config.record_index_max_bytes;
  a.record_index = std::make_unique<service::RecordIndex>(index_config, *a.sync_repo, *a.cipher,
                                                          a.registry.get());
  a.record_service = std::make_unique<service::RecordService>(
      service_config, *a.records, *a.access, *a.cipher, *a.hlc, wallclock::NowMs,
      [] { return domain::UuidV4FromBytes(crypto::RandomBytes(16)); }, a.metrics.get(),
      *a.record_index);

  // Token verification: identity over gRPC, or any JWKS URL; optional introspection.
  std::shared_ptr<grpc::Channel> identity;
  if (!config.identity_addr.empty()) {
    COFFER_ASSIGN_OR_RETURN(
        identity, grpcx::MakeChannel(config.identity_addr, IdentityChannelOptions(config)));
  }
  if (overrides.jwks != nullptr) {
    a.jwks = overrides.jwks;
  } else if (!config.jwks_url.empty()) {
    COFFER_ASSIGN_OR_RETURN(a.owned_jwks,
                            HttpJwksSource::Create(config.jwks_url, kIdentityTimeout));
    a.jwks = a.owned_jwks.get();
  } else {
    a.owned_jwks = std::make_unique<IdentityJwksSource>(identity, kIdentityTimeout);
    a.jwks = a.owned_jwks.get();
  }
  if (config.introspect && !identity) {
    log::Warn(
        "revocation is not checked: --introspect needs --identity-addr (a JWKS URL alone "
        "cannot tell a logged-out token from a valid one)");
  }
  if (config.introspect && identity) {
    a.introspector = std::make_unique<IdentityIntrospector>(identity, kIdentityTimeout);
  }
  a.clock = overrides.clock != nullptr ? overrides.clock : &auth::SystemClock::Instance();
  auth::TokenVerifierOptions verifier_options;
  verifier_options.issuer = config.issuer;
  verifier_options.audience = config.audience;
  COFFER_ASSIGN_OR_RETURN(a.verifier, auth::TokenVerifier::Create(verifier_options, *a.jwks,
                                                                  *a.clock, a.introspector.get()));
  a.authenticator = std::make_unique<transport::Authenticator>(*a.verifier, a.metrics.get(),
                                                               config.required_scope);
  a.record_grpc =
      std::make_unique<transport::RecordGrpcService>(*a.authenticator, *a.record_service);
  // Invites by login and members' logins come from identity's public profiles, asked with the
  // caller's own token (service/user_directory.h).
  if (identity) a.directory = std::make_unique<IdentityUserDirectory>(identity, kIdentityTimeout);
  a.space_service = std::make_unique<service::SpaceService>(
      service::SpaceServiceConfig{config.shard_id}, *a.spaces, *a.access, *a.cipher, *a.hlc,
      a.directory.get(), wallclock::NowMs);
  a.space_grpc = std::make_unique<transport::SpaceGrpcService>(*a.authenticator, *a.space_service);
  a.file_service = std::make_unique<service::FileService>(
      service::FileServiceConfig{config.max_file_bytes, config.max_upload_buffer_bytes,
                                 config.max_upload_buffer_bytes_per_user},
      *a.blobs, *a.access, *a.record_service, *a.keyring, wallclock::NowMs, a.registry.get());
  a.stream_metrics = std::make_unique<transport::StreamMetrics>(*a.registry);
  a.watch_streams = std::make_unique<transport::StreamLimiter>(
      transport::StreamLimiter::Options{"watch", "Watch streams", config.max_watch_streams_per_user,
                                        config.max_watch_streams},
      a.stream_metrics.get());
  a.uploads = std::make_unique<transport::StreamLimiter>(
      transport::StreamLimiter::Options{"upload", "file uploads", config.max_uploads_per_user,
                                        config.max_uploads},
      a.stream_metrics.get());
  a.downloads = std::make_unique<transport::StreamLimiter>(
      transport::StreamLimiter::Options{"download", "file downloads", config.max_downloads_per_user,
                                        config.max_downloads},
      a.stream_metrics.get());
  a.watchdog = std::make_unique<grpcx::IdleWatchdog>();
  a.file_grpc = std::make_unique<transport::FileGrpcService>(
      *a.authenticator, *a.file_service,
      transport::FileStreamBounds{a.uploads.get(), a.downloads.get(), a.watchdog.get(),
                                  std::chrono::milliseconds(config.file_stream_idle_timeout_ms)});
  // Shard sync (sync/): change feed always; relay and consumer only with Kafka configured.
  a.sync_metrics = std::make_unique<sync::SyncMetrics>(*a.registry);
  a.feed =
      std::make_unique<service::ChangeFeed>(config.shard_id, *a.sync_repo, *a.access, *a.cipher);
  a.sync_grpc = std::make_unique<transport::SyncGrpcService>(
      *a.authenticator, *a.feed, *a.notifier, std::chrono::milliseconds(config.watch_heartbeat_ms),
      *a.watch_streams, config.watch_threads);
  if (!config.kafka_bootstrap.empty()) {
    COFFER_ASSIGN_OR_RETURN(const kafka::ClientConfig client, KafkaClient(config));
    COFFER_ASSIGN_OR_RETURN(a.kafka_probe, kafka::Consumer::Create(ProbeConfig(client)));
    a.bootstrap =
        std::make_unique<sync::PeerBootstrap>(BootstrapPeer(config), *a.sync_repo, *a.kafka_probe);
    a.event_auth = std::make_unique<sync::EventAuthenticator>(*a.keyring);
    sync::OutboxRelayOptions relay = RelayOptions(config, client);
    relay.auth = a.event_auth.get();
    a.relay = std::make_unique<sync::OutboxRelay>(
        relay, *a.sync_repo, sync::PgLeadership(config.db_dsn, "coffer.vault.outbox_relay"),
        *a.sync_metrics, a.notifier.get());
    sync::ChangeConsumerOptions consumer = ConsumerOptions(config, client);
    consumer.gate = a.gate.get();
    consumer.auth = a.event_auth.get();
    if (!config.bootstrap_peer.empty()) consumer.recovery = a.bootstrap.get();
    a.consumer = std::make_unique<sync::ChangeConsumer>(
        consumer, *a.sync_repo, sync::PgLeadership(config.db_dsn, "coffer.vault.change_consumer"),
        *a.hlc, *a.sync_metrics);
    if (TombstoneGcOn(config)) {
      a.gc = std::make_unique<sync::TombstoneCollector>(
          TombstoneGcOptions(config), *a.sync_repo,
          sync::PgLeadership(config.db_dsn, "coffer.vault.tombstone_gc"), *a.sync_metrics);
    }
    a.dead_letters = std::make_unique<sync::DeadLetters>(
        config.shard_id, *a.sync_repo, *a.sync_repo, *a.event_auth, config.history_retention);
  }
  a.reporter = std::make_unique<sync::ShardReporter>(sync::ShardReporterSources{
      config.shard_id, config.kafka_topic, *a.records, *a.sync_repo, *a.sync_repo, a.relay.get(),
      a.consumer.get(), a.kafka_probe.get()});
  a.admin_grpc = std::make_unique<transport::AdminGrpcService>(
      *a.authenticator, *a.record_service, *a.space_service, *a.reporter, a.dead_letters.get());

  a.grpc_server = std::make_unique<grpcx::GrpcServer>(GrpcServerConfig(config));
  a.grpc_server->RegisterService(a.record_grpc.get());
  a.grpc_server->RegisterService(a.space_grpc.get());
  a.grpc_server->RegisterService(a.admin_grpc.get());
  a.grpc_server->RegisterAsyncService(a.sync_grpc.get(), a.sync_grpc->WatchHooks());
  a.grpc_server->RegisterService(a.file_grpc.get());
  a.grpc_server->AddInterceptorFactory(metrics::MakeGrpcMetricsInterceptorFactory(
      std::make_shared<metrics::GrpcServerMetrics>(*a.registry)));

  COFFER_ASSIGN_OR_RETURN(auto admin_addr, config::SplitHostPort(config.admin_addr, "admin-addr"));
  a.admin_server = std::make_unique<metrics::AdminServer>(
      metrics::AdminServerOptions{admin_addr.first, admin_addr.second}, a.registry);
  postgres::ConnectionPool* pool = a.pool.get();
  // Readiness is what serving this replica's API needs: its database, and (a new shard with
  // tombstone GC only) having joined replication, before which it refuses writes.
  a.admin_server->AddReadinessCheck("database", [pool] { return pool->Ping(); });
  a.admin_server->AddReadinessCheck("replication",
                                    [gate = a.gate.get()] { return gate->CheckWritable(); });
  // Replication health is its own signal (/replicationz, coffer_vault_replication_healthy),
  // never un-readiness: every replica of every shard shares the broker, so a Kafka outage or a
  // stalled consumer as readiness would take the whole service out of its load balancers while
  // each shard's API still works. Operators are alerted instead (helm/README.md "Alerts").
  if (a.kafka_probe) {
    constexpr char kReplicationPath[] = "/replicationz";
    sync::ShardReporter* reporter = a.reporter.get();
    // A consumer that refuses to resume (log truncated under it, and no peer to recover from or a
    // recovery that failed): this shard's copy of shared spaces stops following the other
    // shards. The reason is in GetShardStatus and the log.
    a.admin_server->AddStatusCheck(kReplicationPath, "consumer",
                                   [reporter] { return reporter->ConsumerHealth(); });
    a.admin_server->AddStatusCheck(kReplicationPath, "kafka",
                                   [reporter] { return reporter->KafkaHealth(); });
    a.admin_server->SetStatusGauge(
        kReplicationPath,
        &prometheus::BuildGauge()
             .Name("coffer_vault_replication_healthy")
             .Help(
                 "1 while this replica reaches Kafka (the change topic's metadata) and its change "
                 "consumer is not stalled, else 0 (GET /replicationz on the admin port names the "
                 "failing check); set on each scrape")
             .Register(*a.registry)
             .Add({}));
  }
  return std::unique_ptr<VaultApp>(new VaultApp(std::move(impl)));
}

absl::StatusOr<postgres::MigrationResult> MigrateVaultDatabase(const VaultConfig& config) {
  return postgres::MigrateDatabase(VaultSchema(config));
}

absl::Status VaultApp::Start() {
  Impl& a = *impl_;
  // The schema step per --migrate (VaultConfig): auto applies pending migrations (over
  // --migration-db-dsn when set), off only checks that none is pending.
  COFFER_ASSIGN_OR_RETURN(postgres::MigrateMode mode, VaultMigrateMode(a.config));
  COFFER_RETURN_IF_ERROR(postgres::PrepareSchema(VaultSchema(a.config), mode, *a.pool));
  // Fail fast on a misconfigured issuer, but do not refuse to start while identity is down:
  // the verifier fetches again on the first token.
  if (absl::Status keys = a.verifier->RefreshKeys(); !keys.ok()) {
    log::Warn("could not fetch token signing keys yet", {{"status", keys}});
  }
  if (a.bootstrap) {
    COFFER_RETURN_IF_ERROR(status::Annotate(a.bootstrap->BootstrapIfEmpty().status(), "bootstrap"));
  }
  a.notifier->Start();
  if (a.relay) a.relay->Start();
  if (a.consumer) a.consumer->Start();
  if (a.gc) a.gc->Start();
  COFFER_ASSIGN_OR_RETURN(a.grpc_port, a.grpc_server->Start());
  COFFER_ASSIGN_OR_RETURN(a.admin_port, a.admin_server->Start());
  if (!a.config.rest_addr.empty()) {
    // The gateway calls the gRPC handlers through an in-process channel, so REST requests pass
    // the same interceptors (metrics) and the same token verification as gRPC ones.
    COFFER_ASSIGN_OR_RETURN(auto rest_addr, config::SplitHostPort(a.config.rest_addr, "rest-addr"));
    grpc::ChannelArguments channel_args;
    COFFER_ASSIGN_OR_RETURN(
        a.rest_server,
        restgw::StartRestGateway(restgw::RestServerOptions{.host = rest_addr.first,
                                                           .port = rest_addr.second,
                                                           .tls_cert_file = a.config.tls_cert_file,
                                                           .tls_key_file = a.config.tls_key_file,
                                                           .name = "vault-rest"},
                                 {"coffer.vault.v1.RecordService", "coffer.vault.v1.SyncService",
                                  "coffer.vault.v1.SpaceService", "coffer.vault.v1.AdminService",
                                  "coffer.vault.v1.FileService"},
                                 a.grpc_server->server()->InProcessChannel(channel_args)));
    a.rest_port = a.rest_server->port();
  }
  a.started = true;
  log::Info("vault started", {{"grpc_port", static_cast<int64_t>(a.grpc_port)},
                              {"admin_port", static_cast<int64_t>(a.admin_port)},
                              {"rest_port", static_cast<int64_t>(a.rest_port)},
                              {"shard_id", a.config.shard_id}});
  return absl::OkStatus();
}

void VaultApp::Shutdown() {
  if (!impl_ || !impl_->started) return;
  impl_->started = false;
  if (impl_->rest_server) impl_->rest_server->Stop();  // First: it feeds the gRPC server.
  impl_->grpc_server->Shutdown();                      // NOT_SERVING, drain, then cancel the rest
  impl_->admin_server->Stop();
  if (impl_->relay) impl_->relay->Stop();
  if (impl_->consumer) impl_->consumer->Stop();
  if (impl_->gc) impl_->gc->Stop();
  impl_->notifier->Stop();
  log::Info("vault stopped");
}

int VaultApp::grpc_port() const { return impl_->grpc_port; }
int VaultApp::admin_port() const { return impl_->admin_port; }
int VaultApp::rest_port() const { return impl_->rest_port; }

}  // namespace coffer::vault::app
