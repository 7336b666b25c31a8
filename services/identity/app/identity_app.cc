#include "services/identity/app/identity_app.h"

#include "pkg/config/host_port.h"
#include "pkg/crypto/random.h"
#include "pkg/log/log.h"
#include "pkg/metrics/build_info.h"
#include "pkg/metrics/grpc_server_metrics.h"
#include "pkg/postgres/dsn.h"
#include "pkg/postgres/migrations.h"
#include "pkg/postgres/schema_setup.h"
#include "pkg/status/status.h"
#include "services/identity/domain/key_schedule.h"

namespace coffer::identity {
namespace {

const log::Logger& Log() {
  static const log::Logger logger("app");
  return logger;
}

// Identity's schema step (pkg/postgres/schema_setup.h) per --migrate and the DSNs.
postgres::SchemaSetup IdentitySchema(const IdentityConfig& config) {
  postgres::SchemaSetup setup;
  setup.binary = "coffer-identity";
  setup.migrations = IdentityMigrations();
  setup.db_dsn = config.db_dsn;
  setup.migration_db_dsn = config.migration_db_dsn;
  setup.logger = Log();
  setup.migrate_only_entry = "MigrateIdentityDatabase";
  return setup;
}

}  // namespace

absl::StatusOr<postgres::MigrationResult> MigrateIdentityDatabase(const IdentityConfig& config) {
  return postgres::MigrateDatabase(IdentitySchema(config));
}

absl::StatusOr<std::unique_ptr<IdentityApp>> IdentityApp::Start(const IdentityConfig& config,
                                                                const auth::Clock& clock) {
  std::unique_ptr<IdentityApp> app(new IdentityApp());
  absl::Status s = app->Init(config, clock);
  if (!s.ok()) {
    app->Shutdown();
    return s;
  }
  return app;
}

absl::Status IdentityApp::Init(const IdentityConfig& config, const auth::Clock& clock) {
  const IdentityServiceConfig service_config = ToServiceConfig(config);

  COFFER_ASSIGN_OR_RETURN(std::string kek_spec, LoadKekSpec(config));
  auto keyring = crypto::Keyring::Parse(kek_spec);
  if (!keyring.ok()) return status::Annotate(keyring.status(), "parsing the KEK");
  keyring_ = std::make_unique<crypto::Keyring>(*std::move(keyring));

  postgres::ConnectionPoolConfig pool_config;
  pool_config.dsn = config.db_dsn;
  pool_config.size = config.db_pool_size;
  COFFER_ASSIGN_OR_RETURN(pool_, postgres::ConnectionPool::Create(pool_config));
  // The schema step per --migrate: auto applies pending migrations (over --migration-db-dsn when
  // set), off only checks that none is pending.
  COFFER_ASSIGN_OR_RETURN(postgres::MigrateMode mode, IdentityMigrateMode(config));
  COFFER_RETURN_IF_ERROR(postgres::PrepareSchema(IdentitySchema(config), mode, *pool_));

  users_ = std::make_unique<PgUserRepository>(*pool_);
  accounts_ = std::make_unique<PgServiceAccountRepository>(*pool_);
  sessions_ = std::make_unique<PgSessionRepository>(*pool_);
  signing_keys_ = std::make_unique<PgSigningKeyRepository>(*pool_);

  registry_ = std::make_shared<prometheus::Registry>();
  metrics::RegisterBuildInfo(*registry_, "identity");
  metrics_ = std::make_unique<IdentityMetrics>(*registry_);

  KeySchedule schedule;
  schedule.rotation_interval = config.key_rotation_interval;
  schedule.retention =
      KeyRetention(config.access_token_ttl, config.key_reload_interval, config.clock_leeway);
  // A rotated key is published this long before it signs (README "Signing keys").
  schedule.prepublication = config.key_prepublication;
  if (PrepublicationTooShort(config.key_prepublication, config.key_reload_interval)) {
    Log().Warn(
        "--key-prepublication is not longer than --key-reload-interval plus the maintenance "
        "period: a replica may sign with a new key before another replica publishes it",
        {{"key_prepublication_seconds", static_cast<int64_t>(config.key_prepublication.count())},
         {"key_reload_interval_seconds",
          static_cast<int64_t>(config.key_reload_interval.count())}});
  }
  keys_ = std::make_unique<SigningKeyManager>(*signing_keys_, *keyring_, clock, schedule,
                                              config.key_reload_interval, metrics_.get());
  COFFER_RETURN_IF_ERROR(status::Annotate(keys_->Init(), "loading signing keys"));

  service_ = std::make_unique<IdentityService>(service_config, *users_, *accounts_, *sessions_,
                                               *keys_, clock, metrics_.get());
  COFFER_RETURN_IF_ERROR(status::Annotate(service_->Bootstrap(), "bootstrapping"));
  maintenance_ = std::make_unique<IdentityMaintenance>(
      *keys_, *sessions_, clock, config.key_reload_interval, config.clock_leeway);

  // The REST gateway's proof that it is this process's gateway (identity_grpc_service.h).
  const std::string gateway_secret = crypto::RandomToken();
  grpc_service_ = std::make_unique<IdentityGrpcService>(*service_, gateway_secret);
  grpcx::GrpcServerOptions grpc_options;
  grpc_options.address = config.grpc_addr;
  grpc_options.tls_cert_file = config.tls_cert_file;
  grpc_options.tls_key_file = config.tls_key_file;
  grpc_options.tls_client_ca_file = config.tls_client_ca_file;
  grpc_options.shutdown_grace = config.shutdown_grace;
  grpc_options.max_message_bytes = 1024 * 1024;
  grpc_server_ = std::make_unique<grpcx::GrpcServer>(grpc_options);
  grpc_server_->RegisterService(grpc_service_.get());
  grpc_server_->AddInterceptorFactory(metrics::MakeGrpcMetricsInterceptorFactory(
      std::make_shared<metrics::GrpcServerMetrics>(*registry_)));
  COFFER_ASSIGN_OR_RETURN(grpc_port_, grpc_server_->Start());

  COFFER_ASSIGN_OR_RETURN(auto admin_addr, config::SplitHostPort(config.admin_addr));
  admin_server_ = std::make_unique<metrics::AdminServer>(
      metrics::AdminServerOptions{admin_addr.first, admin_addr.second}, registry_);
  postgres::ConnectionPool* pool = pool_.get();
  admin_server_->AddReadinessCheck("database", [pool] { return pool->Ping(); });
  COFFER_ASSIGN_OR_RETURN(admin_port_, admin_server_->Start());

  if (!config.http_addr.empty()) {
    COFFER_ASSIGN_OR_RETURN(auto http_addr, config::SplitHostPort(config.http_addr));
    http_server_ = std::make_unique<IdentityHttpServer>(
        *service_, IdentityHttpServerOptions{.host = http_addr.first,
                                             .port = http_addr.second,
                                             .public_base_url = config.public_base_url,
                                             .tls_cert_file = config.tls_cert_file,
                                             .tls_key_file = config.tls_key_file});
    COFFER_ASSIGN_OR_RETURN(http_port_, http_server_->Start());
  }
  if (!config.rest_addr.empty()) {
    // The gateway calls the gRPC handlers through an in-process channel, so REST requests pass the
    // same interceptors (metrics) and the same authentication as gRPC ones.
    COFFER_ASSIGN_OR_RETURN(auto rest_addr, config::SplitHostPort(config.rest_addr));
    grpc::ChannelArguments channel_args;
    COFFER_ASSIGN_OR_RETURN(
        rest_server_,
        restgw::StartRestGateway(
            restgw::RestServerOptions{.host = rest_addr.first,
                                      .port = rest_addr.second,
                                      .tls_cert_file = config.tls_cert_file,
                                      .tls_key_file = config.tls_key_file,
                                      .name = "identity-rest"},
            {"coffer.identity.v1.IdentityService"},
            grpc_server_->server()->InProcessChannel(channel_args),
            restgw::RestGatewayOptions{
                .max_body_bytes = 64 * 1024,
                .extra_metadata = {{std::string(kGatewaySecretMetadata), gateway_secret}},
                .trusted_proxies = config.trusted_forwarders}));
    rest_port_ = rest_server_->port();
  }

  maintenance_->Start();

  Log().Info("identity service started", {{"grpc_port", grpc_port_},
                                          {"admin_port", admin_port_},
                                          {"http_port", http_port_},
                                          {"rest_port", rest_port_},
                                          {"issuer", config.issuer},
                                          {"db", postgres::RedactDsn(config.db_dsn)}});
  return absl::OkStatus();
}

void IdentityApp::Shutdown() {
  if (maintenance_) maintenance_->Stop();
  if (rest_server_) rest_server_->Stop();  // First: it feeds the gRPC server.
  if (grpc_server_) grpc_server_->Shutdown();
  if (http_server_) http_server_->Stop();
  if (admin_server_) admin_server_->Stop();
}

IdentityApp::~IdentityApp() { Shutdown(); }

}  // namespace coffer::identity
