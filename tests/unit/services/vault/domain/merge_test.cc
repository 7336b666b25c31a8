#include "services/vault/domain/merge.h"

#include <gtest/gtest.h>

#include <random>

namespace coffer::vault::domain {
namespace {

struct Rev {
  RevisionStamp stamp;
  friend bool operator==(const Rev&, const Rev&) = default;
  friend void PrintTo(const Rev& r, std::ostream* os) {
    *os << "{v" << r.stamp.version << " " << r.stamp.vector.ToJson() << " hlc=" << r.stamp.hlc
        << " " << r.stamp.origin_shard << "}";
  }
};

Rev MakeRev(std::map<std::string, uint64_t> vector, uint64_t hlc, std::string origin,
            int64_t version = 1) {
  return Rev{RevisionStamp{version, VersionVector(std::move(vector)), hlc, std::move(origin)}};
}

TEST(MergeSiblingsTest, DominatedRevisionIsDropped) {
  Rev old_rev = MakeRev({{"a", 1}}, 10, "a");
  Rev new_rev = MakeRev({{"a", 2}}, 20, "a");
  EXPECT_EQ(MergeSiblings<Rev>({old_rev}, {new_rev}), std::vector<Rev>{new_rev});
  // A late, dominated revision changes nothing.
  EXPECT_EQ(MergeSiblings<Rev>({new_rev}, {old_rev}), std::vector<Rev>{new_rev});
}

TEST(MergeSiblingsTest, ConcurrentRevisionsBecomeSiblingsHeadByHlcThenOrigin) {
  Rev a = MakeRev({{"a", 2}, {"b", 1}}, 50, "a");
  Rev b = MakeRev({{"a", 1}, {"b", 2}}, 60, "b");
  auto merged = MergeSiblings<Rev>({a}, {b});
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0], b);  // greater HLC is the head
  EXPECT_EQ(merged[1], a);

  // Equal HLCs: the greater origin shard wins, deterministically.
  Rev c = MakeRev({{"c", 1}}, 60, "c");
  auto merged2 = MergeSiblings<Rev>({b}, {c});
  ASSERT_EQ(merged2.size(), 2u);
  EXPECT_EQ(merged2[0], c);
}

TEST(MergeSiblingsTest, DuplicateIsKeptOnce) {
  Rev a = MakeRev({{"a", 1}}, 10, "a");
  EXPECT_EQ(MergeSiblings<Rev>({a}, {a, a}), std::vector<Rev>{a});
}

// IsNewIncarnation reads `purged`, so it gets its own revision type.
struct PurgeableRev {
  RevisionStamp stamp;
  bool purged = false;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// The write time is the HLC (the vault stores its physical part); the creation defaults to 1,
// long before.
PurgeableRev MakePurgeable(std::map<std::string, uint64_t> vector, uint64_t hlc, std::string origin,
                           bool purged, int64_t created_at_ms = 1) {
  return PurgeableRev{RevisionStamp{1, VersionVector(std::move(vector)), hlc, std::move(origin)},
                      purged, created_at_ms, static_cast<int64_t>(hlc)};
}

TEST(IsNewIncarnationTest, OnlyALaterRevisionWithRestartedCountersOverATombstone) {
  PurgeableRev tombstone = MakePurgeable({{"a", 3}, {"b", 2}}, 100, "b", true);
  // Re-created on shard a after GC there: counters restart, the clock does not.
  EXPECT_TRUE(
      IsNewIncarnation<PurgeableRev>({tombstone}, MakePurgeable({{"a", 1}}, 150, "a", false)));
  // An old revision the tombstone has seen: dominated and older. A normal, dropped duplicate.
  EXPECT_FALSE(
      IsNewIncarnation<PurgeableRev>({tombstone}, MakePurgeable({{"a", 1}}, 50, "a", false)));
  // The tombstone itself again.
  EXPECT_FALSE(IsNewIncarnation<PurgeableRev>({tombstone}, tombstone));
  // A concurrent revision of the same incarnation (created before the purge) is a sibling.
  EXPECT_FALSE(
      IsNewIncarnation<PurgeableRev>({tombstone}, MakePurgeable({{"c", 1}}, 150, "c", false)));
  // Re-created on a shard that never wrote the old incarnation: its vector is concurrent with
  // the tombstone's, but the record was created after the tombstone was written.
  EXPECT_TRUE(IsNewIncarnation<PurgeableRev>(
      {tombstone}, MakePurgeable({{"s", 1}}, 150, "s", false, /*created_at_ms=*/140)));
  // Only over tombstones: a live current revision merges normally.
  PurgeableRev live = MakePurgeable({{"a", 3}, {"b", 2}}, 100, "b", false);
  EXPECT_FALSE(IsNewIncarnation<PurgeableRev>({live}, MakePurgeable({{"a", 1}}, 150, "a", false)));
  EXPECT_FALSE(IsNewIncarnation<PurgeableRev>({}, MakePurgeable({{"a", 1}}, 150, "a", false)));
}

TEST(NextLocalStampTest, ResolvesAllSiblingsAndIncreasesVersionAndHlc) {
  Hlc hlc([] { return uint64_t{1}; });  // wall clock far behind the siblings' HLCs
  std::vector<RevisionStamp> siblings = {
      {3, VersionVector({{"a", 3}, {"b", 1}}), 500, "a"},
      {4, VersionVector({{"a", 2}, {"b", 2}}), 400, "b"},
  };
  RevisionStamp next = NextLocalStamp(siblings, "a", hlc);
  EXPECT_EQ(next.version, 5);
  EXPECT_EQ(next.vector, VersionVector({{"a", 4}, {"b", 2}}));
  EXPECT_GT(next.hlc, 500u);
  EXPECT_EQ(next.origin_shard, "a");
  for (const auto& s : siblings) {
    EXPECT_EQ(next.vector.Compare(s.vector), VectorOrder::kDominates);
  }
  // Merging the new write over the siblings leaves only it.
  std::vector<Rev> current = {Rev{siblings[0]}, Rev{siblings[1]}};
  EXPECT_EQ(MergeSiblings<Rev>(current, {Rev{next}}), std::vector<Rev>{Rev{next}});
}

TEST(NextLocalStampTest, FirstWriteIsVersionOne) {
  Hlc hlc([] { return uint64_t{1000}; });
  RevisionStamp first = NextLocalStamp({}, "shard-a", hlc);
  EXPECT_EQ(first.version, 1);
  EXPECT_EQ(first.vector, VersionVector({{"shard-a", 1}}));
}

// Property test: revisions produced by a random simulation of shards writing and exchanging
// revisions; the merge of any subsets must be commutative, associative and idempotent, keep
// exactly the non-dominated revisions, and put the (hlc, origin) maximum first.
class MergePropertyTest : public ::testing::TestWithParam<uint32_t> {};

std::vector<Rev> Simulate(std::mt19937& rng) {
  const std::vector<std::string> shards = {"a", "b", "c"};
  uint64_t wall = 1000;
  std::map<std::string, std::unique_ptr<Hlc>> clocks;
  std::map<std::string, std::vector<Rev>> state;
  for (const auto& s : shards) {
    // Skewed clocks: shard c runs behind, so HLC ordering is exercised.
    uint64_t skew = s == "c" ? 0 : 7;
    clocks[s] = std::make_unique<Hlc>([&wall, skew] { return wall + skew; });
  }
  std::vector<Rev> all;
  for (int step = 0; step < 40; ++step) {
    wall += rng() % 3;
    const std::string& shard = shards[rng() % shards.size()];
    if (rng() % 2 == 0 || all.empty()) {
      std::vector<RevisionStamp> stamps;
      for (const auto& r : state[shard]) stamps.push_back(r.stamp);
      Rev rev{NextLocalStamp(stamps, shard, *clocks[shard])};
      state[shard] = MergeSiblings<Rev>(state[shard], {rev});
      all.push_back(rev);
    } else {
      const Rev& received = all[rng() % all.size()];
      clocks[shard]->Observe(received.stamp.hlc);
      state[shard] = MergeSiblings<Rev>(state[shard], {received});
    }
  }
  return all;
}

std::vector<Rev> Subset(const std::vector<Rev>& all, std::mt19937& rng) {
  std::vector<Rev> out;
  for (const auto& r : all) {
    if (rng() % 3 == 0) out.push_back(r);
  }
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

TEST_P(MergePropertyTest, CommutativeAssociativeIdempotent) {
  std::mt19937 rng(GetParam());
  SCOPED_TRACE("seed " + std::to_string(GetParam()));
  std::vector<Rev> all = Simulate(rng);
  for (int round = 0; round < 30; ++round) {
    auto a = Subset(all, rng), b = Subset(all, rng), c = Subset(all, rng);
    auto ab = MergeSiblings<Rev>(a, b);
    EXPECT_EQ(ab, MergeSiblings<Rev>(b, a));
    EXPECT_EQ(MergeSiblings<Rev>(ab, c), MergeSiblings<Rev>(a, MergeSiblings<Rev>(b, c)));
    EXPECT_EQ(MergeSiblings<Rev>(ab, ab), ab);
    EXPECT_EQ(MergeSiblings<Rev>(ab, a), ab);  // replaying already-merged events changes nothing

    // Exactly the non-dominated revisions survive, head first.
    std::vector<Rev> input = a;
    input.insert(input.end(), b.begin(), b.end());
    for (const Rev& r : input) {
      bool dominated = false;
      for (const Rev& s : input) {
        dominated |= r.stamp.vector.Compare(s.stamp.vector) == VectorOrder::kDominated;
      }
      bool kept = std::find_if(ab.begin(), ab.end(), [&](const Rev& k) {
                    return k.stamp.vector == r.stamp.vector;
                  }) != ab.end();
      EXPECT_EQ(kept, !dominated);
    }
    for (size_t i = 1; i < ab.size(); ++i) EXPECT_TRUE(HeadGreater(ab[0].stamp, ab[i].stamp));
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, MergePropertyTest, ::testing::Range(1u, 41u));

}  // namespace
}  // namespace coffer::vault::domain
