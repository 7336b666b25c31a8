// coffer-identity end to end in one process: the real app (PostgreSQL, gRPC on port 0 via
// pkg/grpcx, public HTTP, admin HTTP) with an injected clock, called through the generated stub,
// plain HTTP, and the openssl command line as an independent JWT verifier.
#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "coffer/identity/v1/identity.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "pkg/auth/jwks.h"
#include "pkg/auth/jwt.h"
#include "pkg/crypto/encoding.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"
#include "services/identity/app/identity_app.h"

namespace coffer::identity {
namespace {

namespace v1 = ::coffer::identity::v1;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kPassword[] = "correct horse battery staple";
constexpr char kAdminId[] = "dev-admin";
constexpr char kAdminSecret[] = "dev-admin-secret-0123456789";

// ---- independent verification with the openssl CLI ----

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

// SubjectPublicKeyInfo DER of an Ed25519 key = fixed 12-byte prefix (RFC 8410 §10.1) + raw key;
// built by hand so the PEM does not come from the code under test.
std::string SpkiPemFromRaw(const std::string& raw) {
  const std::string prefix = *crypto::HexDecode("302a300506032b6570032100");
  return "-----BEGIN PUBLIC KEY-----\n" + crypto::Base64Encode(prefix + raw) +
         "\n-----END PUBLIC KEY-----\n";
}

// Verifies `jwt` with `openssl pkeyutl` using only the JWKS JSON document. Returns true iff
// openssl accepts the signature.
bool OpensslVerifiesAgainstJwks(const std::string& jwt, const std::string& jwks_json) {
  auto set = auth::JwkSet::FromJson(jwks_json);
  if (!set.ok()) return false;
  auto decoded = auth::DecodeUnverified(jwt);
  if (!decoded.ok()) return false;
  const auth::Jwk* jwk = set->Find(decoded->kid);
  if (jwk == nullptr) return false;
  char tmpl[] = "/tmp/coffer_identity_openssl_XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return false;
  const std::string dir = tmpl;
  WriteFile(dir + "/pub.pem", SpkiPemFromRaw(*crypto::Base64UrlDecode(jwk->x)));
  const auto dot = jwt.rfind('.');
  WriteFile(dir + "/msg", jwt.substr(0, dot));
  WriteFile(dir + "/sig", *crypto::Base64UrlDecode(jwt.substr(dot + 1)));
  const std::string cmd = "openssl pkeyutl -verify -pubin -inkey " + dir + "/pub.pem -rawin -in " +
                          dir + "/msg -sigfile " + dir + "/sig >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  for (const char* f : {"/pub.pem", "/msg", "/sig"}) std::remove((dir + f).c_str());
  std::remove(dir.c_str());
  return rc == 0;
}

// ---- fixture ----

class IdentityGrpcPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COFFER_PG_TEST_DATABASE(db_);
    config_.db_dsn = db_->dsn();
    config_.kek = "k1:" + crypto::Base64Encode(std::string(32, 'K'));
    config_.grpc_addr = "127.0.0.1:0";
    config_.admin_addr = "127.0.0.1:0";
    config_.http_addr = "127.0.0.1:0";
    config_.rest_addr = "127.0.0.1:0";
    config_.argon2_ops_limit = 1;
    config_.argon2_memory_kib = 8;
    config_.login_limit_per_login = 5;
    config_.login_limit_per_address = 1000;
    config_.register_limit_per_login = 100;
    config_.register_limit_per_address = 1000;
    config_.lookup_limit_per_subject = 5;
    config_.bootstrap_admin_client_id = kAdminId;
    config_.bootstrap_admin_client_secret = kAdminSecret;
    config_.db_pool_size = 16;
    // Concurrent Register/Login tests queue for the Argon2 slots: only the test of the queue
    // timeout (its own config) may see a refusal, not a loaded machine.
    config_.password_hash_queue_timeout = std::chrono::seconds(60);
    StartApp();
  }

  void StartApp() {
    COFFER_ASSERT_OK_AND_ASSIGN(app_, IdentityApp::Start(config_, clock_));
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(app_->grpc_port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::IdentityService::NewStub(channel_);
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& bearer = "") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!bearer.empty()) ctx->AddMetadata("authorization", "Bearer " + bearer);
    return ctx;
  }

  grpc::Status Register(const std::string& login, std::string* user_id = nullptr,
                        const std::string& password = kPassword,
                        const std::string& display_name = "") {
    v1::RegisterRequest req;
    req.set_login(login);
    req.set_password(password);
    req.set_display_name(display_name);
    v1::RegisterResponse resp;
    grpc::Status s = stub_->Register(Ctx().get(), req, &resp);
    if (user_id != nullptr) *user_id = resp.user_id();
    return s;
  }

  v1::TokenPair Login(const std::string& login, grpc::Status* status = nullptr,
                      const std::string& password = kPassword) {
    v1::LoginRequest req;
    req.set_login(login);
    req.set_password(password);
    v1::LoginResponse resp;
    grpc::Status s = stub_->Login(Ctx().get(), req, &resp);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp.tokens();
  }

  std::string AdminToken() {
    v1::ClientCredentialsRequest req;
    req.set_client_id(kAdminId);
    req.set_client_secret(kAdminSecret);
    v1::ClientCredentialsResponse resp;
    grpc::Status s = stub_->ClientCredentials(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.tokens().access_token();
  }

  grpc::Status WhoAmI(const std::string& token, v1::WhoAmIResponse* resp = nullptr) {
    v1::WhoAmIResponse local;
    return stub_->WhoAmI(Ctx(token).get(), v1::WhoAmIRequest(), resp ? resp : &local);
  }

  grpc::Status LookupUser(const std::string& token, const std::string& login,
                          v1::LookupUserResponse* resp = nullptr) {
    v1::LookupUserRequest req;
    req.set_login(login);
    v1::LookupUserResponse local;
    return stub_->LookupUser(Ctx(token).get(), req, resp ? resp : &local);
  }

  grpc::Status GetUser(const std::string& token, const std::string& user_id,
                       v1::GetUserResponse* resp = nullptr) {
    v1::GetUserRequest req;
    req.set_user_id(user_id);
    v1::GetUserResponse local;
    return stub_->GetUser(Ctx(token).get(), req, resp ? resp : &local);
  }

  v1::IntrospectResponse Introspect(const std::string& bearer, const std::string& token,
                                    grpc::Status* status = nullptr) {
    v1::IntrospectRequest req;
    req.set_token(token);
    v1::IntrospectResponse resp;
    grpc::Status s = stub_->Introspect(Ctx(bearer).get(), req, &resp);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp;
  }

  std::string HttpJwks() {
    httplib::Client http("127.0.0.1", app_->http_port());
    auto res = http.Get("/.well-known/jwks.json");
    EXPECT_TRUE(res);
    if (!res) return "";
    EXPECT_EQ(res->status, 200);
    return res->body;
  }

  nlohmann::json HttpIntrospect(const httplib::Headers& headers, const std::string& body,
                                int* status) {
    httplib::Client http("127.0.0.1", app_->http_port());
    auto res = http.Post("/oauth2/introspect", headers, body, "application/x-www-form-urlencoded");
    EXPECT_TRUE(res);
    if (!res) return {};
    *status = res->status;
    return nlohmann::json::parse(res->body, nullptr, false);
  }

  std::unique_ptr<coffer::testing::PgTestDatabase> db_;
  IdentityConfig config_;
  auth::FakeClock clock_;
  std::unique_ptr<IdentityApp> app_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::IdentityService::Stub> stub_;
};

TEST_F(IdentityGrpcPgTest, ReflectionListsIdentityService) {
  // ServerReflectionRequest{list_services: ""} is field 7 (string): bytes 0x3A 0x00. The
  // reflection stubs are not installed by Debian, so the bidi method is called generically.
  grpc::GenericStub generic(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(
      &ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  const std::string request("\x3A\x00", 2);
  grpc::Slice slice(request);
  grpc::ByteBuffer buffer(&slice, 1);
  call->Write(buffer, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_THAT(bytes, HasSubstr("coffer.identity.v1.IdentityService"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
  call->WritesDone(reinterpret_cast<void*>(4));
  cq.Next(&tag, &ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(IdentityGrpcPgTest, RegisterLoginWhoAmIRefreshLogout) {
  std::string user_id;
  ASSERT_TRUE(Register("Alice", &user_id).ok());
  EXPECT_EQ(Register("ALICE").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  v1::TokenPair t = Login("alice");
  EXPECT_EQ(t.token_type(), "Bearer");
  EXPECT_EQ(t.expires_in(), 900);
  EXPECT_EQ(t.scope(), "vault");

  v1::WhoAmIResponse who;
  ASSERT_TRUE(WhoAmI(t.access_token(), &who).ok());
  EXPECT_EQ(who.sub(), user_id);
  EXPECT_EQ(who.login(), "alice");
  EXPECT_FALSE(who.is_service_account());

  v1::RefreshRequest refresh;
  refresh.set_refresh_token(t.refresh_token());
  v1::RefreshResponse refreshed;
  ASSERT_TRUE(stub_->Refresh(Ctx().get(), refresh, &refreshed).ok());
  EXPECT_NE(refreshed.tokens().refresh_token(), t.refresh_token());
  ASSERT_TRUE(WhoAmI(refreshed.tokens().access_token()).ok());

  v1::LogoutRequest logout;
  logout.set_refresh_token(refreshed.tokens().refresh_token());
  v1::LogoutResponse logged_out;
  ASSERT_TRUE(
      stub_->Logout(Ctx(refreshed.tokens().access_token()).get(), logout, &logged_out).ok());
  EXPECT_EQ(WhoAmI(refreshed.tokens().access_token()).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  refresh.set_refresh_token(refreshed.tokens().refresh_token());
  EXPECT_EQ(stub_->Refresh(Ctx().get(), refresh, &refreshed).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Wrong password and unknown login look the same.
  grpc::Status wrong, unknown;
  Login("alice", &wrong, "wrong password!!");
  Login("nobody", &unknown);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(wrong.error_code(), unknown.error_code());
  EXPECT_EQ(wrong.error_message(), unknown.error_message());
}

TEST_F(IdentityGrpcPgTest, TokenVerifiesWithOpensslAgainstPublishedJwks) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "openssl command line tool not installed";
  }
  ASSERT_TRUE(Register("bob").ok());
  const v1::TokenPair t = Login("bob");
  const std::string jwks = HttpJwks();
  // The document is a standard JWKS.
  auto doc = nlohmann::json::parse(jwks);
  ASSERT_TRUE(doc["keys"].is_array());
  ASSERT_EQ(doc["keys"].size(), 1u);
  const auto& key = doc["keys"][0];
  EXPECT_EQ(key["kty"], "OKP");
  EXPECT_EQ(key["crv"], "Ed25519");
  EXPECT_EQ(key["alg"], "EdDSA");
  EXPECT_EQ(key["use"], "sig");
  EXPECT_EQ(crypto::Base64UrlDecode(key["x"].get<std::string>())->size(), 32u);
  // The gRPC JWKS is the same document.
  v1::GetJwksResponse grpc_jwks;
  ASSERT_TRUE(stub_->GetJwks(Ctx().get(), v1::GetJwksRequest(), &grpc_jwks).ok());
  EXPECT_EQ(grpc_jwks.json(), jwks);
  ASSERT_EQ(grpc_jwks.keys_size(), 1);
  EXPECT_EQ(grpc_jwks.keys(0).kid(), key["kid"]);

  EXPECT_TRUE(OpensslVerifiesAgainstJwks(t.access_token(), jwks));
  // A flipped payload byte fails the same independent check.
  std::string altered = t.access_token();
  altered[altered.find('.') + 5] ^= 1;
  EXPECT_FALSE(OpensslVerifiesAgainstJwks(altered, jwks));

  // Discovery document points at the JWKS.
  httplib::Client http("127.0.0.1", app_->http_port());
  auto res = http.Get("/.well-known/openid-configuration");
  ASSERT_TRUE(res);
  auto discovery = nlohmann::json::parse(res->body);
  EXPECT_EQ(discovery["issuer"], "coffer-identity");
  EXPECT_EQ(discovery["jwks_uri"],
            "http://127.0.0.1:" + std::to_string(app_->http_port()) + "/.well-known/jwks.json");
}

TEST_F(IdentityGrpcPgTest, AccessTokensExpireOnTheInjectedClock) {
  ASSERT_TRUE(Register("carol").ok());
  const v1::TokenPair t = Login("carol");
  clock_.Advance(absl::Minutes(15) - absl::Seconds(1));
  EXPECT_TRUE(WhoAmI(t.access_token()).ok());
  clock_.Advance(absl::Seconds(6));  // past exp + 5 s leeway
  grpc::Status s = WhoAmI(t.access_token());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("expired"));
  EXPECT_FALSE(Introspect(AdminToken(), t.access_token()).active());
  // The refresh token still works and yields a fresh access token.
  v1::RefreshRequest refresh;
  refresh.set_refresh_token(t.refresh_token());
  v1::RefreshResponse refreshed;
  ASSERT_TRUE(stub_->Refresh(Ctx().get(), refresh, &refreshed).ok());
  EXPECT_TRUE(WhoAmI(refreshed.tokens().access_token()).ok());
}

TEST_F(IdentityGrpcPgTest, KeyRotationKeepsBothKeysValidDuringOverlap) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "openssl command line tool not installed";
  }
  ASSERT_TRUE(Register("dave").ok());
  const v1::TokenPair old_token = Login("dave");
  const std::string old_kid = auth::DecodeUnverified(old_token.access_token())->kid;

  v1::RotateSigningKeyResponse rotated;
  EXPECT_EQ(stub_
                ->RotateSigningKey(Ctx(old_token.access_token()).get(),
                                   v1::RotateSigningKeyRequest(), &rotated)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(
      stub_->RotateSigningKey(Ctx(AdminToken()).get(), v1::RotateSigningKeyRequest(), &rotated)
          .ok());
  EXPECT_NE(rotated.kid(), old_kid);

  // Pre-publication (--key-prepublication, 60 s): the next key is in the JWKS at once, over HTTP
  // and gRPC, but tokens are still signed by the old key until its activation time.
  auto prepublished = auth::JwkSet::FromJson(HttpJwks());
  ASSERT_TRUE(prepublished.ok());
  ASSERT_EQ(prepublished->keys.size(), 2u);
  EXPECT_EQ(prepublished->keys[0].kid, old_kid);  // current key first
  EXPECT_EQ(prepublished->keys[1].kid, rotated.kid());
  v1::GetJwksResponse grpc_jwks;
  ASSERT_TRUE(stub_->GetJwks(Ctx().get(), {}, &grpc_jwks).ok());
  ASSERT_EQ(grpc_jwks.keys_size(), 2);
  EXPECT_EQ(grpc_jwks.keys(1).kid(), rotated.kid());
  const v1::TokenPair waiting_token = Login("dave");
  EXPECT_EQ(auth::DecodeUnverified(waiting_token.access_token())->kid, old_kid);
  // A second rotation request meanwhile answers the same next key.
  v1::RotateSigningKeyResponse again;
  ASSERT_TRUE(stub_->RotateSigningKey(Ctx(AdminToken()).get(), {}, &again).ok());
  EXPECT_EQ(again.kid(), rotated.kid());

  clock_.Advance(absl::Seconds(60));
  const v1::TokenPair new_token = Login("dave");
  EXPECT_EQ(auth::DecodeUnverified(new_token.access_token())->kid, rotated.kid());

  // Overlap: both keys published, both tokens accepted, both verify independently.
  const std::string jwks = HttpJwks();
  auto set = auth::JwkSet::FromJson(jwks);
  ASSERT_TRUE(set.ok());
  ASSERT_EQ(set->keys.size(), 2u);
  EXPECT_EQ(set->keys[0].kid, rotated.kid());  // current key first
  EXPECT_TRUE(WhoAmI(old_token.access_token()).ok());
  EXPECT_TRUE(WhoAmI(new_token.access_token()).ok());
  EXPECT_TRUE(OpensslVerifiesAgainstJwks(old_token.access_token(), jwks));
  EXPECT_TRUE(OpensslVerifiesAgainstJwks(new_token.access_token(), jwks));

  // Once every token of the old key has expired, the old key is no longer published.
  clock_.Advance(absl::Minutes(17));
  auto later = auth::JwkSet::FromJson(HttpJwks());
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->keys.size(), 1u);
  EXPECT_EQ(later->keys[0].kid, rotated.kid());
}

TEST_F(IdentityGrpcPgTest, SecondReplicaSharesKeysAndSeesRotations) {
  IdentityConfig second = config_;
  COFFER_ASSERT_OK_AND_ASSIGN(auto replica, IdentityApp::Start(second, clock_));
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(replica->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub2 = v1::IdentityService::NewStub(channel);
  v1::GetJwksResponse a, b;
  ASSERT_TRUE(stub_->GetJwks(Ctx().get(), {}, &a).ok());
  ASSERT_TRUE(stub2->GetJwks(Ctx().get(), {}, &b).ok());
  EXPECT_EQ(a.json(), b.json());
  // A token issued by replica 1 after a rotation there is accepted by replica 2 (it reloads on
  // the unknown kid).
  ASSERT_TRUE(Register("erin").ok());
  v1::RotateSigningKeyResponse rotated;
  ASSERT_TRUE(stub_->RotateSigningKey(Ctx(AdminToken()).get(), {}, &rotated).ok());
  clock_.Advance(absl::Seconds(60));  // the pre-published key signs from now on
  const v1::TokenPair t = Login("erin");
  ASSERT_EQ(auth::DecodeUnverified(t.access_token())->kid, rotated.kid());
  clock_.Advance(absl::Seconds(2));
  v1::WhoAmIResponse who;
  grpc::Status s = stub2->WhoAmI(Ctx(t.access_token()).get(), {}, &who);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(who.login(), "erin");
}

// H6: Argon2id is bounded per replica. A replica allowing 2 at once holds both slots with two
// real Logins (a test hook inside the slot waits on a gate); further concurrent Logins, for known
// and unknown logins alike, wait the queue timeout and get RESOURCE_EXHAUSTED with a retry delay.
// Once the gate opens the two held Logins finish normally.
TEST_F(IdentityGrpcPgTest, ConcurrentLoginsBeyondTheArgon2LimitGetResourceExhausted) {
  ASSERT_TRUE(Register("mallory").ok());
  IdentityConfig limited = config_;
  limited.max_concurrent_password_hashes = 2;
  limited.password_hash_queue_timeout = std::chrono::milliseconds(200);
  limited.rest_addr = "";
  COFFER_ASSERT_OK_AND_ASSIGN(auto replica, IdentityApp::Start(limited, clock_));
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(replica->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::IdentityService::NewStub(channel);
  PasswordHasher& hasher = replica->service().password_hasher();
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
  hasher.SetSlotHookForTest([opened] { opened.wait(); });

  auto login = [&](const std::string& name) {
    v1::LoginRequest req;
    req.set_login(name);
    req.set_password(kPassword);
    v1::LoginResponse resp;
    return stub->Login(Ctx().get(), req, &resp);
  };
  grpc::Status held_known, held_unknown;
  std::thread first([&] { held_known = login("mallory"); });
  std::thread second([&] { held_unknown = login("nobody-at-all"); });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (hasher.stats().in_flight < 2 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(hasher.stats().in_flight, 2);

  constexpr int kExtra = 4;
  std::vector<grpc::Status> extra(kExtra);
  std::vector<std::thread> extra_threads;
  for (int i = 0; i < kExtra; ++i) {
    extra_threads.emplace_back(
        [&, i] { extra[i] = login(i % 2 == 0 ? "mallory" : "nobody-" + std::to_string(i)); });
  }
  for (auto& t : extra_threads) t.join();
  for (const grpc::Status& s : extra) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("too many logins in progress; retry after 1s"));
    google::rpc::Status details;
    ASSERT_TRUE(details.ParseFromString(s.error_details()));
    ASSERT_EQ(details.details_size(), 1);
    google::rpc::RetryInfo retry;
    ASSERT_TRUE(details.details(0).UnpackTo(&retry));
    EXPECT_EQ(retry.retry_delay().seconds(), 1);
  }

  open.set_value();
  first.join();
  second.join();
  EXPECT_TRUE(held_known.ok()) << held_known.error_message();
  EXPECT_EQ(held_unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(hasher.stats().max_in_flight, 2);
  EXPECT_EQ(hasher.stats().refused, static_cast<std::uint64_t>(kExtra));

  httplib::Client admin("127.0.0.1", replica->admin_port());
  auto res = admin.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_THAT(res->body, HasSubstr("coffer_identity_password_hash_refusals_total 4"));
  EXPECT_THAT(res->body, HasSubstr("coffer_identity_logins_total{result=\"overloaded\"} 4"));
  EXPECT_THAT(res->body, HasSubstr("coffer_identity_password_hashes_in_flight 0"));
  hasher.SetSlotHookForTest(nullptr);
  EXPECT_TRUE(login("mallory").ok());
}

TEST_F(IdentityGrpcPgTest, RefreshTokenReuseRevokesTheFamily) {
  ASSERT_TRUE(Register("frank").ok());
  const v1::TokenPair first = Login("frank");
  v1::RefreshRequest req;
  req.set_refresh_token(first.refresh_token());
  v1::RefreshResponse second;
  ASSERT_TRUE(stub_->Refresh(Ctx().get(), req, &second).ok());
  v1::RefreshResponse ignored;
  grpc::Status replay = stub_->Refresh(Ctx().get(), req, &ignored);
  EXPECT_EQ(replay.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(replay.error_message(), HasSubstr("reuse"));
  req.set_refresh_token(second.tokens().refresh_token());
  EXPECT_EQ(stub_->Refresh(Ctx().get(), req, &ignored).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(WhoAmI(second.tokens().access_token()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(Introspect(AdminToken(), second.tokens().access_token()).active());
}

TEST_F(IdentityGrpcPgTest, ConcurrentRegistrationOfOneLoginHasExactlyOneWinner) {
  constexpr int kThreads = 8;
  std::atomic<int> ok{0}, exists{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto stub = v1::IdentityService::NewStub(channel_);
      v1::RegisterRequest req;
      req.set_login(i % 2 == 0 ? "Grace" : "grace");  // same login, different case
      req.set_password(kPassword);
      v1::RegisterResponse resp;
      grpc::ClientContext ctx;
      grpc::Status s = stub->Register(&ctx, req, &resp);
      if (s.ok()) {
        ok++;
      } else if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
        exists++;
      } else {
        other++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(exists.load(), kThreads - 1);
  EXPECT_EQ(other.load(), 0);
  Login("grace");
}

TEST_F(IdentityGrpcPgTest, LoginRateLimitCarriesRetryInfo) {
  ASSERT_TRUE(Register("heidi").ok());
  for (int i = 0; i < 5; ++i) {
    grpc::Status s;
    Login("heidi", &s, "wrong password!!");
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  grpc::Status limited;
  Login("heidi", &limited);
  ASSERT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(limited.error_message(), HasSubstr("retry after 12s"));
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(limited.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(details.details(0).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 12);
  clock_.Advance(absl::Seconds(12));
  grpc::Status again;
  Login("heidi", &again);
  EXPECT_TRUE(again.ok()) << again.error_message();

  // Metrics count results.
  httplib::Client admin("127.0.0.1", app_->admin_port());
  auto res = admin.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_THAT(res->body, HasSubstr("coffer_identity_logins_total{result=\"rate_limited\"} 1"));
  EXPECT_THAT(res->body,
              HasSubstr("coffer_identity_logins_total{result=\"invalid_credentials\"} 5"));
  EXPECT_THAT(res->body, HasSubstr("coffer_identity_tokens_issued_total{grant=\"password\"} 1"));
  EXPECT_EQ(admin.Get("/readyz")->status, 200);
}

TEST_F(IdentityGrpcPgTest, IntrospectionOfRevokedTokensOverGrpcAndHttp) {
  std::string user_id;
  ASSERT_TRUE(Register("ivan", &user_id).ok());
  const v1::TokenPair t = Login("ivan");
  const std::string admin = AdminToken();

  v1::IntrospectResponse active = Introspect(admin, t.access_token());
  EXPECT_TRUE(active.active());
  EXPECT_EQ(active.sub(), user_id);
  EXPECT_EQ(active.scope(), "vault");
  EXPECT_EQ(active.token_type(), "access_token");
  EXPECT_EQ(active.iss(), "coffer-identity");
  EXPECT_EQ(active.aud(), "coffer");
  EXPECT_GT(active.exp(), active.iat());

  const std::string basic =
      "Basic " + crypto::Base64Encode(std::string(kAdminId) + ":" + kAdminSecret);
  int status = 0;
  auto body =
      HttpIntrospect({{"Authorization", basic}},
                     "token=" + t.access_token() + "&token_type_hint=access_token", &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body["active"], true);
  EXPECT_EQ(body["sub"], user_id);
  EXPECT_EQ(body["exp"], active.exp());
  body =
      HttpIntrospect({{"Authorization", "Bearer " + admin}}, "token=" + t.access_token(), &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body["active"], true);

  // Revoke (by the owner), then both transports say inactive.
  v1::RevokeRequest revoke;
  revoke.set_token(t.access_token());
  v1::RevokeResponse revoked;
  ASSERT_TRUE(stub_->Revoke(Ctx(t.access_token()).get(), revoke, &revoked).ok());
  v1::IntrospectResponse inactive = Introspect(admin, t.access_token());
  EXPECT_FALSE(inactive.active());
  EXPECT_TRUE(inactive.sub().empty());
  body = HttpIntrospect({{"Authorization", basic}}, "token=" + t.access_token(), &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, nlohmann::json({{"active", false}}));
  EXPECT_FALSE(Introspect(admin, t.refresh_token()).active());  // the family went with it

  // Caller authentication and authorization.
  HttpIntrospect({}, "token=x", &status);
  EXPECT_EQ(status, 401);
  HttpIntrospect({{"Authorization", "Basic " + crypto::Base64Encode("dev-admin:wrong")}}, "token=x",
                 &status);
  EXPECT_EQ(status, 401);
  HttpIntrospect({{"Authorization", basic}}, "nothing=here", &status);
  EXPECT_EQ(status, 400);
  ASSERT_TRUE(Register("judy").ok());
  const v1::TokenPair judy = Login("judy");
  HttpIntrospect({{"Authorization", "Bearer " + judy.access_token()}},
                 "token=" + Login("ivan").access_token(), &status);
  EXPECT_EQ(status, 403);
  grpc::Status denied;
  Introspect(judy.access_token(), admin, &denied);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  Introspect("", t.access_token(), &denied);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(IdentityGrpcPgTest, ServiceAccountsAndClientCredentials) {
  const std::string admin = AdminToken();
  v1::CreateServiceAccountRequest create;
  create.set_name("vault-shard-a");
  create.add_scopes("vault");
  create.add_scopes("identity.introspect");
  v1::CreateServiceAccountResponse created;
  ASSERT_TRUE(stub_->CreateServiceAccount(Ctx(admin).get(), create, &created).ok());
  EXPECT_FALSE(created.client_secret().empty());
  EXPECT_THAT(created.scopes(), UnorderedElementsAre("vault", "identity.introspect"));
  EXPECT_EQ(stub_->CreateServiceAccount(Ctx(admin).get(), create, &created).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  v1::ClientCredentialsRequest cc;
  cc.set_client_id(created.client_id());
  cc.set_client_secret(created.client_secret());
  cc.set_scope("identity.introspect");
  v1::ClientCredentialsResponse issued;
  ASSERT_TRUE(stub_->ClientCredentials(Ctx().get(), cc, &issued).ok());
  EXPECT_EQ(issued.tokens().scope(), "identity.introspect");
  EXPECT_TRUE(issued.tokens().refresh_token().empty());
  v1::WhoAmIResponse who;
  ASSERT_TRUE(WhoAmI(issued.tokens().access_token(), &who).ok());
  EXPECT_TRUE(who.is_service_account());
  EXPECT_EQ(who.sub(), created.client_id());
  EXPECT_EQ(who.login(), "vault-shard-a");
  // The service account can introspect user tokens.
  ASSERT_TRUE(Register("ken").ok());
  EXPECT_TRUE(Introspect(issued.tokens().access_token(), Login("ken").access_token()).active());
  // Requesting a scope it lacks, or a wrong secret.
  cc.set_scope("identity.admin");
  EXPECT_EQ(stub_->ClientCredentials(Ctx().get(), cc, &issued).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  cc.set_scope("");
  cc.set_client_secret("wrong");
  EXPECT_EQ(stub_->ClientCredentials(Ctx().get(), cc, &issued).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  v1::ListServiceAccountsRequest list;
  v1::ListServiceAccountsResponse listed;
  ASSERT_TRUE(stub_->ListServiceAccounts(Ctx(admin).get(), list, &listed).ok());
  ASSERT_EQ(listed.service_accounts_size(), 2);
  EXPECT_EQ(listed.service_accounts(0).name(), kAdminId);
  EXPECT_EQ(listed.service_accounts(1).name(), "vault-shard-a");
  EXPECT_EQ(listed.service_accounts(1).create_time().seconds(), 1'700'000'000);
  EXPECT_EQ(stub_->ListServiceAccounts(Ctx(Login("ken").access_token()).get(), list, &listed)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  v1::DeleteServiceAccountRequest del;
  del.set_client_id(created.client_id());
  v1::DeleteServiceAccountResponse deleted;
  ASSERT_TRUE(stub_->DeleteServiceAccount(Ctx(admin).get(), del, &deleted).ok());
  EXPECT_EQ(stub_->DeleteServiceAccount(Ctx(admin).get(), del, &deleted).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(IdentityGrpcPgTest, BadInputGetsClearCodesAndChangesNothing) {
  EXPECT_EQ(Register("").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Register("x").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Register(std::string(65, 'a')).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Register("laura", nullptr, "short").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Register("laura", nullptr, "laura").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Register("laura", nullptr, std::string(1025, 'p')).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status s;
  Login("laura", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);  // nothing was created

  ASSERT_TRUE(Register("mike").ok());
  const v1::TokenPair t = Login("mike");
  // alg=none, truncated, garbage and long bearer tokens. (Metadata above gRPC's 8 KiB header
  // limit is refused by the transport itself with RESOURCE_EXHAUSTED before reaching us.)
  const std::string none = crypto::Base64UrlEncode(R"({"alg":"none"})") +
                           t.access_token().substr(t.access_token().find('.'));
  for (const std::string& bad :
       {none.substr(0, none.rfind('.') + 1), t.access_token().substr(0, 40), std::string("garbage"),
        std::string(7000, 'a')}) {
    EXPECT_EQ(WhoAmI(bad).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  v1::RefreshRequest refresh;
  refresh.set_refresh_token(std::string(9000, 'r'));
  v1::RefreshResponse ignored;
  EXPECT_EQ(stub_->Refresh(Ctx().get(), refresh, &ignored).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  refresh.set_refresh_token("cfr_not-a-real-token");
  EXPECT_EQ(stub_->Refresh(Ctx().get(), refresh, &ignored).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // The real session is untouched by all of the above.
  EXPECT_TRUE(WhoAmI(t.access_token()).ok());
  refresh.set_refresh_token(t.refresh_token());
  EXPECT_TRUE(stub_->Refresh(Ctx().get(), refresh, &ignored).ok());
}

TEST_F(IdentityGrpcPgTest, LookupUserAndGetUserServePublicProfiles) {
  const std::string display_name = "Nina N\u00e9e";
  std::string nina_id;
  ASSERT_TRUE(Register("Nina", &nina_id, kPassword, display_name).ok());
  ASSERT_TRUE(Register("omar").ok());
  const std::string omar = Login("omar").access_token();

  v1::LookupUserResponse found;
  grpc::Status s = LookupUser(omar, "NINA", &found);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(found.user().user_id(), nina_id);
  EXPECT_EQ(found.user().login(), "nina");
  EXPECT_EQ(found.user().display_name(), display_name);
  EXPECT_EQ(found.user().create_time().seconds(), 1'700'000'000);
  // Nothing but the four public fields crosses the wire (no hash, no scope, nothing unknown).
  const std::string wire = found.SerializeAsString();
  EXPECT_EQ(wire.find("argon2"), std::string::npos);
  EXPECT_EQ(wire.find("vault"), std::string::npos);
  const auto* profile = v1::UserProfile::descriptor();
  ASSERT_EQ(profile->field_count(), 4);
  EXPECT_EQ(profile->field(0)->name(), "user_id");
  EXPECT_EQ(profile->field(1)->name(), "login");
  EXPECT_EQ(profile->field(2)->name(), "display_name");
  EXPECT_EQ(profile->field(3)->name(), "create_time");

  v1::GetUserResponse by_id;
  s = GetUser(omar, nina_id, &by_id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(by_id.user().SerializeAsString(), found.user().SerializeAsString());

  s = LookupUser(omar, "nin");  // no prefix search
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "no user with this login");
  s = LookupUser(omar, "nina.secret");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("secret")));
  s = GetUser(omar, "123e4567-e89b-42d3-a456-426614174000");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  s = GetUser(omar, "nina");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "user_id: not a UUID");
  EXPECT_EQ(LookupUser("", "nina").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(LookupUser("garbage", "nina").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetUser("", nina_id).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // Service accounts may look users up but have no profile themselves.
  const std::string admin = AdminToken();
  EXPECT_TRUE(LookupUser(admin, "nina").ok());
  EXPECT_EQ(LookupUser(admin, kAdminId).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(IdentityGrpcPgTest, LookupUserIsRateLimitedPerCallerWithRetryInfo) {
  ASSERT_TRUE(Register("paula").ok());
  ASSERT_TRUE(Register("quinn").ok());
  const std::string paula = Login("paula").access_token();
  // The fixture allows 5 lookups per minute per caller; misses count like hits.
  for (int i = 0; i < 5; ++i) {
    grpc::Status s = LookupUser(paula, i % 2 == 0 ? "quinn" : "nobody");
    EXPECT_EQ(s.error_code(), i % 2 == 0 ? grpc::StatusCode::OK : grpc::StatusCode::NOT_FOUND);
  }
  grpc::Status limited = LookupUser(paula, "quinn");
  ASSERT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(limited.error_message(), HasSubstr("retry after 12s"));
  EXPECT_THAT(limited.error_message(), ::testing::Not(HasSubstr("quinn")));
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(limited.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(details.details(0).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 12);
  // Another caller is not affected; the limited one may go on after the delay.
  EXPECT_TRUE(LookupUser(Login("quinn").access_token(), "paula").ok());
  clock_.Advance(absl::Seconds(12));
  EXPECT_TRUE(LookupUser(paula, "quinn").ok());
  EXPECT_EQ(LookupUser(paula, "quinn").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(IdentityGrpcPgTest, RegisterRejectsBadDisplayNamesAndStoresNothing) {
  // (Invalid UTF-8 never reaches the service over gRPC: protobuf refuses to parse a string field
  // holding it. The service's own check is unit tested.)
  for (const std::string& bad : {std::string(65, 'd'), std::string("two\nlines"),
                                 std::string("bell\x07"), std::string("C1 \u0085 control")}) {
    grpc::Status s = Register("rita", nullptr, kPassword, bad);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("display_name"));
  }
  ASSERT_TRUE(Register("sam").ok());
  EXPECT_EQ(LookupUser(Login("sam").access_token(), "rita").error_code(),
            grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Register("rita", nullptr, kPassword, std::string(64, 'd')).ok());
}

}  // namespace
}  // namespace coffer::identity

namespace coffer::identity {
namespace {

// The REST/JSON face (pkg/restgw) serves the same handlers: register, log in and ask WhoAmI over
// HTTP, and get gRPC errors back as HTTP statuses with a JSON body.
TEST_F(IdentityGrpcPgTest, RestGatewayServesTheSameApi) {
  ASSERT_GT(app_->rest_port(), 0);
  httplib::Client http("127.0.0.1", app_->rest_port());

  auto reg = http.Post("/v1/identity/users",
                       R"({"login":"rest-user","password":")" + std::string(kPassword) + R"("})",
                       "application/json");
  ASSERT_TRUE(reg);
  ASSERT_EQ(reg->status, 200) << reg->body;
  EXPECT_FALSE(nlohmann::json::parse(reg->body).value("userId", "").empty()) << reg->body;

  auto dup = http.Post("/v1/identity/users",
                       R"({"login":"REST-user","password":")" + std::string(kPassword) + R"("})",
                       "application/json");
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->status, 409) << dup->body;
  EXPECT_EQ(nlohmann::json::parse(dup->body)["code"], 6);  // ALREADY_EXISTS

  auto login = http.Post("/v1/identity/login",
                         R"({"login":"rest-user","password":")" + std::string(kPassword) + R"("})",
                         "application/json");
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  std::string access = nlohmann::json::parse(login->body)["tokens"]["accessToken"];

  auto anonymous = http.Get("/v1/identity/whoami");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401) << anonymous->body;

  auto who = http.Get("/v1/identity/whoami", {{"Authorization", "Bearer " + access}});
  ASSERT_TRUE(who);
  ASSERT_EQ(who->status, 200) << who->body;
  EXPECT_EQ(nlohmann::json::parse(who->body)["login"], "rest-user");

  auto bad = http.Post("/v1/identity/users", "{not json", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);

  // REST calls are counted by the same gRPC interceptor.
  httplib::Client admin("127.0.0.1", app_->admin_port());
  auto metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(
      metrics->body.find(
          R"(coffer_grpc_server_requests_total{code="OK",method="/coffer.identity.v1.IdentityService/WhoAmI"})"),
      std::string::npos);
}

// LookupUser and GetUser over REST: GET /v1/identity/users:lookup?login=... and
// GET /v1/identity/users/{user_id}, with the same authentication and error codes.
TEST_F(IdentityGrpcPgTest, RestGatewayServesUserProfiles) {
  httplib::Client http("127.0.0.1", app_->rest_port());
  auto reg = http.Post("/v1/identity/users",
                       R"({"login":"Rest-Profile","password":")" + std::string(kPassword) +
                           R"(","displayName":"Rest P."})",
                       "application/json");
  ASSERT_TRUE(reg);
  ASSERT_EQ(reg->status, 200) << reg->body;
  const std::string user_id = nlohmann::json::parse(reg->body)["userId"];
  auto login =
      http.Post("/v1/identity/login",
                R"({"login":"rest-profile","password":")" + std::string(kPassword) + R"("})",
                "application/json");
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  const std::string access = nlohmann::json::parse(login->body)["tokens"]["accessToken"];
  const httplib::Headers auth = {{"Authorization", "Bearer " + access}};

  const nlohmann::json expected = {{"user",
                                    {{"userId", user_id},
                                     {"login", "rest-profile"},
                                     {"displayName", "Rest P."},
                                     {"createTime", "2023-11-14T22:13:20Z"}}}};
  auto lookup = http.Get("/v1/identity/users:lookup?login=REST-PROFILE", auth);
  ASSERT_TRUE(lookup);
  ASSERT_EQ(lookup->status, 200) << lookup->body;
  EXPECT_EQ(nlohmann::json::parse(lookup->body), expected);  // exactly these fields
  auto get = http.Get("/v1/identity/users/" + user_id, auth);
  ASSERT_TRUE(get);
  ASSERT_EQ(get->status, 200) << get->body;
  EXPECT_EQ(nlohmann::json::parse(get->body), expected);

  auto anonymous = http.Get("/v1/identity/users:lookup?login=rest-profile");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401) << anonymous->body;
  auto missing = http.Get("/v1/identity/users:lookup?login=missing-person", auth);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404) << missing->body;
  EXPECT_EQ(nlohmann::json::parse(missing->body)["code"], 5);  // NOT_FOUND
  EXPECT_EQ(missing->body.find("missing-person"), std::string::npos);
  auto malformed = http.Get("/v1/identity/users/not-a-uuid", auth);
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400) << malformed->body;
  EXPECT_EQ(nlohmann::json::parse(malformed->body)["message"], "user_id: not a UUID");
  auto unknown = http.Get("/v1/identity/users/123e4567-e89b-42d3-a456-426614174000", auth);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404) << unknown->body;
}

}  // namespace
}  // namespace coffer::identity
