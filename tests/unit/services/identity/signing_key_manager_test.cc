// SigningKeyManager: creation, sealing under the KEK, rotation (scheduled, manual, raced by two
// replicas) with pre-publication of the next key, publication window, refusal of a wrong KEK.
#include "services/identity/service/signing_key_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "pkg/crypto/encoding.h"
#include "pkg/testing/status_matchers.h"
#include "services/identity/repository/in_memory_repositories.h"

namespace coffer::identity {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

crypto::Keyring MakeKeyring(char fill) {
  return *crypto::Keyring::Parse("k1:" + crypto::Base64Encode(std::string(32, fill)));
}

class SigningKeyManagerTest : public ::testing::Test {
 protected:
  SigningKeyManagerTest() : keyring_(MakeKeyring('a')) {
    schedule_.rotation_interval = std::chrono::hours(24);
    schedule_.retention = std::chrono::minutes(20);
    schedule_.prepublication = std::chrono::seconds(60);
  }

  static std::vector<std::string> Kids(const std::vector<SigningKeyManager::PublicKeyInfo>& keys) {
    std::vector<std::string> out;
    for (const auto& k : keys) out.push_back(k.kid);
    return out;
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

TEST_F(SigningKeyManagerTest, FirstKeySignsAtOnce) {
  auto m = NewManager(keyring_);
  ASSERT_THAT(m->Init(), IsOk());
  auto published = m->PublishedKeys();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].state, KeyState::kCurrent);
  EXPECT_EQ(published[0].activates_at, absl::ToChronoTime(clock_.Now()));
  EXPECT_EQ(m->CurrentSigner()->kid, published[0].kid);
}

TEST_F(SigningKeyManagerTest, ScheduledRotationPrepublishesThenSwitchesAndRetires) {
  auto m = NewManager(keyring_);
  ASSERT_THAT(m->Init(), IsOk());
  const std::string k1 = m->CurrentSigner()->kid;
  ASSERT_THAT(m->Tick(), IsOk());
  EXPECT_EQ(m->CurrentSigner()->kid, k1);  // not due yet
  EXPECT_EQ(m->PublishedKeys().size(), 1u);
  // A minute before k1 is a day old the next key is created and published, but k1 still signs.
  clock_.Advance(absl::Hours(24) - absl::Seconds(60));
  ASSERT_THAT(m->Tick(), IsOk());
  auto published = m->PublishedKeys();
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[0].kid, k1);
  EXPECT_EQ(published[0].state, KeyState::kCurrent);
  const std::string k2 = published[1].kid;
  EXPECT_NE(k2, k1);
  EXPECT_EQ(published[1].state, KeyState::kNext);
  EXPECT_EQ(m->CurrentSigner()->kid, k1);
  EXPECT_THAT(m->PublicKey(k2), IsOk());
  ASSERT_THAT(m->Tick(), IsOk());  // a rotation under way is not started again
  EXPECT_EQ(repo_.List()->size(), 2u);
  // At the stored activation time k2 signs; no Tick or reload needed.
  clock_.Advance(absl::Seconds(59));
  EXPECT_EQ(m->CurrentSigner()->kid, k1);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(m->CurrentSigner()->kid, k2);
  // Both published during the overlap, new one first; the old one still verifies.
  published = m->PublishedKeys();
  EXPECT_THAT(Kids(published), ElementsAre(k2, k1));
  EXPECT_EQ(published[1].state, KeyState::kRetired);
  EXPECT_THAT(m->PublicKey(k1), IsOk());
  // Retention counts from k2's activation, not from its creation.
  clock_.Advance(absl::Minutes(20) - absl::Seconds(1));
  EXPECT_EQ(m->PublishedKeys().size(), 2u);
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(Kids(m->PublishedKeys()), ElementsAre(k2));
  EXPECT_THAT(m->PublicKey(k1), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SigningKeyManagerTest, RotatePublishesTheNextKeyBeforeItSigns) {
  auto m = NewManager(keyring_);
  ASSERT_THAT(m->Init(), IsOk());
  const std::string k1 = m->CurrentSigner()->kid;
  auto k2 = m->Rotate();
  ASSERT_THAT(k2, IsOk());
  EXPECT_NE(*k2, k1);
  EXPECT_THAT(Kids(m->PublishedKeys()), ElementsAre(k1, *k2));
  EXPECT_EQ(m->CurrentSigner()->kid, k1);
  // A second Rotate while k2 waits answers k2 and makes nothing new.
  EXPECT_EQ(*m->Rotate(), *k2);
  EXPECT_EQ(repo_.List()->size(), 2u);
  clock_.Advance(absl::Seconds(60));
  EXPECT_EQ(m->CurrentSigner()->kid, *k2);
  // Once k2 signs, Rotate starts the next rotation.
  auto k3 = m->Rotate();
  ASSERT_THAT(k3, IsOk());
  EXPECT_NE(*k3, *k2);
  EXPECT_EQ(m->CurrentSigner()->kid, *k2);
  EXPECT_THAT(Kids(m->PublishedKeys()), ElementsAre(*k2, *k3, k1));
}

TEST_F(SigningKeyManagerTest, ZeroPrepublicationRotatedKeySignsAtOnce) {
  schedule_.prepublication = std::chrono::seconds(0);
  auto m = NewManager(keyring_);
  ASSERT_THAT(m->Init(), IsOk());
  const std::string k1 = m->CurrentSigner()->kid;
  auto k2 = m->Rotate();
  ASSERT_THAT(k2, IsOk());
  EXPECT_NE(*k2, k1);
  EXPECT_EQ(m->CurrentSigner()->kid, *k2);
  EXPECT_THAT(Kids(m->PublishedKeys()), ElementsAre(*k2, k1));
}

// Replicas agree on the switch through the activation time stored with the key: a replica that
// learns the next key on its periodic reload publishes it before it activates, and switches at
// the same instant as the replica that created it.
TEST_F(SigningKeyManagerTest, ReplicasSwitchAtTheStoredActivationTime) {
  auto a = NewManager(keyring_);
  auto b = NewManager(keyring_);
  ASSERT_THAT(a->Init(), IsOk());
  ASSERT_THAT(b->Init(), IsOk());
  const std::string k1 = a->CurrentSigner()->kid;
  auto k2 = b->Rotate();
  ASSERT_THAT(k2, IsOk());
  EXPECT_THAT(Kids(a->PublishedKeys()), ElementsAre(k1));  // not reloaded yet
  clock_.Advance(absl::Seconds(30));                       // a's reload interval
  ASSERT_THAT(a->Tick(), IsOk());
  EXPECT_THAT(Kids(a->PublishedKeys()), ElementsAre(k1, *k2));
  EXPECT_EQ(a->CurrentSigner()->kid, k1);
  EXPECT_EQ(b->CurrentSigner()->kid, k1);
  clock_.Advance(absl::Seconds(29));
  EXPECT_EQ(a->CurrentSigner()->kid, k1);
  EXPECT_EQ(b->CurrentSigner()->kid, k1);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(a->CurrentSigner()->kid, *k2);
  EXPECT_EQ(b->CurrentSigner()->kid, *k2);
  // A replica started during the pre-publication also waits for the stored time.
  ASSERT_THAT(b->Rotate(), IsOk());
  auto c = NewManager(keyring_);
  ASSERT_THAT(c->Init(), IsOk());
  EXPECT_EQ(c->CurrentSigner()->kid, *k2);
  EXPECT_EQ(c->PublishedKeys().size(), 3u);
}

// Two replicas rotating at the same moment start one rotation. Whatever the interleaving (both
// insert generation 2 and one wins; or one finishes before the other starts and finds the next
// key waiting; or one inserts while the other is between its reload and its insert), exactly one
// next key is stored and both calls answer it.
TEST_F(SigningKeyManagerTest, ConcurrentRotationsByTwoReplicasCreateOneKey) {
  auto a = NewManager(keyring_);
  auto b = NewManager(keyring_);
  ASSERT_THAT(a->Init(), IsOk());
  ASSERT_THAT(b->Init(), IsOk());
  const std::string k1 = a->CurrentSigner()->kid;
  absl::StatusOr<std::string> ka, kb;
  std::thread ta([&] { ka = a->Rotate(); });
  std::thread tb([&] { kb = b->Rotate(); });
  ta.join();
  tb.join();
  ASSERT_THAT(ka, IsOk());
  ASSERT_THAT(kb, IsOk());
  auto stored = *repo_.List();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1].generation, 2);
  EXPECT_EQ(*ka, stored[1].kid);
  EXPECT_EQ(*kb, stored[1].kid);
  EXPECT_EQ(a->CurrentSigner()->kid, k1);
  EXPECT_EQ(b->CurrentSigner()->kid, k1);
  clock_.Advance(absl::Seconds(60));
  EXPECT_EQ(a->CurrentSigner()->kid, stored[1].kid);
  EXPECT_EQ(b->CurrentSigner()->kid, stored[1].kid);
}

// Without pre-publication a rotation's key is current at once, so a rotation that finishes before
// the other starts leaves nothing pending and the other makes a third key. Rotate answers the key
// current after it: both answer generation 2 when they raced on it; with three keys the later
// call answers generation 3, and the earlier one answers 2 or 3, depending on whether its final
// reload ran before or after the later call's insert (both legal interleavings).
TEST_F(SigningKeyManagerTest, ConcurrentRotationsWithoutPrepublication) {
  schedule_.prepublication = std::chrono::seconds(0);
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
  auto stored = *repo_.List();
  for (std::size_t i = 1; i < stored.size(); ++i) {
    EXPECT_EQ(stored[i].generation, stored[i - 1].generation + 1);  // never two of a generation
  }
  ASSERT_TRUE(stored.size() == 2u || stored.size() == 3u) << stored.size();
  std::vector<std::string> rotated;
  for (std::size_t i = 1; i < stored.size(); ++i) rotated.push_back(stored[i].kid);
  EXPECT_THAT(rotated, Contains(*ka));
  EXPECT_THAT(rotated, Contains(*kb));
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

TEST_F(SigningKeyManagerTest, KeysAreDeletedOnlyADayAfterRetentionFromActivation) {
  schedule_.rotation_interval = std::chrono::seconds(0);  // only the rotation below
  auto m = NewManager(keyring_);
  ASSERT_THAT(m->Init(), IsOk());
  ASSERT_THAT(m->Rotate(), IsOk());
  // Created long ago in key terms, but activated only 60 s after creation: the old key is kept
  // until activation + retention + 1 day.
  clock_.Advance(absl::Seconds(60) + absl::Minutes(20) + absl::Hours(24) - absl::Seconds(1));
  ASSERT_THAT(m->Tick(), IsOk());
  EXPECT_EQ(repo_.List()->size(), 2u);
  clock_.Advance(absl::Seconds(2));
  ASSERT_THAT(m->Tick(), IsOk());
  EXPECT_EQ(repo_.List()->size(), 1u);
}

TEST_F(SigningKeyManagerTest, UnknownKidTriggersReloadFromOtherReplica) {
  auto a = NewManager(keyring_);
  auto b = NewManager(keyring_);
  ASSERT_THAT(a->Init(), IsOk());
  ASSERT_THAT(b->Init(), IsOk());
  auto new_kid = b->Rotate();
  ASSERT_THAT(new_kid, IsOk());
  clock_.Advance(absl::Seconds(2));             // reloads on a miss are throttled to one per second
  EXPECT_THAT(a->PublicKey(*new_kid), IsOk());  // published while it waits to sign
}

}  // namespace
}  // namespace coffer::identity
