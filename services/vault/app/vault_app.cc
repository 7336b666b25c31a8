#include "services/vault/app/vault_app.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <fstream>

#include "coffer/vault/v1/files.grpc.pb.h"
#include "coffer/vault/v1/sync.grpc.pb.h"
#include "pkg/auth/token_verifier.h"
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
#include "pkg/restgw/server.h"
#include "pkg/status/status.h"
#include "pkg/version/version.h"
#include "services/vault/app/identity_clients.h"
#include "services/vault/app/migrations.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/domain/ids.h"
#include "services/vault/domain/validation.h"
#include "services/vault/repository/pg_blob_repository.h"
#include "services/vault/repository/pg_record_repository.h"
#include "services/vault/repository/pg_space_repository.h"
#include "services/vault/repository/pg_sync_repository.h"
#include "services/vault/service/change_feed.h"
#include "services/vault/service/file_service.h"
#include "services/vault/service/record_service.h"
#include "services/vault/service/space_service.h"
#include "services/vault/service/user_directory.h"
#include "services/vault/sync/bootstrap.h"
#include "services/vault/sync/change_consumer.h"
#include "services/vault/sync/change_event.h"
#include "services/vault/sync/change_notifier.h"
#include "services/vault/sync/dead_letters.h"
#include "services/vault/sync/event_auth.h"
#include "services/vault/sync/outbox_relay.h"
#include "services/vault/sync/replication_gate.h"
#include "services/vault/sync/sync_metrics.h"
#include "services/vault/sync/tombstone_collector.h"
#include "services/vault/sync/watermarks.h"
#include "services/vault/transport/file_grpc_service.h"
#include "services/vault/transport/grpc_services.h"
#include "services/vault/transport/space_grpc_service.h"
#include "services/vault/transport/stream_limiter.h"
#include "services/vault/transport/sync_grpc_service.h"

namespace coffer::vault::app {
namespace {

constexpr std::chrono::milliseconds kIdentityTimeout{3000};

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& addr,
                                                          const std::string& flag) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError("--" + flag + ": expected host:port");
  }
  try {
    int port = std::stoi(addr.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    return std::make_pair(addr.substr(0, colon), port);
  } catch (const std::exception&) {
    return absl::InvalidArgumentError("--" + flag + ": bad port");
  }
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct VaultApp::Impl {
  VaultConfig config;
  std::unique_ptr<crypto::Keyring> keyring;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<service::VaultMetrics> metrics;
  std::unique_ptr<postgres::ConnectionPool> pool;
  std::unique_ptr<repository::PgRecordRepository> records;
  std::unique_ptr<repository::PgSpaceRepository> spaces;
  std::unique_ptr<service::RecordCipher> cipher;
  std::unique_ptr<domain::Hlc> hlc;
  std::unique_ptr<sync::EventAuthenticator> event_auth;  // MAC of every change event
  std::unique_ptr<sync::DeadLetters> dead_letters;       // null without Kafka
  std::unique_ptr<service::SpaceAccess> access;
  // Before record_service, whose write gate uses it; opened by the consumer.
  std::unique_ptr<sync::ReplicationGate> gate;
  // Before record_index, which reads the change feed through it.
  std::unique_ptr<repository::PgSyncRepository> sync_repo;
  std::unique_ptr<service::RecordIndex> record_index;
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
  std::unique_ptr<transport::AdminGrpcService> admin_grpc;
  std::unique_ptr<sync::SyncMetrics> sync_metrics;
  std::unique_ptr<sync::ChangeNotifier> notifier;
  std::unique_ptr<service::ChangeFeed> feed;
  // Caps and idle timeouts of long-lived calls; before the services that use them.
  std::unique_ptr<transport::StreamMetrics> stream_metrics;
  std::unique_ptr<transport::StreamLimiter> watch_streams, uploads, downloads;
  std::unique_ptr<grpcx::IdleWatchdog> watchdog;
  std::unique_ptr<transport::SyncGrpcService> sync_grpc;
  std::unique_ptr<sync::OutboxRelay> relay;        // null when the shard runs alone
  std::unique_ptr<sync::ChangeConsumer> consumer;  // null when the shard runs alone
  std::unique_ptr<sync::TombstoneCollector> gc;    // null without tombstone GC
  std::unique_ptr<kafka::Consumer> kafka_probe;    // metadata/watermarks for status, /replicationz
  std::unique_ptr<repository::PgBlobRepository> blobs;
  std::unique_ptr<service::FileService> file_service;
  std::unique_ptr<transport::FileGrpcService> file_grpc;
  std::unique_ptr<grpcx::GrpcServer> grpc_server;
  std::unique_ptr<metrics::AdminServer> admin_server;
  std::unique_ptr<restgw::RestServer> rest_server;  // null when --rest-addr is empty
  int grpc_port = 0;
  int rest_port = 0;
  int admin_port = 0;
  bool started = false;

  // GetShardStatus: leadership of this replica, stored offsets (from the database, so every
  // replica reports them) and, where Kafka is reachable, high watermarks and lag.
  // AdminService.ExportSnapshot: the header, then the revisions as change events.
  absl::Status ExportSnapshot(
      const std::function<bool(const v1::ExportSnapshotResponse&)>& write) const {
    return sync_repo->ExportSnapshot(
        [&](const repository::SnapshotHeader& h) {
          v1::ExportSnapshotResponse msg;
          msg.set_shard_id(config.shard_id);
          for (const auto& [partition, next] : h.positions) {
            v1::SnapshotPosition* p = msg.add_positions();
            p->set_partition(partition);
            p->set_next_offset(next);
          }
          for (const repository::ShardProgressRow& row : h.progress) {
            v1::SnapshotProgress* p = msg.add_progress();
            p->set_shard_id(row.shard_id);
            p->set_partition(row.partition);
            p->set_settled_offset(row.settled_offset);
          }
          for (const repository::SnapshotHeader::Tombstone& t : h.tombstones) {
            v1::SnapshotTombstone* out = msg.add_tombstones();
            out->set_record_id(t.record_id);
            out->set_space_id(t.space_id);
            out->set_partition(t.partition);
            out->set_offset(t.offset);
          }
          if (!write(msg)) return false;
          // Membership registers follow in messages of their own, bounded like revisions.
          constexpr size_t kMessageBytes = size_t{4} << 20;
          v1::ExportSnapshotResponse registers;
          size_t bytes = 0;
          for (const repository::SpaceRegister& r : h.registers) {
            std::string event = sync::EncodeSpaceChangeEvent(r, /*event_id=*/"");
            if (bytes > 0 && bytes + event.size() > kMessageBytes) {
              if (!write(registers)) return false;
              registers.Clear();
              bytes = 0;
            }
            bytes += event.size();
            registers.add_space_changes(std::move(event));
          }
          return registers.space_changes_size() == 0 || write(registers);
        },
        [&](std::vector<repository::StoredRevision>&& chunk) {
          // Messages are bounded by bytes, not only by count: a revision's event is at most
          // ~0.9 MB (domain::Limits::kMaxSealedRecord), so each stays far below gRPC's 16 MiB.
          constexpr size_t kMessageBytes = size_t{4} << 20;
          v1::ExportSnapshotResponse msg;
          size_t bytes = 0;
          for (const repository::StoredRevision& r : chunk) {
            std::string event = sync::EncodeChangeEvent(r, /*event_id=*/"");
            if (bytes > 0 && bytes + event.size() > kMessageBytes) {
              if (!write(msg)) return false;
              msg.Clear();
              bytes = 0;
            }
            bytes += event.size();
            msg.add_revisions(std::move(event));
          }
          return msg.revisions_size() == 0 || write(msg);
        });
  }

  // Runs the bootstrap of an empty shard (sync/bootstrap.h) before the consumer starts.
  absl::Status BootstrapIfEmpty() {
    if (!kafka_probe) return absl::OkStatus();
    COFFER_ASSIGN_OR_RETURN(sync::BootstrapOptions options, BootstrapOptionsFromConfig());
    return sync::Bootstrap(options, *sync_repo, *kafka_probe).status();
  }

  // Merges the configured peer's snapshot when the log was truncated under this shard (the
  // consumer calls it, on its own thread).
  absl::Status RecoverFromPeer() {
    COFFER_ASSIGN_OR_RETURN(sync::BootstrapOptions options, BootstrapOptionsFromConfig());
    return sync::RecoverFromPeer(options, *sync_repo, *kafka_probe);
  }

  absl::StatusOr<sync::BootstrapOptions> BootstrapOptionsFromConfig() const {
    sync::BootstrapOptions options;
    options.shard_id = config.shard_id;
    options.topic = config.kafka_topic;
    options.mode = config.bootstrap_mode == "snapshot" ? sync::BootstrapMode::kSnapshot
                                                       : sync::BootstrapMode::kAuto;
    if (!config.bootstrap_peer.empty()) {
      std::ifstream in(config.bootstrap_token_file);
      std::string token;
      in >> token;  // the token itself has no whitespace; trailing newlines are dropped
      if (token.empty()) {
        return absl::InvalidArgumentError("--bootstrap-token-file: cannot read a token from it");
      }
      options.token = std::move(token);
      grpcx::ChannelOptions channel_options;
      channel_options.tls.use_tls = !config.bootstrap_peer_ca_file.empty();
      channel_options.tls.ca_file = config.bootstrap_peer_ca_file;
      COFFER_ASSIGN_OR_RETURN(options.peer,
                              grpcx::MakeChannel(config.bootstrap_peer, channel_options));
    }
    return options;
  }

  void FillSyncStatus(v1::GetShardStatusResponse* resp) {
    resp->set_is_relay_leader(relay && relay->is_leader());
    resp->set_is_consumer_leader(consumer && consumer->is_leader());
    if (consumer) resp->set_consumer_stall_reason(consumer->stall_reason());
    absl::StatusOr<std::map<int32_t, int64_t>> stored = sync_repo->LoadOffsets();
    std::map<int32_t, int64_t> offsets = stored.ok() ? *stored : std::map<int32_t, int64_t>{};
    bool reachable = false;
    if (kafka_probe) {
      absl::StatusOr<int> n =
          kafka_probe->PartitionCount(config.kafka_topic, std::chrono::seconds(2));
      if (n.ok()) {
        reachable = true;
        for (int32_t p = 0; p < *n; ++p) offsets.emplace(p, 0);
      }
    }
    for (const auto& [p, next] : offsets) {
      v1::PartitionStatus* ps = resp->add_partitions();
      ps->set_partition(p);
      ps->set_next_offset(next);
      ps->set_high_watermark(-1);
      ps->set_lag(-1);
      if (!reachable) continue;
      absl::StatusOr<kafka::Watermarks> wm = sync::QueryWatermarksBounded(
          kafka_probe->handle(), config.kafka_topic, p, std::chrono::seconds(1));
      if (!wm.ok()) {
        reachable = false;  // do not wait again for every partition
        continue;
      }
      ps->set_high_watermark(wm->high);
      ps->set_lag(std::max<int64_t>(0, wm->high - next));
    }
  }
};

VaultApp::VaultApp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

VaultApp::~VaultApp() { Shutdown(); }

absl::StatusOr<std::unique_ptr<VaultApp>> VaultApp::Create(const VaultConfig& config,
                                                           Overrides overrides) {
  if (overrides.jwks == nullptr) COFFER_RETURN_IF_ERROR(ValidateVaultConfig(config));
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

  postgres::ConnectionPoolConfig pool_config;
  pool_config.dsn = config.db_dsn;
  pool_config.size = config.db_pool_size;
  pool_config.session.statement_timeout = std::chrono::milliseconds(config.db_statement_timeout_ms);
  pool_config.session.idle_in_transaction_timeout =
      std::chrono::milliseconds(config.db_idle_in_transaction_timeout_ms);
  COFFER_ASSIGN_OR_RETURN(a.pool, postgres::ConnectionPool::Create(pool_config));
  a.records = std::make_unique<repository::PgRecordRepository>(*a.pool);
  // Wakes Watch streams and the relay after commits, here and on the other replicas (no NOTIFY
  // inside write transactions: see migrations/V003__notify_off_commit_path.sql).
  a.notifier = std::make_unique<sync::ChangeNotifier>(config.db_dsn, std::chrono::milliseconds(2),
                                                      pool_config.session);
  sync::ChangeNotifier* notifier = a.notifier.get();
  a.records->SetCommitHook([notifier](const std::string& space) { notifier->Publish(space); });
  a.spaces = std::make_unique<repository::PgSpaceRepository>(*a.pool);
  a.spaces->SetCommitHook([notifier](const std::string& space) { notifier->Publish(space); });
  a.cipher = std::make_unique<service::RecordCipher>(*a.keyring);
  a.hlc = std::make_unique<domain::Hlc>();
  a.access = std::make_unique<service::SpaceAccess>(*a.spaces, NowMs);
  service::RecordServiceConfig service_config;
  service_config.shard_id = config.shard_id;
  service_config.history_keep = config.history_retention;
  // With tombstone GC, writes wait until this shard counts in every shard's GC horizon.
  const bool gc = !config.kafka_bootstrap.empty() && config.tombstone_gc_interval_ms > 0;
  a.gate = std::make_unique<sync::ReplicationGate>(/*open=*/!gc);
  sync::ReplicationGate* gate = a.gate.get();
  service_config.write_gate = [gate] { return gate->CheckWritable(); };
  a.blobs = std::make_unique<repository::PgBlobRepository>(*a.pool);
  repository::PgBlobRepository* blobs = a.blobs.get();
  service_config.check_file_ref = [blobs](const std::string& space_id,
                                          const domain::FilePayload& file) -> absl::Status {
    if (!domain::IsUuid(file.blob_id)) {
      return domain::FieldError("record.file.blob_id", "not a UUID (a blob id from UploadFile)");
    }
    COFFER_ASSIGN_OR_RETURN(std::optional<repository::StoredBlob> blob,
                            blobs->Get(domain::CanonicalUuid(file.blob_id)));
    if (!blob || blob->space_id != space_id) {
      return domain::FieldError("record.file.blob_id",
                                "no uploaded file with this id in the record's space");
    }
    if (file.size != 0 && file.size != static_cast<uint64_t>(blob->size_bytes)) {
      return domain::FieldError("record.file.size_bytes", "differs from the uploaded file's size");
    }
    return absl::OkStatus();
  };
  a.sync_repo = std::make_unique<repository::PgSyncRepository>(*a.pool);
  service::RecordIndexConfig index_config;
  index_config.max_bytes = config.record_index_max_bytes;
  a.record_index = std::make_unique<service::RecordIndex>(index_config, *a.sync_repo, *a.cipher,
                                                          a.registry.get());
  a.record_service = std::make_unique<service::RecordService>(
      service_config, *a.records, *a.access, *a.cipher, *a.hlc, NowMs,
      [] { return domain::UuidV4FromBytes(crypto::RandomBytes(16)); }, a.metrics.get(),
      *a.record_index);

  // Token verification: identity over gRPC, or any JWKS URL; optional introspection.
  std::shared_ptr<grpc::Channel> identity;
  if (!config.identity_addr.empty()) {
    grpcx::ChannelOptions channel_options;
    channel_options.tls.use_tls =
        !config.identity_ca_file.empty() || !config.identity_cert_file.empty();
    channel_options.tls.ca_file = config.identity_ca_file;
    channel_options.tls.cert_file = config.identity_cert_file;
    channel_options.tls.key_file = config.identity_key_file;
    COFFER_ASSIGN_OR_RETURN(identity, grpcx::MakeChannel(config.identity_addr, channel_options));
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
      a.directory.get(), NowMs);
  a.space_grpc = std::make_unique<transport::SpaceGrpcService>(*a.authenticator, *a.space_service);
  a.blobs->SetCommitHook([notifier](const std::string& space) { notifier->Publish(space); });
  a.file_service = std::make_unique<service::FileService>(
      service::FileServiceConfig{config.max_file_bytes, config.max_upload_buffer_bytes,
                                 config.max_upload_buffer_bytes_per_user},
      *a.blobs, *a.access, *a.record_service, *a.keyring, NowMs, a.registry.get());
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
  a.sync_repo->SetCommitHook([notifier](const std::string& space) { notifier->Publish(space); });
  a.sync_metrics = std::make_unique<sync::SyncMetrics>(*a.registry);
  a.feed =
      std::make_unique<service::ChangeFeed>(config.shard_id, *a.sync_repo, *a.access, *a.cipher);
  a.sync_grpc = std::make_unique<transport::SyncGrpcService>(
      *a.authenticator, *a.feed, *a.notifier, std::chrono::milliseconds(config.watch_heartbeat_ms),
      *a.watch_streams);
  if (!config.kafka_bootstrap.empty()) {
    kafka::ClientConfig client;
    client.bootstrap_servers = config.kafka_bootstrap;
    client.client_id = "coffer-vault-" + config.shard_id;
    COFFER_ASSIGN_OR_RETURN(client.properties, KafkaSecurityProperties(config));
    a.event_auth = std::make_unique<sync::EventAuthenticator>(*a.keyring);
    sync::OutboxRelayOptions relay;
    relay.shard_id = config.shard_id;
    relay.topic = config.kafka_topic;
    static_cast<kafka::ClientConfig&>(relay.producer) = client;
    relay.producer.properties["message.timeout.ms"] =
        std::to_string(config.kafka_delivery_timeout_ms);
    // Flush waits a little longer than the messages' own timeout, so it sees their reports.
    relay.delivery_timeout = std::chrono::milliseconds(config.kafka_delivery_timeout_ms + 1000);
    // Markers only matter for tombstone GC, which must be on for every shard alike.
    relay.progress_interval = std::chrono::milliseconds(gc ? config.progress_interval_ms : 0);
    relay.auth = a.event_auth.get();
    a.relay = std::make_unique<sync::OutboxRelay>(
        relay, *a.sync_repo, sync::PgLeadership(config.db_dsn, "coffer.vault.outbox_relay"),
        *a.sync_metrics, notifier);
    sync::ChangeConsumerOptions consumer;
    consumer.shard_id = config.shard_id;
    consumer.topic = config.kafka_topic;
    consumer.history_keep = config.history_retention;
    consumer.gate = gate;
    consumer.auth = a.event_auth.get();
    consumer.max_clock_skew = std::chrono::milliseconds(config.max_clock_skew_ms);
    if (!config.bootstrap_peer.empty()) {
      Impl* app = &a;
      consumer.recover = [app] { return app->RecoverFromPeer(); };
    }
    static_cast<kafka::ClientConfig&>(consumer.consumer) = client;
    // How long a fetch may wait at the broker for new events: the floor of the replication delay
    // on a quiet topic (librdkafka's default is 500 ms). After the copy above, which would reset
    // it.
    consumer.consumer.properties["fetch.wait.max.ms"] = std::to_string(config.kafka_fetch_wait_ms);
    a.consumer = std::make_unique<sync::ChangeConsumer>(
        consumer, *a.sync_repo, sync::PgLeadership(config.db_dsn, "coffer.vault.change_consumer"),
        *a.hlc, *a.sync_metrics);
    if (gc) {
      a.gc = std::make_unique<sync::TombstoneCollector>(
          sync::TombstoneCollectorOptions{
              config.shard_id, std::chrono::milliseconds(config.tombstone_gc_interval_ms),
              std::chrono::milliseconds(config.tombstone_gc_min_age_ms)},
          *a.sync_repo, sync::PgLeadership(config.db_dsn, "coffer.vault.tombstone_gc"),
          *a.sync_metrics);
    }
    kafka::ConsumerConfig probe;
    static_cast<kafka::ClientConfig&>(probe) = client;
    probe.client_id = client.client_id + "-probe";
    COFFER_ASSIGN_OR_RETURN(a.kafka_probe, kafka::Consumer::Create(probe));
  }
  repository::PgRecordRepository* records = a.records.get();
  Impl* self = &a;
  if (a.event_auth) {
    a.dead_letters = std::make_unique<sync::DeadLetters>(
        config.shard_id, *a.sync_repo, *a.sync_repo, *a.event_auth, config.history_retention);
  }
  a.admin_grpc = std::make_unique<transport::AdminGrpcService>(
      *a.authenticator, *a.record_service,
      transport::ShardStatusSource{
          config.shard_id, std::string(version::Version()),
          [records] {
            auto backlog = records->OutboxBacklog();
            return backlog.ok() ? *backlog : int64_t{-1};
          },
          [self](v1::GetShardStatusResponse* resp) { self->FillSyncStatus(resp); },
          [self](const std::function<bool(const v1::ExportSnapshotResponse&)>& write) {
            return self->ExportSnapshot(write);
          },
          [self](const std::string& space_id) {
            return self->space_service->MembershipDigest(space_id);
          }},
      a.dead_letters.get());

  grpcx::GrpcServerOptions server_options;
  server_options.address = config.grpc_addr;
  server_options.tls_cert_file = config.tls_cert_file;
  server_options.tls_key_file = config.tls_key_file;
  server_options.tls_client_ca_file = config.tls_client_ca_file;
  server_options.shutdown_grace = std::chrono::milliseconds(config.shutdown_grace_ms);
  server_options.max_threads = config.grpc_max_threads;
  server_options.max_concurrent_streams = config.grpc_max_concurrent_streams;
  server_options.keepalive_time = std::chrono::milliseconds(config.grpc_keepalive_time_ms);
  server_options.keepalive_timeout = std::chrono::milliseconds(config.grpc_keepalive_timeout_ms);
  server_options.min_client_ping_interval =
      std::chrono::milliseconds(config.grpc_min_client_ping_interval_ms);
  server_options.max_connection_idle =
      std::chrono::milliseconds(config.grpc_max_connection_idle_ms);
  server_options.max_connection_age = std::chrono::milliseconds(config.grpc_max_connection_age_ms);
  server_options.max_connection_age_grace =
      std::chrono::milliseconds(config.grpc_max_connection_age_grace_ms);
  a.grpc_server = std::make_unique<grpcx::GrpcServer>(server_options);
  a.grpc_server->RegisterService(a.record_grpc.get());
  a.grpc_server->RegisterService(a.space_grpc.get());
  a.grpc_server->RegisterService(a.admin_grpc.get());
  a.grpc_server->RegisterService(a.sync_grpc.get());
  a.grpc_server->RegisterService(a.file_grpc.get());
  a.grpc_server->AddInterceptorFactory(metrics::MakeGrpcMetricsInterceptorFactory(
      std::make_shared<metrics::GrpcServerMetrics>(*a.registry)));

  COFFER_ASSIGN_OR_RETURN(auto admin_addr, SplitHostPort(config.admin_addr, "admin-addr"));
  a.admin_server = std::make_unique<metrics::AdminServer>(
      metrics::AdminServerOptions{admin_addr.first, admin_addr.second}, a.registry);
  postgres::ConnectionPool* pool = a.pool.get();
  // Readiness is what serving this replica's API needs: its database, and (a new shard with
  // tombstone GC only) having joined replication, before which it refuses writes.
  a.admin_server->AddReadinessCheck("database", [pool] { return pool->Ping(); });
  a.admin_server->AddReadinessCheck("replication", [gate] { return gate->CheckWritable(); });
  // Replication health is its own signal (/replicationz, coffer_vault_replication_healthy),
  // never un-readiness: every replica of every shard shares the broker, so a Kafka outage or a
  // stalled consumer as readiness would take the whole service out of its load balancers while
  // each shard's API still works. Operators are alerted instead (helm/README.md "Alerts").
  if (a.kafka_probe) {
    constexpr char kReplicationPath[] = "/replicationz";
    if (a.consumer) {
      // A consumer that refuses to resume (log truncated under it, and no peer to recover from
      // or a recovery that failed): this shard's copy of shared spaces stops following the other
      // shards. The reason is in GetShardStatus and the log.
      sync::ChangeConsumer* consumer = a.consumer.get();
      a.admin_server->AddStatusCheck(kReplicationPath, "consumer", [consumer]() -> absl::Status {
        const std::string reason = consumer->stall_reason();
        if (reason.empty()) return absl::OkStatus();
        return absl::UnavailableError("change consumer stalled: " + reason);
      });
    }
    kafka::Consumer* probe = a.kafka_probe.get();
    std::string topic = config.kafka_topic;
    a.admin_server->AddStatusCheck(kReplicationPath, "kafka", [probe, topic]() -> absl::Status {
      absl::StatusOr<int> n = probe->PartitionCount(topic, std::chrono::seconds(2));
      return n.ok() ? absl::OkStatus() : n.status();
    });
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

absl::Status VaultApp::Start() {
  Impl& a = *impl_;
  COFFER_ASSIGN_OR_RETURN(postgres::MigrationResult migrated,
                          postgres::ApplyMigrations(*a.pool, VaultMigrations()));
  log::Info("vault migrations applied",
            {{"applied", static_cast<int64_t>(migrated.applied.size())},
             {"already_applied", static_cast<int64_t>(migrated.already_applied)}});
  // Fail fast on a misconfigured issuer, but do not refuse to start while identity is down:
  // the verifier fetches again on the first token.
  if (absl::Status keys = a.verifier->RefreshKeys(); !keys.ok()) {
    log::Warn("could not fetch token signing keys yet", {{"status", keys}});
  }
  COFFER_RETURN_IF_ERROR(status::Annotate(a.BootstrapIfEmpty(), "bootstrap"));
  a.notifier->Start();
  if (a.relay) a.relay->Start();
  if (a.consumer) a.consumer->Start();
  if (a.gc) a.gc->Start();
  COFFER_ASSIGN_OR_RETURN(a.grpc_port, a.grpc_server->Start());
  COFFER_ASSIGN_OR_RETURN(a.admin_port, a.admin_server->Start());
  if (!a.config.rest_addr.empty()) {
    // The gateway calls the gRPC handlers through an in-process channel, so REST requests pass
    // the same interceptors (metrics) and the same token verification as gRPC ones.
    COFFER_ASSIGN_OR_RETURN(auto rest_addr, SplitHostPort(a.config.rest_addr, "rest-addr"));
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
