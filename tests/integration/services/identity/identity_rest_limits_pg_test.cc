// Identity's HTTP faces from outside: per-address login limits hold for REST callers (each HTTP
// client has its own budget; X-Forwarded-For counts only from a configured proxy), and the
// HTTP listeners keep their limits and TLS.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

#include "pkg/auth/clock.h"
#include "pkg/crypto/encoding.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"
#include "services/identity/app/identity_app.h"

namespace coffer::identity {
namespace {

class IdentityRestLimitsPgTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> trusted_forwarders) {
    COFFER_PG_TEST_DATABASE(db_);
    IdentityConfig config;
    config.db_dsn = db_->dsn();
    config.kek = "k1:" + crypto::Base64Encode(std::string(32, 'K'));
    config.grpc_addr = "127.0.0.1:0";
    config.admin_addr = "127.0.0.1:0";
    config.http_addr = "127.0.0.1:0";
    config.rest_addr = "127.0.0.1:0";
    config.argon2_ops_limit = 1;
    config.argon2_memory_kib = 8;
    config.login_limit_per_login = 1000;
    config.login_limit_per_address = 3;
    config.trusted_forwarders = std::move(trusted_forwarders);
    COFFER_ASSERT_OK_AND_ASSIGN(app_, IdentityApp::Start(config, clock_));
  }

  // A failed REST login "from" `forwarded_for` (sent as X-Forwarded-For; empty = none).
  int BadLogin(const std::string& forwarded_for) {
    httplib::Client http("127.0.0.1", app_->rest_port());
    httplib::Headers headers;
    if (!forwarded_for.empty()) headers.emplace("X-Forwarded-For", forwarded_for);
    auto res = http.Post("/v1/identity/login", headers,
                         R"({"login":"nobody","password":"wrong password!!"})", "application/json");
    EXPECT_TRUE(res);
    return res ? res->status : 0;
  }

  std::unique_ptr<testing::PgTestDatabase> db_;
  auth::FakeClock clock_;
  std::unique_ptr<IdentityApp> app_;
};

// Behind a trusted proxy every client address has its own budget: one client locked out by its
// failures does not lock out the next.
TEST_F(IdentityRestLimitsPgTest, TrustedProxyClientsHaveTheirOwnBudgets) {
  Start({"127.0.0.1"});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(BadLogin("198.51.100.1"), 401);
  EXPECT_EQ(BadLogin("198.51.100.1"), 429);
  EXPECT_EQ(BadLogin("198.51.100.2"), 401);  // another client, another budget
}

// Without a trusted proxy, X-Forwarded-For is a client's claim: rotating it buys nothing.
TEST_F(IdentityRestLimitsPgTest, ForgedForwardedForIsIgnored) {
  Start({});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(BadLogin("203.0.113." + std::to_string(i)), 401);
  EXPECT_EQ(BadLogin("203.0.113.99"), 429);
  EXPECT_EQ(BadLogin(""), 429);  // it is the peer (127.0.0.1) that is limited
}

// A REST body above identity's 64 KiB limit is refused before it is read.
TEST_F(IdentityRestLimitsPgTest, OversizeBodiesAreRefused) {
  Start({});
  httplib::Client http("127.0.0.1", app_->rest_port());
  auto res = http.Post("/v1/identity/login", std::string(100 * 1024, ' '), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  httplib::Client oauth("127.0.0.1", app_->http_port());
  auto intro = oauth.Post("/oauth2/introspect", std::string(100 * 1024, 'x'),
                          "application/x-www-form-urlencoded");
  ASSERT_TRUE(intro);
  EXPECT_EQ(intro->status, 413);
}

// The discovery document built from the Host header is never cacheable, and a Host that is not a
// host name is refused.
TEST_F(IdentityRestLimitsPgTest, DiscoveryFromHostIsNotCacheable) {
  Start({});
  httplib::Client http("127.0.0.1", app_->http_port());
  auto res = http.Get("/.well-known/openid-configuration", {{"Host", "id.example.com:8443"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(nlohmann::json::parse(res->body)["jwks_uri"],
            "http://id.example.com:8443/.well-known/jwks.json");
  auto bad = http.Get("/.well-known/openid-configuration", {{"Host", "evil.com/<script>"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

}  // namespace
}  // namespace coffer::identity
