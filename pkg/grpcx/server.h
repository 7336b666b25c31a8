// gRPC server bootstrap shared by every Coffer service.
//
// Why: each service needs the same listener setup — TLS or mTLS from files, message limits,
// the standard grpc.health.v1 service and reflection (so grpcurl and load balancers work),
// interceptors (metrics), and a graceful shutdown that first reports NOT_SERVING, then stops
// accepting, drains in-flight calls up to a grace deadline and only then cancels the rest.
//
// Usage (main.cc):
//   coffer::grpcx::GrpcServer server({.address = cfg.grpc_address, .tls_cert_file = ...});
//   server.RegisterService(&vault_grpc_service);
//   server.AddInterceptorFactory(coffer::metrics::MakeGrpcMetricsInterceptorFactory(m));
//   COFFER_ASSIGN_OR_RETURN(int port, server.Start());
//   coffer::grpcx::WaitForShutdownSignal();
//   server.Shutdown();
//
// Lifecycle: configure (RegisterService, AddInterceptorFactory) -> Start() once -> Shutdown()
// (also run by the destructor). Registered services are not owned and must outlive the server.
// Threading: configuration and Start() on one thread; SetServing(), Shutdown() and Wait() are
// thread-safe.
#pragma once

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/server_interceptor.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace coffer::grpcx {

struct GrpcServerOptions {
  // host:port to listen on; port 0 picks a free port (Start() returns it).
  std::string address = "0.0.0.0:50051";
  // PEM files. TLS when cert and key are set; mTLS (client certificate required and verified
  // against this CA) when tls_client_ca_file is set too. Plaintext when all are empty.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // How long Shutdown() lets in-flight calls finish before cancelling them.
  std::chrono::milliseconds shutdown_grace{10000};
  // Largest request or response message accepted or sent.
  int max_message_bytes = 16 * 1024 * 1024;
  // Threads of the sync API that stay parked on the completion queue between calls. Each sync
  // call occupies a thread for its whole duration (a vault call waits on PostgreSQL); gRPC's
  // default of at most 2 idle threads makes every finished call's thread exit and every new call
  // spawn one, a thread created and destroyed per call under concurrency (docs/benchmarks.md:
  // ~18 % of a loaded vault's CPU in the kernel). Keep this near the expected concurrency.
  int sync_min_idle_threads = 2;
  int sync_max_idle_threads = 64;

  // ---- Bounds (security audit H5; README "Limits"). 0 turns a bound off. ----
  // Most threads the sync server may run (grpc::ResourceQuota::SetMaxThreads). Each running sync
  // call holds one, so at most max_threads - 1 calls run at once; a call beyond that is answered
  // RESOURCE_EXHAUSTED at once (gRPC never queues it). Must exceed sync_min_idle_threads.
  int max_threads = 1024;
  // Calls one client connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS);
  // a client queues further calls on that connection until one ends.
  int max_concurrent_streams = 128;
  // The server pings a connection after keepalive_time without activity (also while it has no
  // call) and closes it when the ping is not acknowledged within keepalive_timeout: the calls
  // of a client that vanished (half-open TCP) end, and their threads are freed.
  std::chrono::milliseconds keepalive_time{60000};
  std::chrono::milliseconds keepalive_timeout{20000};
  // Pings a client may send without data at most this often; a client pinging more often is
  // sent GOAWAY (too_many_pings) after two strikes. Client keepalives at this interval or longer
  // are always accepted, with or without calls.
  std::chrono::milliseconds min_client_ping_interval{10000};
  // A connection without any call for this long is closed (GOAWAY; a client reconnects on its
  // next call). Connections with a call open (a Watch stream) are never idle.
  std::chrono::milliseconds max_connection_idle{600000};
  // A connection older than this (+/-10 % jitter) gets GOAWAY: new calls go to a new connection
  // (spreads clients over replicas). Calls still open then get max_connection_age_grace to end,
  // and are cancelled after it; grace 0 = wait for them forever. Off by default: the CLI's and
  // other clients' Watch streams do not reconnect by themselves.
  std::chrono::milliseconds max_connection_age{0};
  std::chrono::milliseconds max_connection_age_grace{0};
};

// The gRPC channel arguments GrpcServer::Start() sets from the bounds above (name -> value),
// exposed for tests and for logging.
std::vector<std::pair<std::string, int>> ServerChannelArguments(const GrpcServerOptions& options);

// INVALID_ARGUMENT naming the field when an option is out of range (negative durations, or
// max_threads not above sync_min_idle_threads: gRPC would abort the process at start).
absl::Status ValidateServerOptions(const GrpcServerOptions& options);

// Reads a whole file (certificates, keys). NOT_FOUND / PERMISSION_DENIED name the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Server credentials from the TLS fields of `options` (insecure when none are set).
// INVALID_ARGUMENT for half-configured TLS (cert without key, CA without cert).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const GrpcServerOptions& options);

class HealthService;

// One pending operation of an async-API call (the tag given to gRPC with it): the server's queue
// threads call Proceed(ok) when it completes. Its owner keeps it alive until then.
class AsyncTag {
 public:
  explicit AsyncTag(std::function<void(bool ok)> on_event) : on_event_(std::move(on_event)) {}
  void Proceed(bool ok) const { on_event_(ok); }

 private:
  std::function<void(bool ok)> on_event_;
};

// How GrpcServer runs an async-API service (RegisterAsyncService).
struct AsyncServiceHooks {
  // Threads that take events off the service's completion queue (AsyncTag::Proceed runs on them:
  // it must not block).
  int threads = 2;
  // Once the server has started: requests the first calls on `cq` (tags are AsyncTag*).
  std::function<void(grpc::ServerCompletionQueue* cq)> start;
  // At shutdown, once the server stopped accepting and cancelled the calls still open after the
  // grace period: returns when no call of the service has an operation pending (the queue
  // threads keep running meanwhile). The queue is shut down after it.
  std::function<void()> drain;
};

class GrpcServer {
 public:
  explicit GrpcServer(GrpcServerOptions options);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Adds a sync service. Not owned; must outlive the server. Before Start(). (No callback-API
  // services: see health_service.h for what gRPC's callback fallback costs every call.)
  void RegisterService(grpc::Service* service);
  // Adds a service with async-API methods (its other methods stay sync), run on a completion
  // queue of its own as `hooks` say. Not owned; must outlive the server. Before Start().
  void RegisterAsyncService(grpc::Service* service, AsyncServiceHooks hooks);
  // Adds a server interceptor factory (e.g. metrics). Before Start(); run in the order added.
  void AddInterceptorFactory(
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> factory);

  // Builds and starts the server with health and reflection. Returns the bound port;
  // INVALID_ARGUMENT for options out of range (ValidateServerOptions), INVALID_ARGUMENT /
  // NOT_FOUND for bad TLS files, UNAVAILABLE when the address cannot be bound
  // (SO_REUSEPORT is off, so a port already in use is an error), FAILED_PRECONDITION if started.
  absl::StatusOr<int> Start();

  // Overall health (service "") and every registered service's health, as reported by
  // grpc.health.v1. SERVING right after Start(). Ignored after Shutdown() began.
  void SetServing(bool serving);
  // Health of one service by full name, e.g. "coffer.vault.v1.VaultService".
  void SetServiceServing(const std::string& service, bool serving);

  // Graceful stop: health NOT_SERVING, stop accepting new calls, wait for in-flight calls up to
  // shutdown_grace, then cancel what remains. Blocks until done. Idempotent; safe before Start().
  void Shutdown();

  // Blocks until the server has shut down.
  void Wait();

  // The bound port after Start(), else 0.
  int port() const { return port_; }

  // The underlying server, for in-process channels in tests. Null before Start().
  grpc::Server* server() { return server_.get(); }

 private:
  struct AsyncService {
    grpc::Service* service = nullptr;
    AsyncServiceHooks hooks;
    std::unique_ptr<grpc::ServerCompletionQueue> cq;
    std::vector<std::thread> threads;
  };
  // Shuts the async services' queues down and joins their threads (after the server stopped).
  void StopAsyncServices(bool drain);

  GrpcServerOptions options_;
  std::unique_ptr<HealthService> health_;
  std::vector<grpc::Service*> services_;
  std::vector<std::unique_ptr<AsyncService>> async_services_;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptor_factories_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::string> service_names_;  // filled while building the server
  int port_ = 0;
  std::mutex mu_;
  bool shutting_down_ = false;  // guarded by mu_
  bool stopped_ = false;        // guarded by mu_: Shutdown() has finished
  std::condition_variable stopped_cv_;
};

// Request id for logs from the caller's "x-request-id" metadata when it is sane (1..128 chars of
// [A-Za-z0-9._-]), otherwise a new one. Use: log::ScopedRequestId rid(RequestIdFrom(*context));
std::string RequestIdFrom(const grpc::ServerContextBase& context);

}  // namespace coffer::grpcx
