// Signing-key rotation end to end (audit M2): the real coffer-identity app (PostgreSQL, gRPC on
// loopback) pre-publishes the next key, and the vault's verifier stack (IdentityJwksSource +
// pkg/auth TokenVerifier, default options) never rejects a valid token across the switch: a
// verifier that fetched during the pre-publication (for any reason, a made-up kid included)
// knows the key already; one that did not fetches once on the new kid. One injected clock drives
// identity and the verifiers, so nothing sleeps.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "coffer/identity/v1/identity.grpc.pb.h"
#include "pkg/auth/jwt.h"
#include "pkg/auth/token_verifier.h"
#include "pkg/crypto/encoding.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"
#include "services/identity/app/identity_app.h"
#include "services/vault/app/identity_clients.h"

namespace coffer::identity {
namespace {

namespace v1 = ::coffer::identity::v1;
using ::coffer::testing::IsOk;
using ::coffer::testing::StatusIs;

constexpr char kPassword[] = "correct horse battery staple";
constexpr char kAdminId[] = "rotation-admin";
constexpr char kAdminSecret[] = "rotation-admin-secret-0123456789";

class KeyRotationVerifierPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COFFER_PG_TEST_DATABASE(db_);
    IdentityConfig config;
    config.db_dsn = db_->dsn();
    config.kek = "k1:" + crypto::Base64Encode(std::string(32, 'K'));
    config.grpc_addr = "127.0.0.1:0";
    config.admin_addr = "127.0.0.1:0";
    config.http_addr = "";
    config.argon2_ops_limit = 1;
    config.argon2_memory_kib = 8;
    config.bootstrap_admin_client_id = kAdminId;
    config.bootstrap_admin_client_secret = kAdminSecret;
    ASSERT_EQ(config.key_prepublication, std::chrono::seconds(60));  // the default under test
    COFFER_ASSERT_OK_AND_ASSIGN(app_, IdentityApp::Start(config, clock_));
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(app_->grpc_port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::IdentityService::NewStub(channel_);
    v1::RegisterRequest reg;
    reg.set_login("walter");
    reg.set_password(kPassword);
    v1::RegisterResponse registered;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Register(&ctx, reg, &registered).ok());
  }

  std::string Login() {
    v1::LoginRequest req;
    req.set_login("walter");
    req.set_password(kPassword);
    v1::LoginResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Login(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.tokens().access_token();
  }

  std::string Rotate() {
    v1::ClientCredentialsRequest cc;
    cc.set_client_id(kAdminId);
    cc.set_client_secret(kAdminSecret);
    v1::ClientCredentialsResponse admin;
    grpc::ClientContext c1;
    EXPECT_TRUE(stub_->ClientCredentials(&c1, cc, &admin).ok());
    grpc::ClientContext c2;
    c2.AddMetadata("authorization", "Bearer " + admin.tokens().access_token());
    v1::RotateSigningKeyResponse rotated;
    grpc::Status s = stub_->RotateSigningKey(&c2, {}, &rotated);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return rotated.kid();
  }

  // A vault's verifier: identity's GetJwks over gRPC, the default refetch options.
  struct Vault {
    std::unique_ptr<vault::app::IdentityJwksSource> source;
    std::unique_ptr<auth::TokenVerifier> verifier;
  };
  Vault NewVault() {
    Vault v;
    v.source = std::make_unique<vault::app::IdentityJwksSource>(channel_, std::chrono::seconds(10));
    auth::TokenVerifierOptions options;
    options.issuer = "coffer-identity";
    options.audience = "coffer";
    auto verifier = auth::TokenVerifier::Create(options, *v.source, clock_);
    EXPECT_THAT(verifier, IsOk());
    v.verifier = *std::move(verifier);
    return v;
  }

  static std::string Kid(const std::string& token) { return auth::DecodeUnverified(token)->kid; }

  std::unique_ptr<coffer::testing::PgTestDatabase> db_;
  auth::FakeClock clock_;
  std::unique_ptr<IdentityApp> app_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::IdentityService::Stub> stub_;
};

TEST_F(KeyRotationVerifierPgTest, NoValidTokenIsRejectedAcrossARotation) {
  Vault early = NewVault();     // refreshes its keys during the pre-publication
  Vault attacked = NewVault();  // gets a made-up kid a second before the switch
  Vault idle = NewVault();      // fetches nothing between the rotation and the switch
  const std::string before = Login();
  const std::string old_kid = Kid(before);
  for (Vault* v : {&early, &attacked, &idle}) {
    ASSERT_THAT(v->verifier->Verify(before), IsOk());
    ASSERT_EQ(v->verifier->stats().jwks_fetches, 1u);
  }

  const std::string next_kid = Rotate();
  ASSERT_NE(next_kid, old_kid);
  clock_.Advance(absl::Seconds(30));
  // Still the old key; the early vault refetches (as its periodic refresh would) and learns the
  // next one.
  const std::string meanwhile = Login();
  EXPECT_EQ(Kid(meanwhile), old_kid);
  ASSERT_THAT(early.verifier->RefreshKeys(), IsOk());

  // A made-up kid a second before the switch: one fetch, then remembered as unknown. That fetch
  // already brings in the pre-published key.
  clock_.Advance(absl::Seconds(29));
  const std::string forged = [&] {
    const std::string header = R"({"alg":"EdDSA","kid":"made-up"})";
    const std::size_t dot1 = meanwhile.find('.');
    const std::size_t dot2 = meanwhile.rfind('.');
    return crypto::Base64UrlEncode(header) + meanwhile.substr(dot1, dot2 - dot1) +
           meanwhile.substr(dot2);
  }();
  EXPECT_THAT(attacked.verifier->Verify(forged), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(attacked.verifier->Verify(forged), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(attacked.verifier->stats().jwks_fetches, 2u);

  clock_.Advance(absl::Seconds(1));  // activation: 60 s after the rotation
  const std::string after = Login();
  ASSERT_EQ(Kid(after), next_kid);
  // Early and attacked vaults know the key already: no fetch. The idle one fetches once, on the
  // first token naming the new kid.
  EXPECT_THAT(early.verifier->Verify(after), IsOk());
  EXPECT_EQ(early.verifier->stats().jwks_fetches, 2u);
  EXPECT_THAT(attacked.verifier->Verify(after), IsOk());
  EXPECT_EQ(attacked.verifier->stats().jwks_fetches, 2u);
  EXPECT_THAT(idle.verifier->Verify(after), IsOk());
  EXPECT_EQ(idle.verifier->stats().jwks_fetches, 2u);
  // Old tokens stay valid during the overlap, everywhere.
  for (Vault* v : {&early, &attacked, &idle}) {
    EXPECT_THAT(v->verifier->Verify(meanwhile), IsOk());
  }
}

}  // namespace
}  // namespace coffer::identity
