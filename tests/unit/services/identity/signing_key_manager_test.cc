// SigningKeyManager: creation, sealing under the KEK, rotation (scheduled, manual, raced by two
// replicas), publication window, refusal of a wrong KEK.
#include "services/identity/service/signing_key_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <thread>

#include "pkg/crypto/encoding.h"
#include "pkg/testing/status_matchers.h"
#include "services/identity/repository/in_memory_repositories.h"

namespace coffer::identity {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::StatusIs;
using ::testing::HasSubstr;

crypto::Keyring MakeKeyring(char fill) {
  return *crypto::Keyring::Parse("k1:" + crypto::Base64Encode(std::string(32, fill)));
}

class SigningKeyManagerTest : public ::testing::Test {
 protected:
  SigningKeyManagerTest() : keyring_(MakeKeyring('a')) {
    schedule_.rotation_interval = std::chrono::hours(24);
    schedule_.retention = std::chrono::minutes(20);
  }

  std::unique_ptr<SigningKeyManager> NewManager(const crypto::Keyring& keyring) {
    return std::make_unique<SigningKeyManager>(repo_, keyring, clock_, schedule_,
                                               std::chrono::seconds(30), nullptr);
  }

  auth::FakeClock clock_;
  crypto::Keyring keyring_;
  KeySchedule schedule_;
  InMemorySigningKeyRepository repo_;
};

TEST_F(SigningKeyManagerTest, InitCreatesOneSealedKey) {
  auto m = NewManager(keyring_);
  ASSERT_THAT(m->Init(), IsOk());
  auto stored = *repo_.List();
  ASSERT_EQ(stored.size(), 1u);
  auto signer = *m->CurrentSigner();
  EXPECT_EQ(signer.kid, stored[0].kid);
  EXPECT_EQ(signer.kid, SigningKeyManager::Thumbprint(stored[0].public_key));
  // The private seed is not stored in clear.
  EXPECT_THAT(stored[0].sealed_private_key, ::testing::Not(HasSubstr(signer.key.Seed())));
  // A second replica loads the same key instead of creating another.
  auto m2 = NewManager(keyring_);
  ASSERT_THAT(m2->Init(), IsOk());
  EXPECT_EQ(m2->CurrentSigner()->kid, signer.kid);
  EXPECT_EQ(repo_.List()->size(), 1u);
}

TEST_F(SigningKeyManagerTest, WrongKekIsRefusedInsteadOfMintingAKey) {
  ASSERT_THAT(NewManager(keyring_)->Init(), IsOk());
  crypto::Keyring other = MakeKeyring('b');
  EXPECT_THAT(NewManager(other)->Init(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(repo_.List()->size(), 1u);
}

TEST_F(SigningKeyManagerTest, ScheduledRotationAndPublicationWindow) {
  auto m = NewManager(keyring_);
  ASSERT_THAT(m->Init(), IsOk());
  const std::string k1 = m->CurrentSigner()->kid;
  ASSERT_THAT(m->Tick(), IsOk());
  EXPECT_EQ(m->CurrentSigner()->kid, k1);  // not due yet
  clock_.Advance(absl::Hours(24));
  ASSERT_THAT(m->Tick(), IsOk());
  const std::string k2 = m->CurrentSigner()->kid;
  EXPECT_NE(k2, k1);
  // Both published during the overlap; the old one still verifies.
  auto published = m->PublishedKeys();
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[0].kid, k2);
  EXPECT_THAT(m->PublicKey(k1), IsOk());
  clock_.Advance(absl::Minutes(20));
  EXPECT_EQ(m->PublishedKeys().size(), 1u);
  EXPECT_THAT(m->PublicKey(k1), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SigningKeyManagerTest, ConcurrentRotationsByTwoReplicasCreateOneKey) {
  auto a = NewManager(keyring_);
  auto b = NewManager(keyring_);
  ASSERT_THAT(a->Init(), IsOk());
  ASSERT_THAT(b->Init(), IsOk());
  absl::StatusOr<std::string> ka, kb;
  std::thread ta([&] { ka = a->Rotate(); });
  std::thread tb([&] { kb = b->Rotate(); });
  ta.join();
  tb.join();
  ASSERT_THAT(ka, IsOk());
  ASSERT_THAT(kb, IsOk());
  // Rotate answers the key that is current after it. Either they raced on generation 2 (one key
  // made, both answer it), or they ran one after the other (two keys made): the later call
  // answers the newest, and so does the earlier one when it reloaded after the later one wrote
  // (seen on a loaded machine). Never two keys of one generation.
  auto stored = *repo_.List();
  for (std::size_t i = 1; i < stored.size(); ++i) {
    EXPECT_EQ(stored[i].generation, stored[i - 1].generation + 1);
  }
  ASSERT_TRUE(stored.size() == 2u || stored.size() == 3u) << stored.size();
  if (stored.size() == 2u) {
    EXPECT_EQ(*ka, *kb);
  }
  EXPECT_TRUE(*ka == stored.back().kid || *kb == stored.back().kid);
  // After a reload both replicas sign with the same, newest key.
  clock_.Advance(absl::Seconds(30));
  ASSERT_THAT(a->Tick(), IsOk());
  ASSERT_THAT(b->Tick(), IsOk());
  EXPECT_EQ(a->CurrentSigner()->kid, b->CurrentSigner()->kid);
  EXPECT_EQ(a->CurrentSigner()->kid, stored.back().kid);
}

TEST_F(SigningKeyManagerTest, UnknownKidTriggersReloadFromOtherReplica) {
  auto a = NewManager(keyring_);
  auto b = NewManager(keyring_);
  ASSERT_THAT(a->Init(), IsOk());
  ASSERT_THAT(b->Init(), IsOk());
  auto new_kid = b->Rotate();
  ASSERT_THAT(new_kid, IsOk());
  clock_.Advance(absl::Seconds(2));  // reloads on a miss are throttled to one per second
  EXPECT_THAT(a->PublicKey(*new_kid), IsOk());
}

}  // namespace
}  // namespace coffer::identity
