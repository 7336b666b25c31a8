#include "services/identity/app/identity_app.h"

#include <algorithm>

#include "absl/time/time.h"
#include "pkg/crypto/random.h"
#include "pkg/log/log.h"
#include "pkg/metrics/build_info.h"
#include "pkg/metrics/grpc_server_metrics.h"
#include "pkg/postgres/dsn.h"
#include "pkg/postgres/migrations.h"
#include "pkg/status/status.h"

namespace coffer::identity {
namespace {

const log::Logger& Log() {
  static const log::Logger logger("app");
  return logger;
}

}  // namespace

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
  clock_ = &clock;
  const IdentityServiceConfig service_config = ToServiceConfig(config);

  COFFER_ASSIGN_OR_RETURN(std::string kek_spec, LoadKekSpec(config));
  auto keyring = crypto::Keyring::Parse(kek_spec);
  if (!keyring.ok()) return status::Annotate(keyring.status(), "parsing the KEK");
  keyring_ = std::make_unique<crypto::Keyring>(*std::move(keyring));

  postgres::ConnectionPoolConfig pool_config;
  pool_config.dsn = config.db_dsn;
  pool_config.size = config.db_pool_size;
  COFFER_ASSIGN_OR_RETURN(pool_, postgres::ConnectionPool::Create(pool_config));
  auto migrated = postgres::ApplyMigrations(*pool_, IdentityMigrations());
  if (!migrated.ok()) return status::Annotate(migrated.status(), "applying migrations");
  Log().Info("migrations applied",
             {{"applied", static_cast<int64_t>(migrated->applied.size())},
              {"already_applied", static_cast<int64_t>(migrated->already_applied)}});

  users_ = std::make_unique<PgUserRepository>(*pool_);
  accounts_ = std::make_unique<PgServiceAccountRepository>(*pool_);
  sessions_ = std::make_unique<PgSessionRepository>(*pool_);
  signing_keys_ = std::make_unique<PgSigningKeyRepository>(*pool_);

  registry_ = std::make_shared<prometheus::Registry>();
  metrics::RegisterBuildInfo(*registry_, "identity");
  metrics_ = std::make_unique<IdentityMetrics>(*registry_);

  KeySchedule schedule;
  schedule.rotation_interval = config.key_rotation_interval;
  // A superseded key may still have signed tokens for one reload interval (other replicas learn
  // of the new key that late); those tokens live access_token_ttl; allow clock leeway on top.
  schedule.retention = config.access_token_ttl + config.key_reload_interval + config.clock_leeway +
                       std::chrono::seconds(60);
  // A rotated key is published this long before it signs: replicas load it within one reload
  // interval, and verifiers (vaults) that fetched the JWKS meanwhile know it before its first
  // token (README "Signing keys").
  schedule.prepublication = config.key_prepublication;
  // Replicas load keys every key_reload_interval, checked by the maintenance loop (at most
  // every 10 s), so a replica may learn of a new key that much later.
  const auto worst_load_lag =
      config.key_reload_interval +
      std::min<std::chrono::seconds>(config.key_reload_interval, std::chrono::seconds(10));
  if (config.key_prepublication.count() > 0 && config.key_prepublication <= worst_load_lag) {
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
  purge_retention_ = config.clock_leeway + std::chrono::minutes(5);

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

  COFFER_ASSIGN_OR_RETURN(auto admin_addr, SplitHostPort(config.admin_addr));
  admin_server_ = std::make_unique<metrics::AdminServer>(
      metrics::AdminServerOptions{admin_addr.first, admin_addr.second}, registry_);
  postgres::ConnectionPool* pool = pool_.get();
  admin_server_->AddReadinessCheck("database", [pool] { return pool->Ping(); });
  COFFER_ASSIGN_OR_RETURN(admin_port_, admin_server_->Start());

  if (!config.http_addr.empty()) {
    COFFER_ASSIGN_OR_RETURN(auto http_addr, SplitHostPort(config.http_addr));
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
    COFFER_ASSIGN_OR_RETURN(auto rest_addr, SplitHostPort(config.rest_addr));
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

  const auto period =
      std::min<std::chrono::seconds>(config.key_reload_interval, std::chrono::seconds(10));
  maintenance_ = std::thread([this, period] { MaintenanceLoop(period); });

  Log().Info("identity service started", {{"grpc_port", grpc_port_},
                                          {"admin_port", admin_port_},
                                          {"http_port", http_port_},
                                          {"rest_port", rest_port_},
                                          {"issuer", config.issuer},
                                          {"db", postgres::RedactDsn(config.db_dsn)}});
  return absl::OkStatus();
}

void IdentityApp::MaintenanceLoop(std::chrono::seconds period) {
  auto last_purge = std::chrono::steady_clock::time_point{};
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, period, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (absl::Status s = keys_->Tick(); !s.ok()) {
      Log().Warn("signing key maintenance failed", {{"status", s}});
    }
    const auto steady_now = std::chrono::steady_clock::now();
    if (steady_now - last_purge >= std::chrono::minutes(10)) {
      last_purge = steady_now;
      const auto cutoff = absl::ToChronoTime(clock_->Now()) - purge_retention_;
      if (absl::Status s = sessions_->PurgeExpired(cutoff); !s.ok()) {
        Log().Warn("purging expired tokens failed", {{"status", s}});
      }
    }
    lock.lock();
  }
}

void IdentityApp::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
  if (rest_server_) rest_server_->Stop();  // First: it feeds the gRPC server.
  if (grpc_server_) grpc_server_->Shutdown();
  if (http_server_) http_server_->Stop();
  if (admin_server_) admin_server_->Stop();
}

IdentityApp::~IdentityApp() { Shutdown(); }

}  // namespace coffer::identity
