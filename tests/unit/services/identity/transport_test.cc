// Transport helpers: peer addresses, Basic auth, status mapping with RetryInfo.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/cord.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "pkg/crypto/encoding.h"
#include "pkg/status/status.h"
#include "services/identity/app/identity_config.h"
#include "services/identity/transport/http_server.h"
#include "services/identity/transport/identity_grpc_service.h"

namespace coffer::identity {
namespace {

TEST(TransportTest, PeerAddress) {
  EXPECT_EQ(PeerAddress("ipv4:127.0.0.1:5555"), "127.0.0.1");
  EXPECT_EQ(PeerAddress("ipv6:[::1]:5555"), "::1");
  // gRPC 1.51 escapes the brackets: the port must still be dropped (security audit M1).
  EXPECT_EQ(PeerAddress("ipv6:%5B::1%5D:5555"), "::1");
  EXPECT_EQ(PeerAddress("ipv6:%5B2001:DB8::7%5D:40000"), "2001:db8::7");
  EXPECT_EQ(PeerAddress("ipv6:%5B2001:db8::7%5D:40001"), PeerAddress("ipv6:[2001:DB8::7]:1"));
  EXPECT_EQ(PeerAddress("unix:/tmp/sock"), "unix:/tmp/sock");
}

TEST(TransportTest, BasicAuth) {
  auto parsed = ParseBasicAuth("Basic " + crypto::Base64Encode("my%20id:s3cr%3At"));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->first, "my id");
  EXPECT_EQ(parsed->second, "s3cr:t");
  EXPECT_FALSE(ParseBasicAuth("Basic !!!").ok());
  EXPECT_FALSE(ParseBasicAuth("Basic " + crypto::Base64Encode("nocolon")).ok());
  EXPECT_FALSE(ParseBasicAuth("Bearer x").ok());
}

TEST(TransportTest, RateLimitStatusCarriesRetryInfo) {
  absl::Status s = status::WithRetryAfter(
      absl::ResourceExhaustedError("too many attempts; retry after 7s"), std::chrono::seconds(7));
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(g.error_message(), "too many attempts; retry after 7s");
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(g.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::RetryInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.retry_delay().seconds(), 7);
  // Other statuses map plainly.
  EXPECT_TRUE(ToGrpcStatus(absl::NotFoundError("x")).error_details().empty());
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(ConfigTest, KekFromExactlyOneSource) {
  IdentityConfig c;
  EXPECT_TRUE(absl::IsInvalidArgument(LoadKekSpec(c).status()));
  c.kek = "k1:abc";
  EXPECT_EQ(*LoadKekSpec(c), "k1:abc");
  c.kek_file = "/nonexistent";
  EXPECT_TRUE(absl::IsInvalidArgument(LoadKekSpec(c).status()));
  c.kek.clear();
  EXPECT_TRUE(absl::IsNotFound(LoadKekSpec(c).status()));
}

TEST(ConfigTest, DeclaresConventionalOptions) {
  IdentityConfig c;
  config::ConfigParser parser("coffer-identity", "test");
  DeclareIdentityOptions(parser, &c);
  parser.SetEnvironmentForTest({{"COFFER_DB_DSN", "host=x"}, {"COFFER_ISSUER", "iss-from-env"}});
  const char* argv[] = {"coffer-identity",
                        "--grpc-addr",
                        "127.0.0.1:7000",
                        "--login-limit-per-login",
                        "3",
                        "--access-token-ttl",
                        "5m",
                        "--lookup-limit-per-subject",
                        "7"};
  ASSERT_TRUE(parser.Parse(9, argv).ok());
  EXPECT_EQ(c.grpc_addr, "127.0.0.1:7000");
  EXPECT_EQ(c.db_dsn, "host=x");
  EXPECT_EQ(c.issuer, "iss-from-env");
  EXPECT_EQ(c.access_token_ttl, std::chrono::minutes(5));
  IdentityServiceConfig s = ToServiceConfig(c);
  EXPECT_EQ(s.login_per_login.burst, 3);
  EXPECT_EQ(s.lookup_per_subject.burst, 7);
  EXPECT_EQ(s.lookup_per_subject.period, std::chrono::seconds(60));
  EXPECT_EQ(IdentityConfig().lookup_limit_per_subject, 60);
  EXPECT_EQ(s.access_token_ttl, std::chrono::minutes(5));
  const std::string reference = parser.Reference();
  for (const char* flag : {"--http-addr", "--kek-file", "--bootstrap-admin-client-id",
                           "--bootstrap-admin-client-secret", "--audience", "COFFER_KEK"}) {
    EXPECT_THAT(reference, ::testing::HasSubstr(flag));
  }
}

}  // namespace
}  // namespace coffer::identity
