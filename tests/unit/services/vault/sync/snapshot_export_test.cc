// WriteSnapshot (the sending side of AdminService.ExportSnapshot) against a scripted snapshot
// store: the header message, membership registers and revisions as decodable change events in
// messages of at most 4 MiB, a reader that goes away, and a store that fails.
#include "services/vault/sync/snapshot_export.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "services/vault/sync/change_event.h"
#include "tests/unit/services/vault/sync/sync_test_support.h"

namespace coffer::vault::sync::test {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr char kSharedSpace[] = "7e0e5c1a-4a4e-4f2b-9a77-0d5a5c8a1f10";  // a v4 (shared) space

// Hands out a fixed header and chunks of revisions, honouring the contract of
// SnapshotStore::ExportSnapshot (CANCELLED when a callback returns false).
class ScriptedSnapshotStore final : public repository::SnapshotStore {
 public:
  repository::SnapshotHeader header;
  std::vector<std::vector<repository::StoredRevision>> chunks;
  absl::Status error;        // answered instead of a snapshot when not OK
  int chunks_delivered = 0;  // chunks the callback accepted

  absl::Status ExportSnapshot(
      const std::function<bool(const repository::SnapshotHeader&)>& on_header,
      const std::function<bool(std::vector<repository::StoredRevision>&&)>& on_chunk) override {
    if (!error.ok()) return error;
    if (!on_header(header)) return absl::CancelledError("stopped by the reader");
    for (std::vector<repository::StoredRevision> chunk : chunks) {
      if (!on_chunk(std::move(chunk))) return absl::CancelledError("stopped by the reader");
      ++chunks_delivered;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<bool> IsEmpty() override { return absl::UnimplementedError("not here"); }
  absl::Status ImportSnapshot(const repository::SnapshotHeader&,
                              const std::vector<repository::StoredRevision>&,
                              const std::map<int32_t, int64_t>&) override {
    return absl::UnimplementedError("not here");
  }
  absl::Status MergeSnapshot(const repository::SnapshotHeader&,
                             const std::vector<repository::StoredRevision>&) override {
    return absl::UnimplementedError("not here");
  }
};

repository::SpaceRegister Member(const std::string& user) {
  repository::SpaceRegister r;
  r.kind = repository::SpaceRegister::Kind::kMember;
  r.space_id = kSharedSpace;
  r.hlc = domain::HlcTimestamp::Pack(1'700'000'000'123, 7);
  r.origin_shard = "shard-a";
  r.user_id = user;
  r.member_role = "writer";
  r.joined_at_ms = 1'700'000'000'000;
  return r;
}

// The revisions of `messages`, decoded, in order.
std::vector<repository::StoredRevision> Revisions(
    const std::vector<v1::ExportSnapshotResponse>& messages) {
  std::vector<repository::StoredRevision> out;
  for (const v1::ExportSnapshotResponse& m : messages) {
    for (const std::string& value : m.revisions()) {
      absl::StatusOr<repository::StoredRevision> r = DecodeChangeEvent(value);
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) out.push_back(*std::move(r));
    }
  }
  return out;
}

size_t RevisionBytes(const v1::ExportSnapshotResponse& m) {
  size_t bytes = 0;
  for (const std::string& value : m.revisions()) bytes += value.size();
  return bytes;
}

class WriteSnapshotTest : public ::testing::Test {
 protected:
  // Runs WriteSnapshot as shard-a, keeping every message; the reader leaves (write answers
  // false) on message number `leave_at` (1-based; 0 = never).
  absl::Status Export(int leave_at = 0) {
    return WriteSnapshot("shard-a", store_, [&](const v1::ExportSnapshotResponse& m) {
      written_.push_back(m);
      return static_cast<int>(written_.size()) != leave_at;
    });
  }

  ScriptedSnapshotStore store_;
  std::vector<v1::ExportSnapshotResponse> written_;
};

TEST_F(WriteSnapshotTest, AnEmptyShardIsOneHeaderMessageNamingTheShard) {
  ASSERT_TRUE(Export().ok());
  ASSERT_EQ(written_.size(), 1u);
  EXPECT_EQ(written_[0].shard_id(), "shard-a");
  EXPECT_EQ(written_[0].positions_size(), 0);
  EXPECT_EQ(written_[0].progress_size(), 0);
  EXPECT_EQ(written_[0].tombstones_size(), 0);
  EXPECT_EQ(written_[0].space_changes_size(), 0);
  EXPECT_EQ(written_[0].revisions_size(), 0);
}

TEST_F(WriteSnapshotTest, HeaderThenRegistersThenRevisionsEachDecodableAsSent) {
  store_.header.positions = {{0, 5}, {2, 7}};
  store_.header.progress = {{"shard-a", 0, 4}, {"shard-c", 2, 6}};
  store_.header.tombstones = {{RecordId("gone"), 2, 3, kSpaceA}};
  store_.header.registers = {Member("alice"), Member("bob")};
  const repository::StoredRevision r1 = Revision("shard-a", "r1");
  const repository::StoredRevision r2 = Revision("shard-c", "r2", /*version=*/3, /*counter=*/2);
  store_.chunks = {{r1, r2}};

  ASSERT_TRUE(Export().ok());
  ASSERT_EQ(written_.size(), 3u);
  const v1::ExportSnapshotResponse& head = written_[0];
  EXPECT_EQ(head.shard_id(), "shard-a");
  ASSERT_EQ(head.positions_size(), 2);
  EXPECT_EQ(head.positions(0).partition(), 0);
  EXPECT_EQ(head.positions(0).next_offset(), 5);
  EXPECT_EQ(head.positions(1).partition(), 2);
  EXPECT_EQ(head.positions(1).next_offset(), 7);
  ASSERT_EQ(head.progress_size(), 2);
  EXPECT_EQ(head.progress(1).shard_id(), "shard-c");
  EXPECT_EQ(head.progress(1).partition(), 2);
  EXPECT_EQ(head.progress(1).settled_offset(), 6);
  ASSERT_EQ(head.tombstones_size(), 1);
  EXPECT_EQ(head.tombstones(0).record_id(), RecordId("gone"));
  EXPECT_EQ(head.tombstones(0).space_id(), kSpaceA);
  EXPECT_EQ(head.tombstones(0).partition(), 2);
  EXPECT_EQ(head.tombstones(0).offset(), 3);
  // The header message carries no events: registers and revisions come in their own.
  EXPECT_EQ(head.space_changes_size(), 0);
  EXPECT_EQ(head.revisions_size(), 0);

  ASSERT_EQ(written_[1].space_changes_size(), 2);
  EXPECT_EQ(written_[1].revisions_size(), 0);
  EXPECT_TRUE(written_[1].shard_id().empty());  // first message only
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<TopicEvent> e = DecodeTopicEvent(written_[1].space_changes(i));
    ASSERT_TRUE(e.ok()) << e.status();
    ASSERT_TRUE(e->space_change.has_value());
    EXPECT_EQ(*e->space_change, store_.header.registers[i]);
  }
  EXPECT_EQ(written_[2].space_changes_size(), 0);
  EXPECT_EQ(Revisions(written_), (std::vector<repository::StoredRevision>{r1, r2}));
}

TEST_F(WriteSnapshotTest, RevisionsArePackedIntoMessagesOfAtMostFourMiBInOrder) {
  std::vector<repository::StoredRevision> all;
  for (int i = 0; i < 10; ++i) {
    all.push_back(Revision("shard-a", "r" + std::to_string(i), 1, 1, std::string(kMiB, 'x')));
  }
  // Two chunks of the store: packing starts again with each.
  store_.chunks = {{all.begin(), all.begin() + 7}, {all.begin() + 7, all.end()}};

  ASSERT_TRUE(Export().ok());
  // Header, then 7 one-MiB events in 3 + 3 + 1, then 3.
  ASSERT_EQ(written_.size(), 5u);
  EXPECT_EQ(written_[1].revisions_size(), 3);
  EXPECT_EQ(written_[2].revisions_size(), 3);
  EXPECT_EQ(written_[3].revisions_size(), 1);
  EXPECT_EQ(written_[4].revisions_size(), 3);
  for (const v1::ExportSnapshotResponse& m : written_) EXPECT_LE(RevisionBytes(m), 4 * kMiB);
  EXPECT_EQ(Revisions(written_), all);
  EXPECT_EQ(store_.chunks_delivered, 2);
}

TEST_F(WriteSnapshotTest, AnEventLargerThanAMessageGoesAlone) {
  const repository::StoredRevision small1 = Revision("shard-a", "s1");
  const repository::StoredRevision huge =
      Revision("shard-a", "h", 1, 1, std::string(5 * kMiB, 'x'));
  const repository::StoredRevision small2 = Revision("shard-a", "s2");
  store_.chunks = {{small1, huge, small2}};

  ASSERT_TRUE(Export().ok());
  ASSERT_EQ(written_.size(), 4u);
  EXPECT_EQ(written_[1].revisions_size(), 1);
  EXPECT_EQ(written_[2].revisions_size(), 1);
  EXPECT_GT(RevisionBytes(written_[2]), 4 * kMiB);
  EXPECT_EQ(written_[3].revisions_size(), 1);
  EXPECT_EQ(Revisions(written_), (std::vector<repository::StoredRevision>{small1, huge, small2}));
}

TEST_F(WriteSnapshotTest, AReaderGoneAtTheHeaderCancelsBeforeAnyRevisionIsRead) {
  store_.header.registers = {Member("alice")};
  store_.chunks = {{Revision("shard-a", "r1")}};
  absl::Status s = Export(/*leave_at=*/1);
  EXPECT_TRUE(absl::IsCancelled(s)) << s;
  EXPECT_EQ(written_.size(), 1u);
  EXPECT_EQ(store_.chunks_delivered, 0);
}

TEST_F(WriteSnapshotTest, AReaderGoneMidwayCancelsAndNothingMoreIsWritten) {
  std::vector<repository::StoredRevision> big;
  for (int i = 0; i < 6; ++i) {
    big.push_back(Revision("shard-a", "r" + std::to_string(i), 1, 1, std::string(kMiB, 'x')));
  }
  store_.chunks = {big, {Revision("shard-a", "later")}};
  // Message 2 is the first of the first chunk's two.
  absl::Status s = Export(/*leave_at=*/2);
  EXPECT_TRUE(absl::IsCancelled(s)) << s;
  EXPECT_EQ(written_.size(), 2u);
  EXPECT_EQ(store_.chunks_delivered, 0);
}

TEST_F(WriteSnapshotTest, AStoreErrorComesBackAsItIsAndNothingIsWritten) {
  store_.error = absl::UnavailableError("database down");
  EXPECT_EQ(Export(), absl::UnavailableError("database down"));
  EXPECT_TRUE(written_.empty());
}

}  // namespace
}  // namespace coffer::vault::sync::test
