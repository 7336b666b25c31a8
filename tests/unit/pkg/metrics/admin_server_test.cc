#include "pkg/metrics/admin_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "pkg/metrics/build_info.h"
#include "pkg/metrics/grpc_server_metrics.h"
#include "pkg/version/version.h"

namespace coffer::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = std::make_shared<prometheus::Registry>();
    server_ = std::make_unique<AdminServer>(
        AdminServerOptions{
            .host = "127.0.0.1", .port = 0, .readiness_cache = std::chrono::milliseconds(0)},
        registry_);
    absl::StatusOr<int> port = server_->Start();
    ASSERT_TRUE(port.ok()) << port.status();
    ASSERT_GT(*port, 0);
    port_ = *port;
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  }

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<AdminServer> server_;
  std::unique_ptr<httplib::Client> client_;
  int port_ = 0;
};

TEST_F(AdminServerTest, HealthzIsOk) {
  auto res = client_->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok");
}

TEST_F(AdminServerTest, MetricsServesRegistryAsPrometheusText) {
  RegisterBuildInfo(*registry_, "vault");
  prometheus::BuildCounter()
      .Name("coffer_test_events_total")
      .Help("test")
      .Register(*registry_)
      .Add({})
      .Increment(3);
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->get_header_value("Content-Type"), HasSubstr("text/plain"));
  EXPECT_THAT(res->body, HasSubstr("coffer_test_events_total 3"));
  std::string build_info =
      "coffer_build_info{build_date=\"" + std::string(coffer::version::BuildDate()) +
      "\",commit=\"" + std::string(coffer::version::GitCommit()) +
      "\",service=\"vault\",version=\"" + std::string(coffer::version::Version()) + "\"} 1";
  EXPECT_THAT(res->body, HasSubstr(build_info)) << res->body;
}

// Hammering /readyz runs the checks (database pings, failure logs) once per cache window; a
// newly added check is run on the next request.
TEST_F(AdminServerTest, ReadyzReusesOneCheckRunPerWindow) {
  AdminServer cached(
      AdminServerOptions{.host = "127.0.0.1", .port = 0, .readiness_cache = std::chrono::hours(1)},
      registry_);
  std::atomic<int> runs{0};
  cached.AddReadinessCheck("db", [&] {
    runs.fetch_add(1);
    return absl::UnavailableError("down");
  });
  absl::StatusOr<int> port = cached.Start();
  ASSERT_TRUE(port.ok()) << port.status();
  httplib::Client client("127.0.0.1", *port);
  for (int i = 0; i < 20; ++i) {
    auto res = client.Get("/readyz");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 503);
  }
  EXPECT_EQ(runs.load(), 1);
  cached.AddReadinessCheck("kafka", [] { return absl::OkStatus(); });
  ASSERT_TRUE(client.Get("/readyz"));
  EXPECT_EQ(runs.load(), 2);
}

// Slowloris against the admin port: 200 clients that never finish their request head hold no
// thread, so a liveness probe is still answered (the figure is printed, not asserted).
TEST_F(AdminServerTest, HealthzAnswersWhile200SlowClientsAreConnected) {
  std::vector<int> slow;
  for (int i = 0; i < 200; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    const std::string partial = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ";
    ASSERT_EQ(send(fd, partial.data(), partial.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(partial.size()));
    slow.push_back(fd);
  }
  const auto started = std::chrono::steady_clock::now();
  httplib::Client probe("127.0.0.1", port_);
  probe.set_read_timeout(std::chrono::seconds(30));
  auto res = probe.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  std::cout << "/healthz answered in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count()
            << " ms with 200 slow clients connected\n";
  // They were all still connected: each takes one more header line.
  for (int fd : slow) {
    EXPECT_EQ(send(fd, "1\r\n", 3, MSG_NOSIGNAL), 3);
    close(fd);
  }
}

// Only GET/HEAD on the three paths; a body is refused before it is read.
TEST_F(AdminServerTest, RefusesOtherMethodsPathsAndBodies) {
  auto post = client_->Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_TRUE(post->status == 405 || post->status == 413) << post->status;
  auto missing = client_->Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(AdminServerTest, ReadyzReflectsEveryCheck) {
  auto res = client_->Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);  // no checks: ready
  EXPECT_EQ(nlohmann::json::parse(res->body)["status"], "ready");

  std::atomic<bool> db_up{true};
  server_->AddReadinessCheck("postgres", [&]() -> absl::Status {
    return db_up ? absl::OkStatus() : absl::UnavailableError("connection refused");
  });
  server_->AddReadinessCheck("kafka", [] { return absl::OkStatus(); });
  res = client_->Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(server_->CheckReadiness().ok());

  db_up = false;
  res = client_->Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  nlohmann::json body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["status"], "not ready");
  // The failed check and its code, never the error's text (it describes the inside).
  EXPECT_EQ(body["failed"]["postgres"], "UNAVAILABLE");
  EXPECT_EQ(res->body.find("connection refused"), std::string::npos);
  EXPECT_FALSE(body["failed"].contains("kafka"));
  EXPECT_EQ(server_->CheckReadiness().code(), absl::StatusCode::kUnavailable);

  db_up = true;
  res = client_->Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

// A status endpoint (the vault's /replicationz) reports its own checks and mirrors them in a
// gauge, but its failures never make the replica unready.
TEST_F(AdminServerTest, StatusChecksFailTheirEndpointAndGaugeButNotReadyz) {
  prometheus::Gauge& healthy = prometheus::BuildGauge()
                                   .Name("coffer_test_link_healthy")
                                   .Help("test")
                                   .Register(*registry_)
                                   .Add({});
  healthy.Set(-1);  // proves the scrape sets it
  std::atomic<bool> link_up{false};
  server_->AddReadinessCheck("database", [] { return absl::OkStatus(); });
  server_->AddStatusCheck("/linkz", "broker", [&]() -> absl::Status {
    return link_up ? absl::OkStatus() : absl::DeadlineExceededError("broker 10.0.0.1 timed out");
  });
  server_->SetStatusGauge("/linkz", &healthy);

  auto ready = client_->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  EXPECT_TRUE(server_->CheckReadiness().ok());

  auto status = client_->Get("/linkz");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 503);
  nlohmann::json body = nlohmann::json::parse(status->body);
  EXPECT_EQ(body["status"], "failing");
  EXPECT_EQ(body["failed"]["broker"], "DEADLINE_EXCEEDED");
  EXPECT_EQ(status->body.find("10.0.0.1"), std::string::npos);
  EXPECT_EQ(server_->CheckStatus("/linkz").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server_->CheckStatus("/nope").code(), absl::StatusCode::kNotFound);

  auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("coffer_test_link_healthy 0\n"));

  link_up = true;
  status = client_->Get("/linkz");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  EXPECT_EQ(nlohmann::json::parse(status->body)["status"], "ok");
  metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("coffer_test_link_healthy 1\n"));
  EXPECT_TRUE(server_->CheckStatus("/linkz").ok());

  // A status path cannot shadow the built-in endpoints.
  server_->AddStatusCheck("/readyz", "x", [] { return absl::InternalError("no"); });
  ready = client_->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
}

TEST_F(AdminServerTest, UnknownPathIs404) {
  auto res = client_->Get("/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(AdminServerTest, StopClosesThePortAndIsIdempotent) {
  EXPECT_EQ(server_->Start().status().code(), absl::StatusCode::kFailedPrecondition);
  server_->Stop();
  server_->Stop();
  client_->set_connection_timeout(1);
  EXPECT_FALSE(client_->Get("/healthz"));
}

TEST_F(AdminServerTest, PortInUseIsUnavailable) {
  AdminServer second(AdminServerOptions{.host = "127.0.0.1", .port = port_}, registry_);
  EXPECT_EQ(second.Start().status().code(), absl::StatusCode::kUnavailable);
}

// A call to a method this binary does not serve adds no label value of its own: anyone could
// otherwise grow /metrics without bound (security audit, issue 17).
TEST(GrpcServerMetrics, UnknownMethodsShareOneLabelValue) {
  prometheus::Registry registry;
  GrpcServerMetrics metrics(registry);  // known = the generated descriptor pool
  for (int i = 0; i < 50; ++i) {
    metrics.Record("/made.Up/M" + std::to_string(i), grpc::StatusCode::UNIMPLEMENTED, 0.001);
  }
  metrics.Record("not even a path", grpc::StatusCode::UNIMPLEMENTED, 0.001);
  std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, HasSubstr("coffer_grpc_server_requests_total{code=\"UNIMPLEMENTED\","
                              "method=\"unknown\"} 51"));
  EXPECT_THAT(text, Not(HasSubstr("made.Up")));
}

TEST(GrpcServerMetrics, RecordUsesMethodAndCodeLabels) {
  prometheus::Registry registry;
  GrpcServerMetrics metrics(registry, [](std::string_view m) { return m == "/svc.S/Get"; });
  metrics.Record("/svc.S/Get", grpc::StatusCode::OK, 0.002);
  metrics.Record("/svc.S/Get", grpc::StatusCode::OK, 0.004);
  metrics.Record("/svc.S/Get", grpc::StatusCode::PERMISSION_DENIED, 0.001);
  std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text,
              HasSubstr("coffer_grpc_server_requests_total{code=\"OK\",method=\"/svc.S/Get\"} 2"));
  EXPECT_THAT(text, HasSubstr("coffer_grpc_server_requests_total{code=\"PERMISSION_DENIED\","
                              "method=\"/svc.S/Get\"} 1"));
  EXPECT_THAT(
      text,
      HasSubstr("coffer_grpc_server_request_duration_seconds_count{method=\"/svc.S/Get\"} 3"));
  EXPECT_THAT(text, HasSubstr("coffer_grpc_server_request_duration_seconds_bucket{method=\"/svc.S/"
                              "Get\",le=\"0.0025\"} 2"));
}

TEST(StatusCodeName, MatchesGrpcNames) {
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::FAILED_PRECONDITION), "FAILED_PRECONDITION");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
}

}  // namespace
}  // namespace coffer::metrics
