#include "pkg/grpcx/server.h"

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/sync_stream.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcx_test.grpc.pb.h"
#include "pkg/grpcx/channel.h"
#include "pkg/metrics/grpc_server_metrics.h"
#include "tests/unit/pkg/grpcx/test_certs.h"

namespace coffer::grpcx {
namespace {

namespace pb = ::coffer::test::grpcx;
using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kEchoMethod[] = "/coffer.test.grpcx.Echo/Echo";

class EchoService final : public pb::Echo::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* context, const pb::EchoRequest* request,
                    pb::EchoResponse* response) override {
    entered_.fetch_add(1);
    if (request->delay_ms() > 0) std::this_thread::sleep_for(request->delay_ms() * 1ms);
    if (request->wait_for_cancel()) {
      // Longer than CallEcho's 20 s deadline: only a cancellation ends the wait early.
      auto give_up = std::chrono::steady_clock::now() + 60s;
      while (!context->IsCancelled() && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(5ms);
      }
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    if (request->fail_code() != 0) {
      return grpc::Status(static_cast<grpc::StatusCode>(request->fail_code()), "asked to fail");
    }
    response->set_message(request->message());
    response->set_request_id(RequestIdFrom(*context));
    return grpc::Status::OK;
  }

  // Waits (at most 60 s) until `n` calls have reached the handler; false on timeout.
  bool WaitEntered(int n) {
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (entered_.load() < n) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

 private:
  std::atomic<int> entered_{0};
};

std::shared_ptr<grpc::Channel> Loopback(int port) {
  auto channel = MakeChannel("127.0.0.1:" + std::to_string(port));
  EXPECT_TRUE(channel.ok()) << channel.status();
  return *channel;
}

// grpc.health.v1 Check; returns the status, or UNKNOWN with `rpc` set on RPC failure.
HealthCheckResponse::ServingStatus CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                               const std::string& service,
                                               grpc::Status* rpc = nullptr) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  grpc::Status status = Health::NewStub(channel)->Check(&context, request, &response);
  if (rpc != nullptr) *rpc = status;
  return status.ok() ? response.status() : HealthCheckResponse::UNKNOWN;
}

grpc::Status CallEcho(const std::shared_ptr<grpc::Channel>& channel, const pb::EchoRequest& request,
                      pb::EchoResponse* response = nullptr, const std::string& request_id = "") {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 20s);
  if (!request_id.empty()) context.AddMetadata("x-request-id", request_id);
  pb::EchoResponse ignored;
  return pb::Echo::NewStub(channel)->Echo(&context, request,
                                          response != nullptr ? response : &ignored);
}

class GrpcServerTest : public ::testing::Test {
 protected:
  // Starts a server on an ephemeral loopback port with the echo service.
  std::unique_ptr<GrpcServer> Start(GrpcServerOptions options = {}) {
    options.address = "127.0.0.1:0";
    auto server = std::make_unique<GrpcServer>(std::move(options));
    server->RegisterService(&echo_);
    absl::StatusOr<int> port = server->Start();
    EXPECT_TRUE(port.ok()) << port.status();
    EXPECT_GT(port.value_or(0), 0);
    EXPECT_EQ(server->port(), port.value_or(-1));
    return server;
  }

  EchoService echo_;
};

TEST_F(GrpcServerTest, StartsOnEphemeralPortAndReportsServing) {
  auto server = Start();
  auto channel = Loopback(server->port());
  EXPECT_EQ(CheckHealth(channel, ""), HealthCheckResponse::SERVING);
  EXPECT_EQ(CheckHealth(channel, "coffer.test.grpcx.Echo"), HealthCheckResponse::SERVING);
  grpc::Status rpc;
  CheckHealth(channel, "no.such.Service", &rpc);
  EXPECT_EQ(rpc.error_code(), grpc::StatusCode::NOT_FOUND);

  pb::EchoRequest request;
  request.set_message("hi");
  pb::EchoResponse response;
  ASSERT_TRUE(CallEcho(channel, request, &response).ok());
  EXPECT_EQ(response.message(), "hi");
}

TEST_F(GrpcServerTest, SetServingTogglesHealth) {
  auto server = Start();
  auto channel = Loopback(server->port());
  server->SetServing(false);
  EXPECT_EQ(CheckHealth(channel, ""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(CheckHealth(channel, "coffer.test.grpcx.Echo"), HealthCheckResponse::NOT_SERVING);
  server->SetServing(true);
  server->SetServiceServing("coffer.test.grpcx.Echo", false);
  EXPECT_EQ(CheckHealth(channel, ""), HealthCheckResponse::SERVING);
  EXPECT_EQ(CheckHealth(channel, "coffer.test.grpcx.Echo"), HealthCheckResponse::NOT_SERVING);
}

TEST_F(GrpcServerTest, ShutdownReportsNotServingToWatchersFirst) {
  auto server = Start({.shutdown_grace = 300ms});
  auto channel = Loopback(server->port());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 60s);
  auto watch = Health::NewStub(channel)->Watch(&context, HealthCheckRequest());
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  std::thread stopper([&] { server->Shutdown(); });
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  // The watch is an in-flight call: it is cancelled once the grace period is over.
  while (watch->Read(&response)) EXPECT_NE(response.status(), HealthCheckResponse::SERVING);
  EXPECT_FALSE(watch->Finish().ok());
  stopper.join();
  // Nothing is served any more.
  grpc::Status rpc;
  CheckHealth(Loopback(server->port()), "", &rpc);
  EXPECT_FALSE(rpc.ok());
}

TEST_F(GrpcServerTest, ShutdownDrainsInFlightCalls) {
  auto server = Start({.shutdown_grace = 60s});
  auto channel = Loopback(server->port());
  grpc::Status in_flight;
  pb::EchoResponse response;
  std::thread caller([&] {
    pb::EchoRequest request;
    request.set_message("slow");
    request.set_delay_ms(500);
    in_flight = CallEcho(channel, request, &response);
  });
  EXPECT_TRUE(echo_.WaitEntered(1)) << "the call never reached the handler";
  auto start = std::chrono::steady_clock::now();
  server->Shutdown();
  auto took = std::chrono::steady_clock::now() - start;
  caller.join();
  EXPECT_TRUE(in_flight.ok()) << in_flight.error_message();
  EXPECT_EQ(response.message(), "slow");
  // Returned when the call finished (500 ms), not at the 60 s grace deadline.
  EXPECT_LT(took, 30s);
}

TEST_F(GrpcServerTest, ShutdownCancelsCallsPastGrace) {
  auto server = Start({.shutdown_grace = 200ms});
  auto channel = Loopback(server->port());
  grpc::Status in_flight;
  std::thread caller([&] {
    pb::EchoRequest request;
    request.set_wait_for_cancel(true);
    in_flight = CallEcho(channel, request);
  });
  EXPECT_TRUE(echo_.WaitEntered(1)) << "the call never reached the handler";
  auto start = std::chrono::steady_clock::now();
  server->Shutdown();
  auto took = std::chrono::steady_clock::now() - start;
  caller.join();
  EXPECT_FALSE(in_flight.ok());
  EXPECT_GE(took, 150ms);  // the running call had (most of) its 200 ms grace period
  // Cancelled at the grace deadline: without that, the handler would have waited for the call's
  // own 20 s deadline.
  EXPECT_LT(took, 15s);
  server->Shutdown();  // idempotent
}

TEST_F(GrpcServerTest, ReflectionListsServices) {
  auto server = Start();
  auto channel = Loopback(server->port());
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  const auto* request_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionRequest");
  const auto* response_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionResponse");
  ASSERT_NE(request_type, nullptr);
  ASSERT_NE(response_type, nullptr);
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  std::unique_ptr<google::protobuf::Message> request(factory->GetPrototype(request_type)->New());
  request->GetReflection()->SetString(request.get(), request_type->FindFieldByName("list_services"),
                                      "");
  std::string bytes = request->SerializeAsString();

  // The reflection stub is not installed by Debian, so call the bidi method with raw bytes.
  grpc::internal::RpcMethod method("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                   grpc::internal::RpcMethod::BIDI_STREAMING, channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel.get(), method, &context));
  grpc::Slice slice(bytes);
  ASSERT_TRUE(stream->Write(grpc::ByteBuffer(&slice, 1)));
  stream->WritesDone();
  grpc::ByteBuffer reply;
  ASSERT_TRUE(stream->Read(&reply));
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string reply_bytes;
  for (const grpc::Slice& s : slices) reply_bytes.append(s.begin(), s.end());
  std::unique_ptr<google::protobuf::Message> response(factory->GetPrototype(response_type)->New());
  ASSERT_TRUE(response->ParseFromString(reply_bytes));
  std::string listed = response->ShortDebugString();
  EXPECT_THAT(listed, HasSubstr("\"coffer.test.grpcx.Echo\""));
  EXPECT_THAT(listed, HasSubstr("\"grpc.health.v1.Health\""));
  EXPECT_THAT(listed, HasSubstr("\"grpc.reflection.v1alpha.ServerReflection\""));
  EXPECT_TRUE(stream->Finish().ok());
}

// Value of the series `name{...}` whose labels include all of `labels`, or -1.
double SeriesValue(const std::string& text, const std::string& name,
                   const std::vector<std::string>& labels) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + "{", 0) != 0) continue;
    bool all = true;
    for (const std::string& l : labels) all = all && line.find(l) != std::string::npos;
    if (all) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

TEST_F(GrpcServerTest, MetricsInterceptorCountsCallsByMethodAndCode) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto metrics = std::make_shared<coffer::metrics::GrpcServerMetrics>(*registry);
  GrpcServer server({.address = "127.0.0.1:0"});
  server.RegisterService(&echo_);
  server.AddInterceptorFactory(coffer::metrics::MakeGrpcMetricsInterceptorFactory(metrics));
  ASSERT_TRUE(server.Start().ok());
  auto channel = Loopback(server.port());

  pb::EchoRequest ok;
  ok.set_message("user-42");  // request content must never become a label
  pb::EchoRequest fail;
  fail.set_fail_code(static_cast<int>(grpc::StatusCode::NOT_FOUND));
  ASSERT_TRUE(CallEcho(channel, ok).ok());
  ASSERT_TRUE(CallEcho(channel, ok).ok());
  ASSERT_EQ(CallEcho(channel, fail).error_code(), grpc::StatusCode::NOT_FOUND);

  std::string text = prometheus::TextSerializer().Serialize(registry->Collect());
  const std::string method = std::string("method=\"") + kEchoMethod + "\"";
  EXPECT_EQ(SeriesValue(text, "coffer_grpc_server_requests_total", {method, "code=\"OK\""}), 2)
      << text;
  EXPECT_EQ(SeriesValue(text, "coffer_grpc_server_requests_total", {method, "code=\"NOT_FOUND\""}),
            1);
  EXPECT_EQ(SeriesValue(text, "coffer_grpc_server_request_duration_seconds_count", {method}), 3);
  EXPECT_EQ(text.find("user-42"), std::string::npos);
  server.Shutdown();
}

TEST_F(GrpcServerTest, RequestIdComesFromMetadataOrIsGenerated) {
  auto server = Start();
  auto channel = Loopback(server->port());
  pb::EchoResponse response;
  ASSERT_TRUE(CallEcho(channel, pb::EchoRequest(), &response, "req-abc.1").ok());
  EXPECT_EQ(response.request_id(), "req-abc.1");
  ASSERT_TRUE(CallEcho(channel, pb::EchoRequest(), &response, "bad id\"{}").ok());
  EXPECT_EQ(response.request_id().size(), 32u);
  ASSERT_TRUE(CallEcho(channel, pb::EchoRequest(), &response).ok());
  EXPECT_EQ(response.request_id().size(), 32u);
}

TEST_F(GrpcServerTest, PortInUseIsAnError) {
  auto first = Start();
  GrpcServer second({.address = "127.0.0.1:" + std::to_string(first->port())});
  absl::StatusOr<int> port = second.Start();
  EXPECT_EQ(port.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(port.status().message()), HasSubstr("cannot listen"));
}

TEST_F(GrpcServerTest, StartTwiceIsAnError) {
  auto server = Start();
  EXPECT_EQ(server->Start().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ServerCredentials, HalfConfiguredTlsIsRejected) {
  EXPECT_EQ(MakeServerCredentials({.tls_cert_file = "/x.pem"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeServerCredentials({.tls_client_ca_file = "/ca.pem"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto missing = MakeServerCredentials(
      {.tls_cert_file = "/nonexistent/cert.pem", .tls_key_file = "/nonexistent/key.pem"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/nonexistent/cert.pem"));
  EXPECT_EQ(MakeChannel("x:1", {.tls = {.use_tls = true, .cert_file = "/c.pem"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class TlsTest : public GrpcServerTest {
 protected:
  static void SetUpTestSuite() { certs_ = new testutil::TestCerts(testutil::MakeTestCerts()); }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(certs_->dir);
    delete certs_;
  }
  static testutil::TestCerts* certs_;
};
testutil::TestCerts* TlsTest::certs_ = nullptr;

TEST_F(TlsTest, TlsServerAcceptsClientTrustingItsCa) {
  auto server =
      Start({.tls_cert_file = certs_->server_cert_file, .tls_key_file = certs_->server_key_file});
  auto trusted = MakeChannel(
      "127.0.0.1:" + std::to_string(server->port()),
      {.tls = {
           .use_tls = true, .ca_file = certs_->ca_cert_file, .server_name_override = "localhost"}});
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  EXPECT_EQ(CheckHealth(*trusted, ""), HealthCheckResponse::SERVING);

  auto untrusted = MakeChannel("127.0.0.1:" + std::to_string(server->port()),
                               {.tls = {.use_tls = true,
                                        .ca_file = certs_->other_ca_cert_file,
                                        .server_name_override = "localhost"}});
  ASSERT_TRUE(untrusted.ok());
  grpc::Status rpc;
  CheckHealth(*untrusted, "", &rpc);
  EXPECT_EQ(rpc.error_code(), grpc::StatusCode::UNAVAILABLE);
  // A plaintext client cannot talk to a TLS server.
  CheckHealth(Loopback(server->port()), "", &rpc);
  EXPECT_FALSE(rpc.ok());
}

TEST_F(TlsTest, MutualTlsRequiresClientCertificate) {
  auto server = Start({.tls_cert_file = certs_->server_cert_file,
                       .tls_key_file = certs_->server_key_file,
                       .tls_client_ca_file = certs_->ca_cert_file});
  std::string target = "127.0.0.1:" + std::to_string(server->port());
  auto with_cert = MakeChannel(target, {.tls = {.use_tls = true,
                                                .ca_file = certs_->ca_cert_file,
                                                .cert_file = certs_->client_cert_file,
                                                .key_file = certs_->client_key_file,
                                                .server_name_override = "localhost"}});
  ASSERT_TRUE(with_cert.ok()) << with_cert.status();
  EXPECT_EQ(CheckHealth(*with_cert, ""), HealthCheckResponse::SERVING);

  auto without_cert = MakeChannel(target, {.tls = {.use_tls = true,
                                                   .ca_file = certs_->ca_cert_file,
                                                   .server_name_override = "localhost"}});
  ASSERT_TRUE(without_cert.ok());
  grpc::Status rpc;
  CheckHealth(*without_cert, "", &rpc);
  EXPECT_EQ(rpc.error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace coffer::grpcx
