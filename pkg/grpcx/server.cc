#include "pkg/grpcx/server.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/impl/server_initializer.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include "pkg/grpcx/health_service.h"
#include "pkg/log/log.h"

namespace coffer::grpcx {
namespace {

// Reflection is a process-wide switch in gRPC; turn it on once. gRPC's own health service stays
// off (health_service.h says why); HealthService is registered instead.
void EnableReflection() {
  static std::once_flag once;
  std::call_once(once, [] { grpc::reflection::InitProtoReflectionServerBuilderPlugin(); });
}

// The health service only answers for service names it was told about. gRPC keeps the names of
// registered services private, but hands them to builder plugins (the reflection plugin learns
// them the same way), so a tiny plugin records them for GrpcServer.
class ServiceNamesPlugin : public grpc::ServerBuilderPlugin {
 public:
  explicit ServiceNamesPlugin(std::vector<std::string>* names) : names_(names) {}
  std::string name() override { return "coffer_service_names"; }
  void InitServer(grpc::ServerInitializer* si) override { *names_ = *si->GetServiceList(); }
  // Called after Server::Start.
  void Finish(grpc::ServerInitializer* si) override { *names_ = *si->GetServiceList(); }
  void ChangeArguments(const std::string& /*name*/, void* /*value*/) override {}

 private:
  std::vector<std::string>* names_;
};

class ServiceNamesOption : public grpc::ServerBuilderOption {
 public:
  explicit ServiceNamesOption(std::vector<std::string>* names) : names_(names) {}
  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->push_back(std::make_unique<ServiceNamesPlugin>(names_));
  }

 private:
  std::vector<std::string>* names_;
};

bool IsRequestIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string message = "cannot read " + path + ": " + std::strerror(err);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::NotFoundError(message);
  }
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::vector<std::pair<std::string, int>> ServerChannelArguments(const GrpcServerOptions& options) {
  auto ms = [](std::chrono::milliseconds d) {
    return static_cast<int>(std::min<int64_t>(d.count(), INT_MAX));
  };
  std::vector<std::pair<std::string, int>> args;
  // With SO_REUSEPORT two servers could share a port silently; a clash must fail loudly.
  args.emplace_back(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (options.max_concurrent_streams > 0) {
    args.emplace_back(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  }
  if (options.keepalive_time.count() > 0) {
    args.emplace_back(GRPC_ARG_KEEPALIVE_TIME_MS, ms(options.keepalive_time));
    args.emplace_back(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(options.keepalive_timeout));
    // Also idle connections (no call) are pinged, and client pings on them are accepted.
    args.emplace_back(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // Keep pinging while a call sends nothing (a stalled upload): by default gRPC stops after
    // two pings without data, which would leave a half-open connection undetected.
    args.emplace_back(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  if (options.min_client_ping_interval.count() > 0) {
    args.emplace_back(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                      ms(options.min_client_ping_interval));
  }
  if (options.max_connection_idle.count() > 0) {
    args.emplace_back(GRPC_ARG_MAX_CONNECTION_IDLE_MS, ms(options.max_connection_idle));
  }
  if (options.max_connection_age.count() > 0) {
    args.emplace_back(GRPC_ARG_MAX_CONNECTION_AGE_MS, ms(options.max_connection_age));
    if (options.max_connection_age_grace.count() > 0) {
      args.emplace_back(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, ms(options.max_connection_age_grace));
    }
  }
  return args;
}

absl::Status ValidateServerOptions(const GrpcServerOptions& options) {
  auto fail = [](const std::string& what) {
    return absl::InvalidArgumentError("gRPC server options: " + what);
  };
  if (options.sync_min_idle_threads < 1 ||
      options.sync_max_idle_threads < options.sync_min_idle_threads) {
    return fail("sync idle threads need 1 <= min <= max");
  }
  if (options.max_threads < 0) return fail("max_threads must be >= 0 (0 = unbounded)");
  if (options.max_threads > 0 && options.max_threads <= options.sync_min_idle_threads) {
    return fail("max_threads (" + std::to_string(options.max_threads) +
                ") must exceed sync_min_idle_threads (" +
                std::to_string(options.sync_min_idle_threads) + ")");
  }
  if (options.max_concurrent_streams < 0) return fail("max_concurrent_streams must be >= 0");
  for (const auto& [name, value] :
       {std::pair<const char*, std::chrono::milliseconds>{"keepalive_time", options.keepalive_time},
        {"keepalive_timeout", options.keepalive_timeout},
        {"min_client_ping_interval", options.min_client_ping_interval},
        {"max_connection_idle", options.max_connection_idle},
        {"max_connection_age", options.max_connection_age},
        {"max_connection_age_grace", options.max_connection_age_grace}}) {
    if (value.count() < 0) return fail(std::string(name) + " must be >= 0");
  }
  if (options.keepalive_time.count() > 0 && options.keepalive_timeout.count() < 1) {
    return fail("keepalive_timeout must be > 0 when keepalive_time is set");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const GrpcServerOptions& options) {
  bool has_cert = !options.tls_cert_file.empty();
  bool has_key = !options.tls_key_file.empty();
  bool has_ca = !options.tls_client_ca_file.empty();
  if (!has_cert && !has_key && !has_ca) return grpc::InsecureServerCredentials();
  if (has_cert != has_key) {
    return absl::InvalidArgumentError("TLS needs both a certificate file and a key file");
  }
  if (has_ca && !has_cert) {
    return absl::InvalidArgumentError(
        "mTLS client CA file given without a server certificate and key");
  }
  grpc::SslServerCredentialsOptions ssl(
      has_ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
             : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  absl::StatusOr<std::string> cert = ReadFile(options.tls_cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(options.tls_key_file);
  if (!key.ok()) return key.status();
  pair.cert_chain = *std::move(cert);
  pair.private_key = *std::move(key);
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (has_ca) {
    absl::StatusOr<std::string> ca = ReadFile(options.tls_client_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  return grpc::SslServerCredentials(ssl);
}

GrpcServer::GrpcServer(GrpcServerOptions options)
    : options_(std::move(options)), health_(std::make_unique<HealthService>()) {
  RegisterAsyncService(health_.get(), health_->Hooks());  // Watch on the async API
}

GrpcServer::~GrpcServer() { Shutdown(); }

void GrpcServer::RegisterService(grpc::Service* service) { services_.push_back(service); }

void GrpcServer::RegisterAsyncService(grpc::Service* service, AsyncServiceHooks hooks) {
  auto async = std::make_unique<AsyncService>();
  async->service = service;
  async->hooks = std::move(hooks);
  async_services_.push_back(std::move(async));
}

void GrpcServer::StopAsyncServices(bool drain) {
  for (const std::unique_ptr<AsyncService>& a : async_services_) {
    if (a->cq == nullptr) continue;
    if (drain && a->hooks.drain) a->hooks.drain();
    a->cq->Shutdown();
    if (a->threads.empty()) {
      // Never started: drain the queue here.
      void* tag = nullptr;
      bool ok = false;
      while (a->cq->Next(&tag, &ok)) static_cast<AsyncTag*>(tag)->Proceed(ok);
    }
    for (std::thread& t : a->threads) t.join();
    a->threads.clear();
  }
}

void GrpcServer::AddInterceptorFactory(
    std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> factory) {
  interceptor_factories_.push_back(std::move(factory));
}

absl::StatusOr<int> GrpcServer::Start() {
  if (server_ != nullptr) return absl::FailedPreconditionError("gRPC server already started");
  if (absl::Status valid = ValidateServerOptions(options_); !valid.ok()) return valid;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = MakeServerCredentials(options_);
  if (!creds.ok()) return creds.status();
  EnableReflection();

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(options_.address, *creds, &selected_port);
  for (const auto& [name, value] : ServerChannelArguments(options_)) {
    builder.AddChannelArgument(name, value);
  }
  if (options_.max_threads > 0) {
    grpc::ResourceQuota quota("coffer-grpc-server");
    quota.SetMaxThreads(options_.max_threads);
    builder.SetResourceQuota(quota);
  }
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_message_bytes);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS,
                              options_.sync_min_idle_threads);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              options_.sync_max_idle_threads);
  for (grpc::Service* service : services_) builder.RegisterService(service);
  for (const std::unique_ptr<AsyncService>& a : async_services_) {
    builder.RegisterService(a->service);
    // Not a frequently polled queue: with one, gRPC builds a "hybrid" server whose sync queues do
    // not poll, so these few threads would read every connection and hand each sync call to a
    // sync thread (a wake-up and a switch per call; docs/benchmarks.md). Calls are still matched
    // to this queue, and its Next() wakes when an operation completes. A server needs one polled
    // queue: the sync server's, always there since health Check is a sync method.
    a->cq = builder.AddCompletionQueue(/*is_frequently_polled=*/false);
  }
  builder.SetOption(std::make_unique<ServiceNamesOption>(&service_names_));
  if (!interceptor_factories_.empty()) {
    builder.experimental().SetInterceptorCreators(std::move(interceptor_factories_));
    interceptor_factories_.clear();
  }
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || selected_port == 0) {
    if (server_ != nullptr) server_->Shutdown();
    StopAsyncServices(/*drain=*/false);
    server_.reset();
    return absl::UnavailableError("gRPC server: cannot listen on " + options_.address);
  }
  port_ = selected_port;
  for (const std::unique_ptr<AsyncService>& a : async_services_) {
    for (int i = 0; i < std::max(1, a->hooks.threads); ++i) {
      a->threads.emplace_back([cq = a->cq.get()] {
        void* tag = nullptr;
        bool ok = false;
        while (cq->Next(&tag, &ok)) static_cast<AsyncTag*>(tag)->Proceed(ok);
      });
    }
    if (a->hooks.start) a->hooks.start(a->cq.get());
  }
  // Every registered service answers grpc.health.v1 by its full name, as well as "" (overall).
  for (const std::string& name : service_names_) health_->Set(name, true);
  SetServing(true);
  coffer::log::Logger("grpcx").Info("gRPC server listening",
                                    {{"address", options_.address},
                                     {"port", port_},
                                     {"tls", !options_.tls_cert_file.empty()},
                                     {"mtls", !options_.tls_client_ca_file.empty()}});
  return port_;
}

void GrpcServer::SetServing(bool serving) {
  std::lock_guard<std::mutex> lock(mu_);
  if (server_ == nullptr || shutting_down_) return;
  health_->SetAll(serving);
}

void GrpcServer::SetServiceServing(const std::string& service, bool serving) {
  std::lock_guard<std::mutex> lock(mu_);
  if (server_ == nullptr || shutting_down_) return;
  health_->Set(service, serving);
}

void GrpcServer::Shutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  if (server_ == nullptr) return;
  if (shutting_down_) {
    // Another thread is draining; return when it is done (async queues included), like that
    // caller.
    stopped_cv_.wait(lock, [this] { return stopped_; });
    return;
  }
  // Health first, so watchers and load balancers move traffic away before we stop accepting.
  health_->SetAll(false);
  shutting_down_ = true;
  lock.unlock();
  coffer::log::Logger("grpcx").Info(
      "gRPC server shutting down",
      {{"grace_ms", static_cast<int64_t>(options_.shutdown_grace.count())}});
  // Stops accepting at once, waits for in-flight calls until the deadline, then cancels them.
  server_->Shutdown(std::chrono::system_clock::now() + options_.shutdown_grace);
  // Async calls end through their queues: those run until every call has let go of them.
  StopAsyncServices(/*drain=*/true);
  server_->Wait();
  lock.lock();
  stopped_ = true;
  stopped_cv_.notify_all();
}

void GrpcServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

std::string RequestIdFrom(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("x-request-id");
  if (it != metadata.end()) {
    std::string id(it->second.data(), it->second.size());
    bool sane = !id.empty() && id.size() <= 128;
    for (char c : id) sane = sane && IsRequestIdChar(c);
    if (sane) return id;
  }
  return coffer::log::NewRequestId();
}

}  // namespace coffer::grpcx
