// The Pg* repositories against a real PostgreSQL: schema, constraints, the one-statement refresh
// rotation with reuse detection, revocation, race-safe key generations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <pqxx/nontransaction>
#include <thread>
#include <vector>

#include "pkg/postgres/migrations.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"
#include "services/identity/app/identity_app.h"
#include "services/identity/repository/pg_repositories.h"
#include "services/identity/service/identity_service.h"

namespace coffer::identity {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::StatusIs;
using ::testing::ElementsAre;

const Time kT0 = Time(std::chrono::microseconds(1'700'000'000'123'456));

class IdentityRepositoriesPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COFFER_PG_TEST_DATABASE(db_);
    COFFER_ASSERT_OK_AND_ASSIGN(pool_, db_->NewPool(8));
    COFFER_ASSERT_OK_AND_ASSIGN(auto result,
                                postgres::ApplyMigrations(*pool_, IdentityMigrations()));
    ASSERT_EQ(result.applied.size(), IdentityMigrations().size());
    users_ = std::make_unique<PgUserRepository>(*pool_);
    accounts_ = std::make_unique<PgServiceAccountRepository>(*pool_);
    sessions_ = std::make_unique<PgSessionRepository>(*pool_);
    keys_ = std::make_unique<PgSigningKeyRepository>(*pool_);
  }

  User NewUser(const std::string& login) {
    User u;
    u.id = NewUuid();
    u.login = login;
    u.password_hash = "$argon2id$fake";
    u.scope = "vault";
    u.created_at = kT0;
    return u;
  }

  // Creates a user and a session; returns the family.
  RefreshFamily NewSession(const std::string& first_hash, Time expires) {
    User u = NewUser("user-" + NewUuid().substr(0, 8));
    EXPECT_THAT(users_->Create(u), IsOk());
    RefreshFamily f{NewUuid(), u.id, "vault", kT0, std::nullopt};
    RefreshToken t{first_hash, f.id, kT0, expires, std::nullopt};
    EXPECT_THAT(sessions_->CreateSession(f, t), IsOk());
    return f;
  }

  std::unique_ptr<coffer::testing::PgTestDatabase> db_;
  std::unique_ptr<postgres::ConnectionPool> pool_;
  std::unique_ptr<PgUserRepository> users_;
  std::unique_ptr<PgServiceAccountRepository> accounts_;
  std::unique_ptr<PgSessionRepository> sessions_;
  std::unique_ptr<PgSigningKeyRepository> keys_;
};

TEST_F(IdentityRepositoriesPgTest, MigrationsAreIdempotent) {
  COFFER_ASSERT_OK_AND_ASSIGN(auto again, postgres::ApplyMigrations(*pool_, IdentityMigrations()));
  EXPECT_TRUE(again.applied.empty());
  EXPECT_EQ(again.already_applied, static_cast<int>(IdentityMigrations().size()));
}

TEST_F(IdentityRepositoriesPgTest, DisplayNameRoundTripsAndIsBoundedBySchema) {
  User u = NewUser("zoe");
  u.display_name = "Zo\xC3\xAB \xF0\x9F\x98\x80";
  ASSERT_THAT(users_->Create(u), IsOk());
  EXPECT_EQ(users_->FindByLogin("zoe")->display_name, u.display_name);
  EXPECT_EQ(users_->FindById(u.id)->display_name, u.display_name);
  User plain = NewUser("yan");
  ASSERT_THAT(users_->Create(plain), IsOk());
  EXPECT_EQ(users_->FindById(plain.id)->display_name, "");
  // 64 characters (not bytes) fit; 65 are refused by the schema even if a bug let them through.
  User wide = NewUser("xia");
  for (int i = 0; i < 64; ++i) wide.display_name += "\xC3\xBC";
  ASSERT_THAT(users_->Create(wide), IsOk());
  User too_long = NewUser("wes");
  too_long.display_name = std::string(65, 'w');
  EXPECT_THAT(users_->Create(too_long), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(users_->FindByLogin("wes"), StatusIs(absl::StatusCode::kNotFound));
}

// A database made by the first release (V001 only) upgrades in place: existing users keep
// working and have no display name.
TEST(IdentityMigrationsPgTest, UpgradeFromV001KeepsUsersWithoutDisplayName) {
  std::unique_ptr<coffer::testing::PgTestDatabase> db;
  COFFER_PG_TEST_DATABASE(db);
  COFFER_ASSERT_OK_AND_ASSIGN(auto pool, db->NewPool(2));
  std::vector<postgres::Migration> all = IdentityMigrations();
  ASSERT_GE(all.size(), 2u);
  ASSERT_EQ(all[0].version, 1);
  ASSERT_EQ(all[1].name, "display_name");
  COFFER_ASSERT_OK_AND_ASSIGN(auto first, postgres::ApplyMigrations(*pool, {all[0]}));
  ASSERT_EQ(first.applied.size(), 1u);
  const std::string id = NewUuid();
  ASSERT_THAT(db->Exec("INSERT INTO users (id, login, password_hash, scope, created_at, "
                       "updated_at) VALUES ('" +
                       id + "', 'old-user', 'h', 'vault', now(), now())"),
              IsOk());
  COFFER_ASSERT_OK_AND_ASSIGN(auto rest, postgres::ApplyMigrations(*pool, all));
  EXPECT_EQ(rest.applied.size(), all.size() - 1);
  PgUserRepository users(*pool);
  COFFER_ASSERT_OK_AND_ASSIGN(User old, users.FindByLogin("old-user"));
  EXPECT_EQ(old.id, id);
  EXPECT_EQ(old.display_name, "");
}

TEST_F(IdentityRepositoriesPgTest, UsersRoundTripAndLoginIsUnique) {
  User u = NewUser("alice");
  ASSERT_THAT(users_->Create(u), IsOk());
  COFFER_ASSERT_OK_AND_ASSIGN(User by_login, users_->FindByLogin("alice"));
  EXPECT_EQ(by_login.id, u.id);
  EXPECT_EQ(by_login.created_at, kT0);  // microsecond-exact timestamps
  COFFER_ASSERT_OK_AND_ASSIGN(User by_id, users_->FindById(u.id));
  EXPECT_EQ(by_id.login, "alice");
  EXPECT_THAT(users_->Create(NewUser("alice")), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(users_->FindById("not-a-uuid"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(users_->FindByLogin("bob"), StatusIs(absl::StatusCode::kNotFound));
  // The schema refuses non-normalized logins even if a bug let one through.
  EXPECT_THAT(users_->Create(NewUser("Alice")), StatusIs(absl::StatusCode::kInvalidArgument));
  // Compare-and-set of the password hash.
  EXPECT_EQ(*users_->UpdatePasswordHash(u.id, "stale", "new"), false);
  EXPECT_EQ(*users_->UpdatePasswordHash(u.id, u.password_hash, "new"), true);
  EXPECT_EQ(users_->FindById(u.id)->password_hash, "new");
}

TEST_F(IdentityRepositoriesPgTest, ConcurrentCreatesOfOneLoginHaveExactlyOneWinner) {
  constexpr int kThreads = 8;
  std::atomic<int> ok{0}, exists{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      absl::Status s = users_->Create(NewUser("contested"));
      (s.ok() ? ok : absl::IsAlreadyExists(s) ? exists : other)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(exists.load(), kThreads - 1);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(IdentityRepositoriesPgTest, RotateConsumesOnceAndReuseRevokesTheFamily) {
  const std::string h1(32, '\x01');
  const std::string h2(32, '\x02');
  const std::string h3(32, '\x03');
  RefreshFamily f = NewSession(h1, kT0 + std::chrono::hours(1));

  RefreshToken next{h2, "", kT0, kT0 + std::chrono::hours(2), std::nullopt};
  COFFER_ASSERT_OK_AND_ASSIGN(RotateResult r1, sessions_->Rotate(h1, next, kT0));
  EXPECT_EQ(r1.verdict, RefreshVerdict::kValid);
  EXPECT_EQ(r1.family.id, f.id);
  EXPECT_EQ(r1.family.subject, f.subject);
  COFFER_ASSERT_OK_AND_ASSIGN(auto found, sessions_->FindRefreshToken(h2));
  EXPECT_EQ(found.first.family_id, f.id);
  EXPECT_FALSE(found.second.revoked_at.has_value());

  // Replay of h1: reuse, and the family is revoked in the same statement.
  RefreshToken other{h3, "", kT0, kT0 + std::chrono::hours(2), std::nullopt};
  COFFER_ASSERT_OK_AND_ASSIGN(RotateResult r2, sessions_->Rotate(h1, other, kT0));
  EXPECT_EQ(r2.verdict, RefreshVerdict::kReused);
  EXPECT_THAT(sessions_->FindRefreshToken(h3), StatusIs(absl::StatusCode::kNotFound));
  COFFER_ASSERT_OK_AND_ASSIGN(auto after, sessions_->FindRefreshToken(h2));
  EXPECT_TRUE(after.second.revoked_at.has_value());
  // h2 is now refused as revoked; nothing new is stored.
  COFFER_ASSERT_OK_AND_ASSIGN(RotateResult r3, sessions_->Rotate(h2, other, kT0));
  EXPECT_EQ(r3.verdict, RefreshVerdict::kRevoked);
  EXPECT_THAT(sessions_->FindRefreshToken(h3), StatusIs(absl::StatusCode::kNotFound));
  COFFER_ASSERT_OK_AND_ASSIGN(RotateResult r4, sessions_->Rotate(std::string(32, 'z'), other, kT0));
  EXPECT_EQ(r4.verdict, RefreshVerdict::kNotFound);
}

TEST_F(IdentityRepositoriesPgTest, ExpiredRefreshTokenIsRefusedWithoutChanges) {
  const std::string h1(32, '\x11');
  NewSession(h1, kT0 + std::chrono::hours(1));
  RefreshToken next{std::string(32, '\x12'), "", kT0, kT0 + std::chrono::hours(3), std::nullopt};
  COFFER_ASSERT_OK_AND_ASSIGN(RotateResult r,
                              sessions_->Rotate(h1, next, kT0 + std::chrono::hours(1)));
  EXPECT_EQ(r.verdict, RefreshVerdict::kExpired);
  COFFER_ASSERT_OK_AND_ASSIGN(auto found, sessions_->FindRefreshToken(h1));
  EXPECT_FALSE(found.first.used_at.has_value());
  EXPECT_FALSE(found.second.revoked_at.has_value());
}

TEST_F(IdentityRepositoriesPgTest, ConcurrentRotationsOfOneTokenNeverBothSucceed) {
  const std::string h1(32, '\x21');
  NewSession(h1, kT0 + std::chrono::hours(1));
  constexpr int kThreads = 6;
  std::atomic<int> valid{0}, reused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      RefreshToken next{std::string(31, '\x30') + static_cast<char>(i), "", kT0,
                        kT0 + std::chrono::hours(2), std::nullopt};
      auto r = sessions_->Rotate(h1, next, kT0);
      ASSERT_THAT(r, IsOk());
      if (r->verdict == RefreshVerdict::kValid) valid++;
      if (r->verdict == RefreshVerdict::kReused) reused++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(valid.load(), 1);
  EXPECT_EQ(reused.load(), kThreads - 1);
}

TEST_F(IdentityRepositoriesPgTest, RevokeAccessTokensAndFamilies) {
  const std::string h1(32, '\x41');
  RefreshFamily f = NewSession(h1, kT0 + std::chrono::hours(1));
  EXPECT_EQ(*sessions_->IsAccessTokenRevoked("jti-1", f.id), false);
  EXPECT_EQ(*sessions_->IsAccessTokenRevoked("jti-1", ""), false);
  Revocation r;
  r.access_jti = "jti-1";
  r.access_expires_at = kT0 + std::chrono::minutes(15);
  r.reason = "test";
  ASSERT_THAT(sessions_->Revoke(r, kT0), IsOk());
  ASSERT_THAT(sessions_->Revoke(r, kT0), IsOk());  // idempotent
  EXPECT_EQ(*sessions_->IsAccessTokenRevoked("jti-1", ""), true);
  EXPECT_EQ(*sessions_->IsAccessTokenRevoked("jti-2", f.id), false);
  // Revoking by refresh token hash ends the family: its other access tokens are revoked too.
  Revocation by_hash;
  by_hash.refresh_token_hash = h1;
  by_hash.reason = "logout";
  ASSERT_THAT(sessions_->Revoke(by_hash, kT0), IsOk());
  EXPECT_EQ(*sessions_->IsAccessTokenRevoked("jti-2", f.id), true);
  // Garbage ids are harmless.
  Revocation garbage;
  garbage.family_id = "not-a-uuid";
  EXPECT_THAT(sessions_->Revoke(garbage, kT0), IsOk());
  EXPECT_EQ(*sessions_->IsAccessTokenRevoked("x", "not-a-uuid"), false);
  // Purge drops entries that expired before the cut-off.
  ASSERT_THAT(sessions_->PurgeExpired(kT0 + std::chrono::hours(2)), IsOk());
  EXPECT_EQ(*sessions_->IsAccessTokenRevoked("jti-1", ""), false);
  EXPECT_THAT(sessions_->FindRefreshToken(h1), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(IdentityRepositoriesPgTest, ServiceAccounts) {
  ServiceAccount a{"sa_1", "alpha", {"identity.introspect", "vault"}, std::string(32, '\xAA'), kT0};
  ASSERT_THAT(accounts_->Create(a), IsOk());
  EXPECT_THAT(accounts_->Create(a), StatusIs(absl::StatusCode::kAlreadyExists));
  ServiceAccount same_name = a;
  same_name.client_id = "sa_2";
  EXPECT_THAT(accounts_->Create(same_name), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(*accounts_->CreateIfAbsent(a), false);
  ServiceAccount b{"sa_3", "beta", {}, std::string(32, '\0'), kT0};
  EXPECT_EQ(*accounts_->CreateIfAbsent(b), true);
  COFFER_ASSERT_OK_AND_ASSIGN(ServiceAccount got, accounts_->FindByClientId("sa_1"));
  EXPECT_EQ(got.name, "alpha");
  EXPECT_THAT(got.scopes, ElementsAre("identity.introspect", "vault"));
  EXPECT_EQ(got.secret_hash, a.secret_hash);  // binary-safe
  COFFER_ASSERT_OK_AND_ASSIGN(auto page, accounts_->List("alpha", 10));
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].name, "beta");
  EXPECT_TRUE(page[0].scopes.empty());
  ASSERT_THAT(accounts_->Delete("sa_1"), IsOk());
  EXPECT_THAT(accounts_->Delete("sa_1"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(IdentityRepositoriesPgTest, SigningKeyGenerationsAreRaceSafe) {
  auto key = [](std::int64_t gen, const std::string& kid, Time created) {
    return SigningKey{kid, gen, std::string(32, 'p'), std::string(60, 's'), created};
  };
  EXPECT_EQ(*keys_->Insert(key(1, "a", kT0)), true);
  // Concurrent inserts of generation 2: exactly one wins.
  std::atomic<int> won{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      auto r = keys_->Insert(key(2, "b" + std::to_string(i), kT0 + std::chrono::hours(1)));
      ASSERT_THAT(r, IsOk());
      if (*r) won++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  COFFER_ASSERT_OK_AND_ASSIGN(auto all, keys_->List());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].kid, "a");
  EXPECT_EQ(all[1].generation, 2);
  EXPECT_EQ(all[1].sealed_private_key, std::string(60, 's'));
  // Key 1 was superseded at T0+1h: deleted only with a later cut-off.
  ASSERT_THAT(keys_->DeleteSupersededBefore(kT0 + std::chrono::minutes(59)), IsOk());
  EXPECT_EQ(keys_->List()->size(), 2u);
  ASSERT_THAT(keys_->DeleteSupersededBefore(kT0 + std::chrono::hours(2)), IsOk());
  COFFER_ASSERT_OK_AND_ASSIGN(auto left, keys_->List());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].generation, 2);
}

// V003: a key's activation time is stored and read back; rows without one (written before the
// migration, or by an older replica during a rolling upgrade) read as activating at creation; a
// key counts as superseded from its successor's activation, not its creation.
TEST_F(IdentityRepositoriesPgTest, SigningKeyActivationTimes) {
  SigningKey first{"a", 1, std::string(32, 'p'), std::string(60, 's'), kT0, std::nullopt};
  ASSERT_THAT(keys_->Insert(first), IsOk());
  // As an older binary inserts: no activates_at column in its statement.
  {
    COFFER_ASSERT_OK_AND_ASSIGN(auto lease, pool_->Acquire());
    pqxx::nontransaction tx(*lease);
    tx.exec(
        "INSERT INTO signing_keys (kid, generation, public_key, sealed_private_key, created_at) "
        "VALUES ('b', 2, '\\x00', '\\x00', id_ts(" +
        std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                           (kT0 + std::chrono::hours(1)).time_since_epoch())
                           .count()) +
        "))");
  }
  const Time created = kT0 + std::chrono::hours(2);
  const Time activates = created + std::chrono::seconds(60);
  ASSERT_THAT(keys_->Insert(SigningKey{"c", 3, std::string(32, 'p'), std::string(60, 's'), created,
                                       activates}),
              IsOk());
  COFFER_ASSERT_OK_AND_ASSIGN(auto all, keys_->List());
  ASSERT_EQ(all.size(), 3u);
  ASSERT_TRUE(all[0].activates_at.has_value());
  EXPECT_EQ(*all[0].activates_at, kT0);
  ASSERT_TRUE(all[1].activates_at.has_value());
  EXPECT_EQ(*all[1].activates_at, kT0 + std::chrono::hours(1));
  ASSERT_TRUE(all[2].activates_at.has_value());
  EXPECT_EQ(*all[2].activates_at, activates);
  // Key b was created before this cut-off but its successor c activates only after it.
  ASSERT_THAT(keys_->DeleteSupersededBefore(created + std::chrono::seconds(30)), IsOk());
  COFFER_ASSERT_OK_AND_ASSIGN(auto kept, keys_->List());
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].kid, "b");
  ASSERT_THAT(keys_->DeleteSupersededBefore(activates + std::chrono::seconds(1)), IsOk());
  COFFER_ASSERT_OK_AND_ASSIGN(auto last, keys_->List());
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].kid, "c");
}

}  // namespace
}  // namespace coffer::identity
