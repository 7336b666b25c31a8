// IdentityService use cases over the in-memory repositories, with an injected clock.
#include "services/identity/service/identity_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "pkg/auth/jwt.h"
#include "pkg/auth/token_rejection.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/keyring.h"
#include "pkg/status/status.h"
#include "pkg/testing/status_matchers.h"
#include "services/identity/domain/scopes.h"
#include "services/identity/domain/validation.h"
#include "services/identity/repository/in_memory_repositories.h"

namespace coffer::identity {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassword[] = "correct horse battery staple";
constexpr char kAdminId[] = "root-admin";
constexpr char kAdminSecret[] = "bootstrap-secret-0123456789";

IdentityServiceConfig FastConfig() {
  IdentityServiceConfig c;
  c.password_hash.ops_limit = 1;
  c.password_hash.mem_limit = 8 * 1024;  // libsodium's minimum: fast tests
  c.bootstrap_admin_client_id = kAdminId;
  c.bootstrap_admin_client_secret = kAdminSecret;
  return c;
}

class IdentityServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(FastConfig()); }

  void Build(IdentityServiceConfig config) {
    keyring_.emplace(*crypto::Keyring::Parse("k1:" + crypto::Base64Encode(std::string(32, 'k'))));
    KeySchedule schedule;
    schedule.rotation_interval = std::chrono::hours(24);
    schedule.retention = std::chrono::minutes(20);
    keys_ = std::make_unique<SigningKeyManager>(key_repo_, *keyring_, clock_, schedule,
                                                std::chrono::seconds(30), nullptr);
    ASSERT_THAT(keys_->Init(), IsOk());
    service_ = std::make_unique<IdentityService>(std::move(config), users_, accounts_, sessions_,
                                                 *keys_, clock_, nullptr);
    ASSERT_THAT(service_->Bootstrap(), IsOk());
  }

  RequestContext Peer(const std::string& address = "10.0.0.1") {
    return RequestContext{"", address};
  }
  RequestContext Bearer(const std::string& token) { return RequestContext{token, "10.0.0.1"}; }

  std::string RegisterUser(const std::string& login) {
    auto id = service_->Register(Peer(), login, kPassword);
    EXPECT_THAT(id, IsOk());
    return id.ok() ? *id : "";
  }

  IssuedTokens LoginUser(const std::string& login) {
    auto t = service_->Login(Peer(), login, kPassword, "");
    EXPECT_THAT(t, IsOk());
    return t.ok() ? *t : IssuedTokens{};
  }

  std::string AdminToken() {
    auto t = service_->ClientCredentials(kAdminId, kAdminSecret, "");
    EXPECT_THAT(t, IsOk());
    return t.ok() ? t->access_token : "";
  }

  Caller IntrospectorCaller() {
    return Caller{"vault", {std::string(kIntrospectScope)}, "vault", ""};
  }

  auth::FakeClock clock_;
  std::optional<crypto::Keyring> keyring_;
  InMemoryUserRepository users_;
  InMemoryServiceAccountRepository accounts_;
  InMemorySessionRepository sessions_;
  InMemorySigningKeyRepository key_repo_;
  std::unique_ptr<SigningKeyManager> keys_;
  std::unique_ptr<IdentityService> service_;
};

TEST_F(IdentityServiceTest, RegisterLoginIssuesWellFormedTokens) {
  const std::string id = RegisterUser("Alice");
  EXPECT_TRUE(IsUuid(id));
  const IssuedTokens t = LoginUser("ALICE");
  EXPECT_EQ(t.expires_in, 900);
  EXPECT_EQ(t.scope, "vault");
  EXPECT_THAT(t.refresh_token, ::testing::StartsWith("cfr_"));

  auto decoded = auth::DecodeUnverified(t.access_token);
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->alg, "EdDSA");
  const auth::Claims& c = decoded->claims;
  EXPECT_EQ(c.iss, "coffer-identity");
  EXPECT_EQ(c.sub, id);
  EXPECT_THAT(c.aud, ElementsAre("coffer"));
  EXPECT_EQ(*c.iat, absl::ToUnixSeconds(clock_.Now()));
  EXPECT_EQ(*c.nbf, *c.iat);
  EXPECT_EQ(*c.exp, *c.iat + 900);
  EXPECT_FALSE(c.jti.empty());
  EXPECT_THAT(c.scope, ElementsAre("vault"));

  auto caller = service_->Authenticate(t.access_token);
  ASSERT_THAT(caller, IsOk());
  EXPECT_EQ(caller->subject, id);

  auto who = service_->WhoAmI(Bearer(t.access_token));
  ASSERT_THAT(who, IsOk());
  EXPECT_EQ(who->login, "alice");
  EXPECT_FALSE(who->is_service_account);
}

TEST_F(IdentityServiceTest, LoginsAreUniqueCaseInsensitively) {
  RegisterUser("bob.smith");
  EXPECT_THAT(service_->Register(Peer("10.0.0.2"), "Bob.Smith", kPassword),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(IdentityServiceTest, FailedLoginDoesNotRevealWhetherLoginExists) {
  RegisterUser("carol");
  auto wrong_password = service_->Login(Peer(), "carol", "not the password!", "");
  auto unknown_login = service_->Login(Peer(), "nobody", kPassword, "");
  EXPECT_THAT(wrong_password, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(unknown_login, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(wrong_password.status().message(), unknown_login.status().message());
}

TEST_F(IdentityServiceTest, BadInputIsRejectedWithoutChangingState) {
  EXPECT_THAT(service_->Register(Peer(), "", kPassword),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("login")));
  EXPECT_THAT(service_->Register(Peer(), "dave\xFF", kPassword),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(service_->Register(Peer(), "dave", "short"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least 12")));
  EXPECT_THAT(service_->Register(Peer(), "dave", "pass\xC3word-long-enough"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("UTF-8")));
  EXPECT_THAT(service_->Register(Peer(), "dave", std::string(2000, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too long")));
  EXPECT_THAT(users_.FindByLogin("dave"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_->Login(Peer(), "dave", "", ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(service_->Refresh(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(service_->Refresh(std::string(10000, 'r')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(service_->Refresh("cfr_unknown"), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(IdentityServiceTest, LoginIsRateLimitedPerLoginWithRetryInfo) {
  RegisterUser("erin");
  // Default: 10 attempts per login per minute, from many addresses.
  for (int i = 0; i < 10; ++i) {
    EXPECT_THAT(
        service_->Login(Peer("10.1.0." + std::to_string(i)), "erin", "wrong password!!", ""),
        StatusIs(absl::StatusCode::kUnauthenticated));
  }
  auto limited = service_->Login(Peer("10.2.0.1"), "erin", kPassword, "");
  EXPECT_THAT(limited, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("retry after 6s")));
  auto retry = status::RetryAfter(limited.status());
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->count(), 6);
  clock_.Advance(absl::Seconds(6));
  EXPECT_THAT(service_->Login(Peer("10.2.0.1"), "erin", kPassword, ""), IsOk());
}

TEST_F(IdentityServiceTest, LoginIsRateLimitedPerAddress) {
  // Default: 30 attempts per address per minute, whatever the logins.
  for (int i = 0; i < 30; ++i) {
    EXPECT_THAT(service_->Login(Peer("10.9.9.9"), "user" + std::to_string(i), kPassword, ""),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
  EXPECT_THAT(service_->Login(Peer("10.9.9.9"), "another", kPassword, ""),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(service_->Login(Peer("10.9.9.8"), "another", kPassword, ""),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // An untrusted peer cannot dodge the limit by naming another client address.
  EXPECT_THAT(service_->Login(Peer("10.9.9.9"), "another", kPassword, "192.0.2.1"),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(IdentityServiceTest, RegisterIsRateLimitedPerAddress) {
  for (int i = 0; i < 10; ++i) RegisterUser("reg" + std::to_string(i));
  EXPECT_THAT(service_->Register(Peer(), "reg10", kPassword),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(users_.FindByLogin("reg10"), StatusIs(absl::StatusCode::kNotFound));
}

// Every Argon2id use waits for a slot: with all slots held (here by a test thread), Login (known
// and unknown logins alike, the latter's dummy verification included) and Register give up after
// the queue timeout with RESOURCE_EXHAUSTED and a retry delay, and change nothing.
TEST_F(IdentityServiceTest, LoginAndRegisterAreRefusedWhileEveryArgon2SlotIsBusy) {
  IdentityServiceConfig config = FastConfig();
  config.max_concurrent_password_hashes = 1;
  config.password_hash_queue_timeout = std::chrono::milliseconds(20);
  Build(config);
  RegisterUser("trent");

  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::thread holder([&] {
    EXPECT_THAT(service_->password_hasher().RunInSlot([&] { released.wait(); }), IsOk());
  });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (service_->password_hasher().stats().in_flight != 1 &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(service_->password_hasher().stats().in_flight, 1);

  for (const char* login : {"trent", "nobody-here"}) {
    auto refused = service_->Login(Peer(), login, kPassword, "");
    EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted,
                                  HasSubstr("too many logins in progress; retry after 1s")))
        << login;
    auto retry = status::RetryAfter(refused.status());
    ASSERT_TRUE(retry.has_value());
    EXPECT_EQ(retry->count(), 1);
  }
  EXPECT_THAT(service_->Register(Peer(), "victor", kPassword),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("too many registrations in progress")));
  EXPECT_THAT(users_.FindByLogin("victor"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(service_->password_hasher().stats().refused, 3u);

  release.set_value();
  holder.join();
  LoginUser("trent");
  RegisterUser("victor");
  EXPECT_EQ(service_->password_hasher().stats().max_in_flight, 1);
}

TEST_F(IdentityServiceTest, RefreshRotatesAndReuseRevokesTheFamily) {
  RegisterUser("frank");
  const IssuedTokens first = LoginUser("frank");
  auto second = service_->Refresh(first.refresh_token);
  ASSERT_THAT(second, IsOk());
  EXPECT_NE(second->refresh_token, first.refresh_token);
  EXPECT_THAT(service_->Authenticate(second->access_token), IsOk());

  // Replaying the consumed token: reuse detected, family revoked.
  EXPECT_THAT(service_->Refresh(first.refresh_token),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("reuse")));
  EXPECT_THAT(service_->Refresh(second->refresh_token),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("revoked")));
  // The session's access tokens die with it.
  EXPECT_THAT(service_->Authenticate(second->access_token),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("revoked")));
  EXPECT_THAT(service_->Authenticate(first.access_token),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // Another session of the same user is unaffected.
  EXPECT_THAT(service_->Authenticate(LoginUser("frank").access_token), IsOk());
}

TEST_F(IdentityServiceTest, TokensExpire) {
  RegisterUser("grace");
  const IssuedTokens t = LoginUser("grace");
  clock_.Advance(absl::Minutes(15) - absl::Seconds(1));
  EXPECT_THAT(service_->Authenticate(t.access_token), IsOk());
  clock_.Advance(absl::Seconds(1) + absl::Seconds(5));  // + leeway
  EXPECT_THAT(service_->Authenticate(t.access_token),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired")));
  auto info = service_->Introspect(IntrospectorCaller(), t.access_token);
  ASSERT_THAT(info, IsOk());
  EXPECT_FALSE(info->active);
  // The refresh token lives 30 days.
  clock_.Advance(absl::Hours(24 * 30));
  EXPECT_THAT(service_->Refresh(t.refresh_token),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired")));
}

TEST_F(IdentityServiceTest, ForgedAndAlteredTokensAreRejected) {
  RegisterUser("heidi");
  const IssuedTokens t = LoginUser("heidi");
  auto decoded = *auth::DecodeUnverified(t.access_token);
  const std::string header_b64 = t.access_token.substr(0, t.access_token.find('.'));

  // alg=none.
  const std::string none_header = crypto::Base64UrlEncode(R"({"alg":"none","typ":"JWT"})");
  const std::string payload = decoded.signing_input.substr(decoded.signing_input.find('.') + 1);
  EXPECT_THAT(service_->Authenticate(none_header + "." + payload + "."),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // Altered payload (scope escalation), original signature.
  auth::Claims escalated = decoded.claims;
  escalated.scope = {"vault", std::string(kAdminScope)};
  const std::string altered = header_b64 + "." +
                              crypto::Base64UrlEncode(auth::ClaimsToJson(escalated)->dump()) +
                              t.access_token.substr(t.access_token.rfind('.'));
  EXPECT_THAT(service_->Authenticate(altered),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
  // Signed by another key under the real kid.
  auto other = *crypto::Ed25519PrivateKey::Generate();
  EXPECT_THAT(service_->Authenticate(*auth::SignJwt(decoded.claims, decoded.kid, other)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
  // Unknown kid.
  EXPECT_THAT(service_->Authenticate(*auth::SignJwt(decoded.claims, "nope", other)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown key")));
  // Correct key, wrong issuer / audience.
  auto signer = *keys_->CurrentSigner();
  auth::Claims wrong_iss = decoded.claims;
  wrong_iss.iss = "evil";
  EXPECT_THAT(service_->Authenticate(*auth::SignJwt(wrong_iss, signer.kid, signer.key)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("issuer")));
  auth::Claims wrong_aud = decoded.claims;
  wrong_aud.aud = {"other"};
  EXPECT_THAT(service_->Authenticate(*auth::SignJwt(wrong_aud, signer.kid, signer.key)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("audience")));
  // Garbage.
  EXPECT_THAT(service_->Authenticate("not-a-jwt"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(service_->Authenticate(""), StatusIs(absl::StatusCode::kUnauthenticated));
  // The original still works: none of the above changed anything.
  EXPECT_THAT(service_->Authenticate(t.access_token), IsOk());
}

// Identity verifies through pkg/auth's TokenVerifier but answers with its own messages, which
// clients have always seen, and every refusal of the token itself carries the typed reason.
TEST_F(IdentityServiceTest, RejectionsKeepIdentityMessagesAndCarryTypedReasons) {
  RegisterUser("rita");
  const IssuedTokens t = LoginUser("rita");
  const auth::DecodedJwt decoded = *auth::DecodeUnverified(t.access_token);
  const auto signer = *keys_->CurrentSigner();
  auto signed_with = [&](const auth::Claims& c) {
    return *auth::SignJwt(c, signer.kid, signer.key);
  };
  auto expect = [&](const std::string& token, const std::string& message,
                    std::optional<auth::TokenRejection> why) {
    auto r = service_->Authenticate(token);
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kUnauthenticated, message));
    EXPECT_EQ(auth::TokenRejectionOf(r.status()), why) << message;
  };
  using auth::TokenRejection;
  expect("", "missing bearer token (authorization: Bearer <token>)", std::nullopt);
  expect("not-a-jwt", "access token is malformed", TokenRejection::kMalformed);
  expect(std::string(kMaxTokenBytes + 1, 'a'), "access token is too long",
         TokenRejection::kMalformed);
  expect(*auth::SignJwt(decoded.claims, "", signer.key), "access token has no key id",
         TokenRejection::kMalformed);
  const std::string payload = decoded.signing_input.substr(decoded.signing_input.find('.') + 1);
  expect(crypto::Base64UrlEncode(R"({"alg":"HS256","kid":"x"})") + "." + payload + ".c2ln",
         "access token algorithm is not accepted (only EdDSA)",
         TokenRejection::kUnsupportedAlgorithm);
  auto other = *crypto::Ed25519PrivateKey::Generate();
  expect(*auth::SignJwt(decoded.claims, "nope", other), "access token is signed by an unknown key",
         TokenRejection::kUnknownKey);
  expect(*auth::SignJwt(decoded.claims, signer.kid, other), "access token signature is invalid",
         TokenRejection::kBadSignature);
  auth::Claims c = decoded.claims;
  c.iss = "evil";
  expect(signed_with(c), "access token issuer is wrong", TokenRejection::kWrongIssuer);
  c = decoded.claims;
  c.aud = {"other"};
  expect(signed_with(c), "access token audience is wrong", TokenRejection::kWrongAudience);
  c = decoded.claims;
  c.jti.clear();
  expect(signed_with(c), "access token lacks required claims", TokenRejection::kMalformed);
  c = decoded.claims;
  c.exp.reset();
  expect(signed_with(c), "access token lacks required claims", TokenRejection::kMalformed);
  c = decoded.claims;
  c.nbf = *c.iat + 60;
  expect(signed_with(c), "access token is not valid yet", TokenRejection::kNotYetValid);
  const std::string later = LoginUser("rita").access_token;
  ASSERT_THAT(service_->Logout(Bearer(t.access_token), ""), IsOk());
  expect(t.access_token, "access token has been revoked", TokenRejection::kInactive);
  clock_.Advance(absl::Minutes(16));
  expect(later, "access token has expired", TokenRejection::kExpired);
}

TEST_F(IdentityServiceTest, ExpiredAccessTokensCanStillEndTheirSessions) {
  RegisterUser("sybil");
  const IssuedTokens first = LoginUser("sybil");
  const IssuedTokens second = LoginUser("sybil");
  clock_.Advance(absl::Minutes(16));
  ASSERT_THAT(service_->Authenticate(first.access_token),
              StatusIs(absl::StatusCode::kUnauthenticated, "access token has expired"));
  // Logout with an expired access token ends its session.
  ASSERT_THAT(service_->Logout(Bearer(first.access_token), ""), IsOk());
  EXPECT_THAT(service_->Refresh(first.refresh_token),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("revoked")));
  // Revoking an expired access token (by its owner) ends its session too.
  const std::string fresh = LoginUser("sybil").access_token;
  ASSERT_THAT(service_->Revoke(Bearer(fresh), second.access_token, "access_token"), IsOk());
  EXPECT_THAT(service_->Refresh(second.refresh_token),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("revoked")));
  // A token that is not ours is ignored, not an error.
  auto other = *crypto::Ed25519PrivateKey::Generate();
  const auth::Claims claims = auth::DecodeUnverified(fresh)->claims;
  EXPECT_THAT(service_->Logout(Bearer(*auth::SignJwt(claims, "nope", other)), ""), IsOk());
  EXPECT_THAT(service_->Revoke(Bearer(fresh), *auth::SignJwt(claims, "nope", other), ""), IsOk());
  EXPECT_THAT(service_->Authenticate(fresh), IsOk());
}

TEST_F(IdentityServiceTest, LogoutRevokesRefreshFamilyAndAccessToken) {
  RegisterUser("ivan");
  const IssuedTokens t = LoginUser("ivan");
  ASSERT_THAT(service_->Logout(Bearer(t.access_token), t.refresh_token), IsOk());
  EXPECT_THAT(service_->Authenticate(t.access_token),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("revoked")));
  EXPECT_THAT(service_->Refresh(t.refresh_token),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("revoked")));
  auto info = service_->Introspect(IntrospectorCaller(), t.access_token);
  ASSERT_THAT(info, IsOk());
  EXPECT_FALSE(info->active);
  // Idempotent, also for unknown tokens.
  EXPECT_THAT(service_->Logout(Peer(), t.refresh_token), IsOk());
  EXPECT_THAT(service_->Logout(Peer(), "cfr_unknown"), IsOk());
  EXPECT_THAT(service_->Logout(Peer(), ""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(IdentityServiceTest, RevokeOnlyAffectsOwnTokensUnlessAdmin) {
  RegisterUser("judy");
  RegisterUser("mallory");
  const IssuedTokens judy = LoginUser("judy");
  const IssuedTokens mallory = LoginUser("mallory");
  // Mallory cannot revoke Judy's tokens (succeeds without effect).
  EXPECT_THAT(service_->Revoke(Bearer(mallory.access_token), judy.access_token, ""), IsOk());
  EXPECT_THAT(service_->Revoke(Bearer(mallory.access_token), judy.refresh_token, ""), IsOk());
  EXPECT_THAT(service_->Authenticate(judy.access_token), IsOk());
  // Judy revokes her refresh token: the session ends.
  EXPECT_THAT(service_->Revoke(Bearer(judy.access_token), judy.refresh_token, "refresh_token"),
              IsOk());
  EXPECT_THAT(service_->Refresh(judy.refresh_token), StatusIs(absl::StatusCode::kUnauthenticated));
  // An admin revokes Mallory's access token.
  EXPECT_THAT(service_->Revoke(Bearer(AdminToken()), mallory.access_token, ""), IsOk());
  EXPECT_THAT(service_->Authenticate(mallory.access_token),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(service_->Revoke(Bearer(AdminToken()), "x", "bogus"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(service_->Revoke(Peer(), "x", ""), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(IdentityServiceTest, IntrospectionRules) {
  const std::string id = RegisterUser("ken");
  const IssuedTokens t = LoginUser("ken");
  auto info = service_->Introspect(IntrospectorCaller(), t.access_token);
  ASSERT_THAT(info, IsOk());
  EXPECT_TRUE(info->active);
  EXPECT_EQ(info->sub, id);
  EXPECT_EQ(info->scope, "vault");
  EXPECT_EQ(info->token_type, "access_token");
  EXPECT_EQ(info->exp, absl::ToUnixSeconds(clock_.Now()) + 900);
  auto refresh = service_->Introspect(IntrospectorCaller(), t.refresh_token);
  ASSERT_THAT(refresh, IsOk());
  EXPECT_TRUE(refresh->active);
  EXPECT_EQ(refresh->token_type, "refresh_token");
  EXPECT_FALSE(service_->Introspect(IntrospectorCaller(), "garbage")->active);

  // A caller without the scope may introspect only its own token.
  Caller self = *service_->Authenticate(t.access_token);
  EXPECT_TRUE(service_->Introspect(self, t.access_token)->active);
  RegisterUser("leo");
  EXPECT_THAT(service_->Introspect(self, LoginUser("leo").access_token),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(service_->Introspect(self, "garbage"), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(IdentityServiceTest, ServiceAccountsLifecycle) {
  const std::string admin = AdminToken();
  auto created = service_->CreateServiceAccount(Bearer(admin), "vault-shard-a",
                                                {"vault", std::string(kIntrospectScope)});
  ASSERT_THAT(created, IsOk());
  EXPECT_THAT(created->client_secret, Not(::testing::IsEmpty()));
  // The secret is stored only hashed.
  auto stored = accounts_.FindByClientId(created->client_id);
  ASSERT_THAT(stored, IsOk());
  EXPECT_NE(stored->secret_hash, created->client_secret);
  EXPECT_THAT(stored->secret_hash, Not(HasSubstr(created->client_secret)));

  auto token = service_->ClientCredentials(created->client_id, created->client_secret, "vault");
  ASSERT_THAT(token, IsOk());
  EXPECT_EQ(token->scope, "vault");
  EXPECT_TRUE(token->refresh_token.empty());
  auto claims = auth::DecodeUnverified(token->access_token)->claims;
  EXPECT_EQ(claims.sub, created->client_id);
  EXPECT_EQ(claims.client_id, created->client_id);
  auto who = service_->WhoAmI(Bearer(token->access_token));
  ASSERT_THAT(who, IsOk());
  EXPECT_TRUE(who->is_service_account);
  EXPECT_EQ(who->login, "vault-shard-a");

  EXPECT_THAT(service_->ClientCredentials(created->client_id, created->client_secret,
                                          std::string(kAdminScope)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  auto wrong_secret = service_->ClientCredentials(created->client_id, "wrong", "");
  auto unknown_id = service_->ClientCredentials("sa_unknown", "wrong", "");
  EXPECT_THAT(wrong_secret, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(wrong_secret.status().message(), unknown_id.status().message());
  // Non-admins cannot manage accounts.
  EXPECT_THAT(service_->CreateServiceAccount(Bearer(token->access_token), "x", {}),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(service_->CreateServiceAccount(Bearer(admin), "vault-shard-a", {}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(service_->CreateServiceAccount(Bearer(admin), "bad name", {}),
              StatusIs(absl::StatusCode::kInvalidArgument));

  // Pagination over {root-admin, sa1, sa2, vault-shard-a}, ordered by name.
  ASSERT_THAT(service_->CreateServiceAccount(Bearer(admin), "sa1", {}), IsOk());
  ASSERT_THAT(service_->CreateServiceAccount(Bearer(admin), "sa2", {}), IsOk());
  auto page1 = service_->ListServiceAccounts(Bearer(admin), 3, "");
  ASSERT_THAT(page1, IsOk());
  ASSERT_EQ(page1->accounts.size(), 3u);
  EXPECT_EQ(page1->accounts[0].name, kAdminId);
  EXPECT_EQ(page1->accounts[2].name, "sa2");
  auto page2 = service_->ListServiceAccounts(Bearer(admin), 3, page1->next_page_token);
  ASSERT_THAT(page2, IsOk());
  ASSERT_EQ(page2->accounts.size(), 1u);
  EXPECT_EQ(page2->accounts[0].name, "vault-shard-a");
  EXPECT_TRUE(page2->next_page_token.empty());
  EXPECT_THAT(service_->ListServiceAccounts(Bearer(admin), 3, "!!"),
              StatusIs(absl::StatusCode::kInvalidArgument));

  // Deleting the account kills its tokens.
  ASSERT_THAT(service_->DeleteServiceAccount(Bearer(admin), created->client_id), IsOk());
  EXPECT_THAT(service_->Authenticate(token->access_token),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_FALSE(service_->Introspect(IntrospectorCaller(), token->access_token)->active);
  EXPECT_THAT(service_->DeleteServiceAccount(Bearer(admin), created->client_id),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(IdentityServiceTest, RehashesOnLoginWhenParametersWereRaised) {
  const std::string id = RegisterUser("olivia");
  const std::string old_hash = users_.FindById(id)->password_hash;
  EXPECT_THAT(old_hash, HasSubstr("t=1"));
  IdentityServiceConfig stronger = FastConfig();
  stronger.password_hash.ops_limit = 2;
  service_ = std::make_unique<IdentityService>(stronger, users_, accounts_, sessions_, *keys_,
                                               clock_, nullptr);
  ASSERT_THAT(service_->Bootstrap(), IsOk());
  LoginUser("olivia");
  const std::string new_hash = users_.FindById(id)->password_hash;
  EXPECT_NE(new_hash, old_hash);
  EXPECT_THAT(new_hash, HasSubstr("t=2"));
  LoginUser("olivia");  // the new hash verifies
}

TEST_F(IdentityServiceTest, RotationKeepsOldTokensValidDuringOverlap) {
  RegisterUser("peggy");
  const IssuedTokens before = LoginUser("peggy");
  auto admin = AdminToken();
  auto new_kid = service_->RotateSigningKey(Bearer(admin));
  ASSERT_THAT(new_kid, IsOk());
  // The new key is published at once but signs only after the pre-publication period (60 s).
  EXPECT_EQ(service_->GetJwks().keys.size(), 2u);
  const IssuedTokens meanwhile = LoginUser("peggy");
  EXPECT_EQ(auth::DecodeUnverified(meanwhile.access_token)->kid,
            auth::DecodeUnverified(before.access_token)->kid);
  clock_.Advance(absl::Seconds(60));
  const IssuedTokens after = LoginUser("peggy");
  EXPECT_EQ(auth::DecodeUnverified(after.access_token)->kid, *new_kid);
  EXPECT_NE(auth::DecodeUnverified(before.access_token)->kid, *new_kid);
  EXPECT_THAT(service_->Authenticate(before.access_token), IsOk());
  EXPECT_THAT(service_->Authenticate(after.access_token), IsOk());
  EXPECT_EQ(service_->GetJwks().keys.size(), 2u);
  EXPECT_THAT(service_->RotateSigningKey(Bearer(before.access_token)),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

// ---- public profiles: LookupUser, GetUser, display names ----

TEST_F(IdentityServiceTest, LookupUserMatchesTheExactNormalizedLoginOnly) {
  const std::string snowman = "\xE2\x98\x83";  // U+2603, three bytes
  auto id = service_->Register(Peer(), "Alice.Smith", kPassword, "Alice Smith " + snowman);
  ASSERT_THAT(id, IsOk());
  const Time registered = absl::ToChronoTime(clock_.Now());
  clock_.Advance(absl::Minutes(1));
  RegisterUser("bob");
  const std::string bob = LoginUser("bob").access_token;

  for (const char* login : {"alice.smith", "ALICE.SMITH", "Alice.Smith"}) {
    auto found = service_->LookupUser(Bearer(bob), login);
    ASSERT_THAT(found, IsOk()) << login;
    EXPECT_EQ(found->user_id, *id);
    EXPECT_EQ(found->login, "alice.smith");
    EXPECT_EQ(found->display_name, "Alice Smith " + snowman);
    EXPECT_EQ(found->created_at, registered);
  }
  // No prefixes, suffixes or patterns: only the whole login matches.
  for (const char* login : {"alice", "alice.smit", "alice.smith2", "lice.smith"}) {
    EXPECT_THAT(service_->LookupUser(Bearer(bob), login),
                StatusIs(absl::StatusCode::kNotFound, "no user with this login"))
        << login;
  }
  // A login that could never be registered is malformed, not merely absent.
  for (const char* login : {"", "al", "alice*", "alice smith", "alice.smith%"}) {
    EXPECT_THAT(service_->LookupUser(Bearer(bob), login),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << login;
  }
  // A user may look themselves up.
  auto self = service_->LookupUser(Bearer(bob), "bob");
  ASSERT_THAT(self, IsOk());
  EXPECT_EQ(self->display_name, "");
}

TEST_F(IdentityServiceTest, LookupUserNeedsALiveAccessTokenAndNeverEchoesTheLogin) {
  RegisterUser("carol");
  EXPECT_THAT(service_->LookupUser(Peer(), "carol"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(service_->LookupUser(Bearer("garbage"), "carol"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  const IssuedTokens t = LoginUser("carol");
  ASSERT_THAT(service_->LookupUser(Bearer(t.access_token), "carol"), IsOk());
  ASSERT_THAT(service_->Logout(Bearer(t.access_token), t.refresh_token), IsOk());
  EXPECT_THAT(service_->LookupUser(Bearer(t.access_token), "carol"),
              StatusIs(absl::StatusCode::kUnauthenticated));

  const std::string token = LoginUser("carol").access_token;
  for (const std::string& login :
       {std::string("someone.secret"), std::string("someone secret"), std::string(80, 'q')}) {
    auto r = service_->LookupUser(Bearer(token), login);
    EXPECT_FALSE(r.ok());
    EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("secret")));
    EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("qqq")));
  }
}

TEST_F(IdentityServiceTest, ServiceAccountsMayLookUpButHaveNoProfile) {
  const std::string id = RegisterUser("dana");
  const std::string admin = AdminToken();
  auto found = service_->LookupUser(Bearer(admin), "dana");
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(found->user_id, id);
  EXPECT_THAT(service_->GetUser(Bearer(admin), id), IsOk());
  // The bootstrap admin's name is a valid login, but a service account is not a user.
  EXPECT_THAT(service_->LookupUser(Bearer(admin), kAdminId), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_->GetUser(Bearer(admin), kAdminId),
              StatusIs(absl::StatusCode::kInvalidArgument, "user_id: not a UUID"));
}

TEST_F(IdentityServiceTest, LookupUserIsRateLimitedPerCaller) {
  IdentityServiceConfig config = FastConfig();
  config.lookup_per_subject = {3, std::chrono::seconds(60)};
  Build(config);
  RegisterUser("erin");
  const std::string frank_id = RegisterUser("frank");
  const std::string erin = LoginUser("erin").access_token;
  const std::string frank = LoginUser("frank").access_token;
  // Found and not found both count.
  EXPECT_THAT(service_->LookupUser(Bearer(erin), "frank"), IsOk());
  EXPECT_THAT(service_->LookupUser(Bearer(erin), "nobody"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_->LookupUser(Bearer(erin), "frank"), IsOk());
  auto limited = service_->LookupUser(Bearer(erin), "frank");
  EXPECT_THAT(limited,
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("retry after 20s")));
  EXPECT_THAT(std::string(limited.status().message()), Not(HasSubstr("frank")));
  auto retry = status::RetryAfter(limited.status());
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->count(), 20);
  // Per subject: a new token of the same user does not reset it, another user is unaffected.
  EXPECT_THAT(service_->LookupUser(Bearer(LoginUser("erin").access_token), "frank"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(service_->LookupUser(Bearer(frank), "erin"), IsOk());
  // GetUser is not limited by it.
  EXPECT_THAT(service_->GetUser(Bearer(erin), frank_id), IsOk());
  clock_.Advance(absl::Seconds(20));
  EXPECT_THAT(service_->LookupUser(Bearer(erin), "frank"), IsOk());
  EXPECT_THAT(service_->LookupUser(Bearer(erin), "frank"),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(IdentityServiceTest, GetUserByIdMalformedUnknownAndKnown) {
  const std::string id = service_->Register(Peer(), "gina", kPassword, "Gina").value();
  const std::string token = LoginUser("gina").access_token;
  auto found = service_->GetUser(Bearer(token), id);
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(found->user_id, id);
  EXPECT_EQ(found->login, "gina");
  EXPECT_EQ(found->display_name, "Gina");
  // UUIDs are case-insensitive; the answer carries the canonical lowercase id.
  std::string upper = id;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_NE(upper, id);
  auto by_upper = service_->GetUser(Bearer(token), upper);
  ASSERT_THAT(by_upper, IsOk());
  EXPECT_EQ(by_upper->user_id, id);

  EXPECT_THAT(service_->GetUser(Bearer(token), "123e4567-e89b-42d3-a456-426614174000"),
              StatusIs(absl::StatusCode::kNotFound));
  for (const std::string& bad :
       {std::string(""), std::string("gina"), id.substr(1), id + "0", std::string(5000, 'a')}) {
    EXPECT_THAT(service_->GetUser(Bearer(token), bad),
                StatusIs(absl::StatusCode::kInvalidArgument, "user_id: not a UUID"));
  }
  EXPECT_THAT(service_->GetUser(Peer(), id), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(IdentityServiceTest, RegisterValidatesTheDisplayName) {
  std::string sixty_four;
  for (int i = 0; i < 64; ++i) sixty_four += "\xC3\xBC";  // 64 characters, 128 bytes
  const struct {
    std::string name;
    bool ok;
  } cases[] = {
      {"", true},
      {sixty_four, true},
      {sixty_four + "x", false},
      {std::string(65, 'x'), false},
      {std::string(300, 'x'), false},
      {"line\nbreak", false},
      {"tab\there", false},
      {std::string("nul\0byte", 8), false},
      {"del\x7F", false},
      {"next line\xC2\x85", false},
      {"bad\xFFutf8", false},
      {"\xED\xA0\x80", false},  // a surrogate
  };
  int n = 0;
  for (const auto& c : cases) {
    const std::string login = "name" + std::to_string(n++);
    auto r = service_->Register(Peer("10.3.0." + std::to_string(n)), login, kPassword, c.name);
    if (c.ok) {
      ASSERT_THAT(r, IsOk()) << login;
      EXPECT_EQ(users_.FindById(*r)->display_name, c.name);
    } else {
      EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("display_name")))
          << login;
      EXPECT_THAT(users_.FindByLogin(login), StatusIs(absl::StatusCode::kNotFound)) << login;
    }
  }
}

}  // namespace
}  // namespace coffer::identity
