// `coffer health` against a server that requires client certificates (mutual TLS): with the
// certificate it reports SERVING, without it the server is unreachable, and a certificate
// without its key is the caller's error, not the server's.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/config.h"
#include "cli/health.h"
#include "pkg/grpcx/server.h"
#include "tests/unit/pkg/grpcx/test_certs.h"

namespace coffer::cli {
namespace {

class HealthTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new grpcx::testutil::TestCerts(grpcx::testutil::MakeTestCerts());
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(certs_->dir);
    delete certs_;
  }
  static grpcx::testutil::TestCerts* certs_;
};
grpcx::testutil::TestCerts* HealthTlsTest::certs_ = nullptr;

TEST_F(HealthTlsTest, MutualTlsServerNeedsTheClientCertificate) {
  grpcx::GrpcServerOptions options;
  options.address = "127.0.0.1:0";
  options.tls_cert_file = certs_->server_cert_file;
  options.tls_key_file = certs_->server_key_file;
  options.tls_client_ca_file = certs_->ca_cert_file;
  grpcx::GrpcServer server(options);
  absl::StatusOr<int> port = server.Start();
  ASSERT_TRUE(port.ok()) << port.status();
  // The test certificate names localhost.
  const std::string target = "localhost:" + std::to_string(*port);
  const auto timeout = std::chrono::seconds(30);

  auto with_cert = CheckHealth(
      target, "", timeout,
      ChannelTls(certs_->ca_cert_file, certs_->client_cert_file, certs_->client_key_file));
  ASSERT_TRUE(with_cert.ok()) << with_cert.status();
  EXPECT_EQ(*with_cert, "SERVING");

  auto without_cert = CheckHealth(target, "", timeout, ChannelTls(certs_->ca_cert_file, "", ""));
  EXPECT_EQ(without_cert.status().code(), absl::StatusCode::kUnavailable);

  auto plaintext = CheckHealth(target, "", timeout);
  EXPECT_EQ(plaintext.status().code(), absl::StatusCode::kUnavailable);

  auto half = CheckHealth(target, "", timeout,
                          ChannelTls(certs_->ca_cert_file, certs_->client_cert_file, ""));
  EXPECT_EQ(half.status().code(), absl::StatusCode::kInvalidArgument);
  server.Shutdown();
}

}  // namespace
}  // namespace coffer::cli
