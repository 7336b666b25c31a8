// The vault's IdentityUserDirectory against the real coffer-identity app (PostgreSQL, gRPC on
// loopback): the two services agree on LookupUser / GetUser, tokens and error codes.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "coffer/identity/v1/identity.grpc.pb.h"
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

class IdentityUserDirectoryPgTest : public ::testing::Test {
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
    config.lookup_limit_per_subject = 3;
    COFFER_ASSERT_OK_AND_ASSIGN(app_, IdentityApp::Start(config, clock_));
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(app_->grpc_port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::IdentityService::NewStub(channel_);
    directory_ = std::make_unique<vault::app::IdentityUserDirectory>(
        channel_, std::chrono::seconds(10), vault::app::UserDirectoryCacheOptions{}, clock_);
  }

  // Registers `login` and returns {user id, access token}.
  std::pair<std::string, std::string> NewUser(const std::string& login,
                                              const std::string& display_name = "") {
    v1::RegisterRequest reg;
    reg.set_login(login);
    reg.set_password(kPassword);
    reg.set_display_name(display_name);
    v1::RegisterResponse registered;
    grpc::ClientContext c1;
    EXPECT_TRUE(stub_->Register(&c1, reg, &registered).ok());
    v1::LoginRequest login_req;
    login_req.set_login(login);
    login_req.set_password(kPassword);
    v1::LoginResponse logged_in;
    grpc::ClientContext c2;
    EXPECT_TRUE(stub_->Login(&c2, login_req, &logged_in).ok());
    return {registered.user_id(), logged_in.tokens().access_token()};
  }

  std::unique_ptr<coffer::testing::PgTestDatabase> db_;
  auth::FakeClock clock_;
  std::unique_ptr<IdentityApp> app_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::IdentityService::Stub> stub_;
  std::unique_ptr<vault::app::IdentityUserDirectory> directory_;
};

TEST_F(IdentityUserDirectoryPgTest, LooksUpAndGetsUsersWithTheCallersToken) {
  const auto [alice_id, alice_token] = NewUser("Alice", "Alice Liddell");
  const auto [bob_id, bob_token] = NewUser("bob");

  auto alice = directory_->LookupLogin(bob_token, "ALICE");
  ASSERT_THAT(alice, IsOk());
  EXPECT_EQ(alice->user_id, alice_id);
  EXPECT_EQ(alice->login, "alice");
  EXPECT_EQ(alice->display_name, "Alice Liddell");
  EXPECT_EQ(alice->created_at_ms, 1'700'000'000'000);

  auto bob = directory_->GetUser(alice_token, bob_id);
  ASSERT_THAT(bob, IsOk());
  EXPECT_EQ(bob->login, "bob");
  EXPECT_EQ(bob->display_name, "");

  EXPECT_THAT(directory_->LookupLogin(bob_token, "carol"),
              StatusIs(absl::StatusCode::kNotFound, "no user with this login"));
  EXPECT_THAT(directory_->GetUser(bob_token, "123e4567-e89b-42d3-a456-426614174000"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(directory_->GetUser(bob_token, "bob"),
              StatusIs(absl::StatusCode::kInvalidArgument, "user_id: not a UUID"));
  EXPECT_THAT(directory_->LookupLogin("not-a-token", "alice"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // Identity's per-caller lookup limit (3 here) reaches the vault's caller: bob used 2.
  EXPECT_THAT(directory_->LookupLogin(bob_token, "alice"), IsOk());
  EXPECT_THAT(directory_->LookupLogin(bob_token, "alice"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(directory_->LookupLogin(alice_token, "bob"), IsOk());
}

}  // namespace
}  // namespace coffer::identity
