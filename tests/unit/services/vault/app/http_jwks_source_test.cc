// HttpJwksSource against a tiny cpp-httplib server on loopback: it never follows redirects, caps
// the body (declared and streamed), reports every failure (non-200, non-JSON, no "keys") as
// UNAVAILABLE, and, behind pkg/auth's TokenVerifier, an empty or malformed JWKS never replaces
// the last good keys.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "pkg/auth/clock.h"
#include "pkg/auth/jwks.h"
#include "pkg/auth/jwt.h"
#include "pkg/auth/token_verifier.h"
#include "pkg/crypto/ed25519.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/app/identity_clients.h"

namespace coffer::vault::app {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::StatusIs;
using ::testing::HasSubstr;

constexpr auto kTimeout = std::chrono::seconds(10);

class HttpJwksSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = *crypto::Ed25519PrivateKey::Generate();
    auth::JwkSet set;
    set.keys = {auth::Jwk::FromPublicKey("k1", key_.PublicKey())};
    good_jwks_ = set.ToJson();
    server_.Get("/jwks", [this](const httplib::Request& req, httplib::Response& res) {
      ++jwks_hits_;
      std::function<void(const httplib::Request&, httplib::Response&)> handler;
      {
        std::lock_guard lock(mu_);
        handler = handler_;
      }
      handler(req, res);
    });
    server_.Get("/final", [this](const httplib::Request&, httplib::Response& res) {
      ++final_hits_;
      res.set_content(good_jwks_, "application/json");
    });
    Serve([this](const httplib::Request&, httplib::Response& res) {
      res.set_content(good_jwks_, "application/jwk-set+json");
    });
    // bind_to_any_port listens at once: connections queue until the thread accepts them.
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs (it would then never end): wait for it.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!server_.is_running() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(server_.is_running());
  }

  void TearDown() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  void Serve(std::function<void(const httplib::Request&, httplib::Response&)> handler) {
    std::lock_guard lock(mu_);
    handler_ = std::move(handler);
  }

  std::string Url(const std::string& path = "/jwks") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::unique_ptr<HttpJwksSource> Source(
      std::size_t max_body_bytes = HttpJwksSource::kDefaultMaxBodyBytes) {
    auto source = HttpJwksSource::Create(Url(), kTimeout, max_body_bytes);
    EXPECT_THAT(source, IsOk());
    return source.ok() ? *std::move(source) : nullptr;
  }

  std::string Token(int64_t now_seconds) {
    auth::Claims c;
    c.iss = "issuer";
    c.sub = "user-1";
    c.aud = {"coffer"};
    c.iat = now_seconds;
    c.exp = now_seconds + 3600;
    c.jti = "jti-" + std::to_string(now_seconds);
    return *auth::SignJwt(c, "k1", key_);
  }

  crypto::Ed25519PrivateKey key_ = *crypto::Ed25519PrivateKey::Generate();
  std::string good_jwks_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> jwks_hits_{0};
  std::atomic<int> final_hits_{0};
  std::mutex mu_;
  std::function<void(const httplib::Request&, httplib::Response&)> handler_;
};

TEST_F(HttpJwksSourceTest, FetchesAndParsesTheKeySet) {
  auto set = Source()->Fetch();
  ASSERT_THAT(set, IsOk());
  ASSERT_EQ(set->keys.size(), 1u);
  EXPECT_EQ(set->keys[0].kid, "k1");
  EXPECT_EQ(set->keys[0].PublicKey()->Raw(), key_.PublicKey().Raw());
}

TEST_F(HttpJwksSourceTest, CreateRefusesOtherSchemesAndHostlessUrls) {
  EXPECT_THAT(HttpJwksSource::Create("ftp://x/jwks", kTimeout),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HttpJwksSource::Create("https:///jwks", kTimeout),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HttpJwksSource::Create("127.0.0.1/jwks", kTimeout),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// A redirect is never followed (so https can never be downgraded to http): the redirect target,
// which serves a valid set, is never asked.
TEST_F(HttpJwksSourceTest, RedirectsAreNotFollowed) {
  for (int code : {301, 302, 307, 308}) {
    Serve([this, code](const httplib::Request&, httplib::Response& res) {
      res.status = code;
      res.set_header("Location", Url("/final"));
    });
    auto set = Source()->Fetch();
    EXPECT_THAT(set, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("redirect"))) << code;
  }
  EXPECT_EQ(final_hits_.load(), 0);
}

TEST_F(HttpJwksSourceTest, DeclaredOversizedBodyIsRefused) {
  const std::string big(HttpJwksSource::kDefaultMaxBodyBytes + 1, ' ');
  Serve([big](const httplib::Request&, httplib::Response& res) {
    res.set_content(big, "application/json");
  });
  EXPECT_THAT(Source()->Fetch(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("exceeds")));
  // Exactly at the limit is fine (a valid set padded with whitespace).
  const std::string padded =
      good_jwks_ + std::string(HttpJwksSource::kDefaultMaxBodyBytes - good_jwks_.size(), ' ');
  Serve([padded](const httplib::Request&, httplib::Response& res) {
    res.set_content(padded, "application/json");
  });
  EXPECT_THAT(Source()->Fetch(), IsOk());
}

// A chunked body has no Content-Length: the client stops reading at the limit.
TEST_F(HttpJwksSourceTest, StreamedOversizedBodyIsCutOff) {
  Serve([](const httplib::Request&, httplib::Response& res) {
    // Whitespace, 64 KiB at a time, up to 64 MiB or until the client hangs up. The provider may
    // outlive the client's call, so it owns everything it uses.
    auto offered = std::make_shared<std::size_t>(0);
    res.set_chunked_content_provider("application/json",
                                     [offered](size_t, httplib::DataSink& sink) {
                                       const std::string chunk(64 * 1024, ' ');
                                       if (*offered >= 64u * 1024 * 1024) {
                                         sink.done();
                                         return true;
                                       }
                                       *offered += chunk.size();
                                       return sink.write(chunk.data(), chunk.size());
                                     });
  });
  EXPECT_THAT(Source(/*max_body_bytes=*/256 * 1024)->Fetch(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("exceeds")));
}

TEST_F(HttpJwksSourceTest, NonJsonMalformedAndErrorAnswersAreUnavailable) {
  for (const std::string body :
       {"<html>bad gateway</html>", "{\"keys\":", "{\"nokeys\":[]}", "[]", ""}) {
    Serve([body](const httplib::Request&, httplib::Response& res) {
      res.set_content(body, "text/html");
    });
    EXPECT_THAT(Source()->Fetch(), StatusIs(absl::StatusCode::kUnavailable)) << body;
  }
  Serve([](const httplib::Request&, httplib::Response& res) { res.status = 503; });
  EXPECT_THAT(Source()->Fetch(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("HTTP 503")));
  server_.stop();
  thread_.join();
  EXPECT_THAT(Source()->Fetch(), StatusIs(absl::StatusCode::kUnavailable));
}

// Behind the verifier, a fetch that yields an empty or a malformed set keeps the last good keys:
// tokens keep verifying, and a token naming an unknown kid meanwhile is an outage (UNAVAILABLE),
// not the caller's fault.
TEST_F(HttpJwksSourceTest, VerifierKeepsTheLastGoodKeysOnEmptyOrMalformedSets) {
  auth::FakeClock clock;
  auto source = Source();
  auth::TokenVerifierOptions options;
  options.issuer = "issuer";
  options.audience = "coffer";
  options.cache_max_entries = 0;  // every Verify looks the key up
  options.jwks_max_age = absl::Minutes(1);
  auto verifier = auth::TokenVerifier::Create(options, *source, clock);
  ASSERT_THAT(verifier, IsOk());
  const int64_t t0 = absl::ToUnixSeconds(clock.Now());
  ASSERT_THAT((*verifier)->Verify(Token(t0)), IsOk());

  int fetches = 1;
  for (const std::string body :
       {R"({"keys":[]})", R"({"keys":[{"kty":"RSA","kid":"r"}]})", "not json at all"}) {
    Serve([body](const httplib::Request&, httplib::Response& res) {
      res.set_content(body, "application/json");
    });
    clock.Advance(absl::Minutes(2));  // the keys are stale: the next Verify refetches
    EXPECT_THAT((*verifier)->Verify(Token(absl::ToUnixSeconds(clock.Now()))), IsOk()) << body;
    ++fetches;
    EXPECT_EQ((*verifier)->stats().jwks_fetches, static_cast<uint64_t>(fetches));
  }
  EXPECT_EQ((*verifier)->stats().jwks_fetch_failures, 3u);

  // An unknown kid while the issuer serves garbage: UNAVAILABLE (retry), not UNAUTHENTICATED.
  auth::Claims c;
  c.iss = "issuer";
  c.aud = {"coffer"};
  c.exp = absl::ToUnixSeconds(clock.Now()) + 600;
  const auto other = *crypto::Ed25519PrivateKey::Generate();
  clock.Advance(absl::Seconds(2));
  EXPECT_THAT((*verifier)->Verify(*auth::SignJwt(c, "k2", other)),
              StatusIs(absl::StatusCode::kUnavailable));

  // The issuer recovers: the next refetch takes its set.
  Serve([this](const httplib::Request&, httplib::Response& res) {
    res.set_content(good_jwks_, "application/json");
  });
  clock.Advance(absl::Minutes(2));
  EXPECT_THAT((*verifier)->Verify(Token(absl::ToUnixSeconds(clock.Now()))), IsOk());
  EXPECT_EQ((*verifier)->stats().jwks_fetch_failures, 4u);
}

}  // namespace
}  // namespace coffer::vault::app
