// SpaceService's rules on the in-memory space repository: what happens when registers written
// elsewhere meet local writes (a newer stamp, a concurrent delete), and that no register can
// name a personal space.
#include "services/vault/service/space_service.h"

#include <gtest/gtest.h>

#include "pkg/crypto/encoding.h"
#include "pkg/crypto/keyring.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/domain/ids.h"
#include "services/vault/repository/in_memory_repositories.h"

namespace coffer::vault::service {
namespace {

using repository::Role;
using repository::SpaceRegister;

class SpaceServiceTest : public ::testing::Test {
 protected:
  SpaceServiceTest()
      : keyring_(*crypto::Keyring::Parse("k1:" + crypto::Base64Encode(std::string(32, 'k')))),
        cipher_(keyring_),
        access_(spaces_, [this] { return now_ms_; }),
        hlc_([this] { return static_cast<uint64_t>(now_ms_); }),
        service_(SpaceServiceConfig{"shard-a"}, spaces_, access_, cipher_, hlc_, nullptr,
                 [this] { return now_ms_; }) {}

  // A register write of `space` as another shard would send it, stamped `physical_ms`.
  SpaceRegister Remote(SpaceRegister::Kind kind, const std::string& space, int64_t physical_ms) {
    SpaceRegister r;
    r.kind = kind;
    r.space_id = space;
    r.hlc = domain::HlcTimestamp::Pack(static_cast<uint64_t>(physical_ms), 0);
    r.origin_shard = "shard-b";
    return r;
  }

  int64_t now_ms_ = 1'700'000'000'000;
  crypto::Keyring keyring_;
  RecordCipher cipher_;
  repository::InMemorySpaceRepository spaces_;
  SpaceAccess access_;
  domain::Hlc hlc_;
  SpaceService service_;
  const Caller alice_{"alice", {}, ""};
};

TEST_F(SpaceServiceTest, ALocalWriteThatANewerRegisterSupersedesFailsInsteadOfVanishing) {
  absl::StatusOr<SpaceInfo> space = service_.Create(alice_, "Team");
  ASSERT_TRUE(space.ok()) << space.status();
  // Another shard whose clock is 10 minutes ahead renamed it (beyond the skew this shard's clock
  // adopts): a local rename stamped now would lose everywhere, so it is refused, not dropped.
  SpaceRegister ahead = Remote(SpaceRegister::Kind::kInfo, space->id, now_ms_ + 600'000);
  ahead.name_ct = *cipher_.SealToken(space->id, "space-name", "Renamed elsewhere");
  ASSERT_TRUE(spaces_.MergeForTest(ahead));
  absl::StatusOr<SpaceInfo> renamed = service_.Rename(alice_, space->id, "Mine");
  EXPECT_TRUE(absl::IsAborted(renamed.status())) << renamed.status();
  EXPECT_EQ(service_.Get(alice_, space->id)->name, "Renamed elsewhere");
}

TEST_F(SpaceServiceTest, ADeleteIsNotUndoneByAConcurrentRename) {
  absl::StatusOr<SpaceInfo> space = service_.Create(alice_, "Doomed");
  ASSERT_TRUE(space.ok());
  ASSERT_TRUE(service_.Delete(alice_, space->id).ok());
  // A rename written on another shard before it saw the delete, with a greater stamp.
  SpaceRegister rename = Remote(SpaceRegister::Kind::kInfo, space->id, now_ms_ + 5);
  rename.name_ct = *cipher_.SealToken(space->id, "space-name", "Saved?");
  spaces_.MergeForTest(rename);
  EXPECT_TRUE(absl::IsNotFound(service_.Get(alice_, space->id).status()));
}

TEST_F(SpaceServiceTest, NoRegisterCanNameAPersonalSpace) {
  const std::string victim = domain::PersonalSpaceId("victim");
  EXPECT_FALSE(domain::IsSharedSpaceId(victim));
  SpaceRegister takeover = Remote(SpaceRegister::Kind::kOwner, victim, now_ms_);
  takeover.owner_id = "attacker";
  EXPECT_FALSE(spaces_.MergeForTest(takeover));
  const Caller attacker{"attacker", {}, ""};
  EXPECT_TRUE(absl::IsNotFound(service_.Get(attacker, victim).status()));
  const Caller victim_caller{"victim", {}, ""};
  absl::StatusOr<SpaceInfo> own = service_.Get(victim_caller, victim);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_TRUE(own->personal);
  EXPECT_EQ(own->role, Role::kOwner);
}

}  // namespace
}  // namespace coffer::vault::service
