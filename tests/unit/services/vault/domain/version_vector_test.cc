#include "services/vault/domain/version_vector.h"

#include <gtest/gtest.h>

namespace coffer::vault::domain {
namespace {

TEST(VersionVectorTest, MissingEntriesCountAsZero) {
  VersionVector a({{"a", 1}, {"b", 0}});
  VersionVector b({{"a", 1}});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Compare(b), VectorOrder::kEqual);
  EXPECT_EQ(a.Get("zzz"), 0u);
}

TEST(VersionVectorTest, CompareDominatesDominatedConcurrent) {
  VersionVector a({{"a", 2}, {"b", 1}});
  VersionVector b({{"a", 1}, {"b", 1}});
  VersionVector c({{"a", 1}, {"b", 2}});
  VersionVector d({{"c", 1}});
  EXPECT_EQ(a.Compare(b), VectorOrder::kDominates);
  EXPECT_EQ(b.Compare(a), VectorOrder::kDominated);
  EXPECT_EQ(a.Compare(c), VectorOrder::kConcurrent);
  EXPECT_EQ(c.Compare(a), VectorOrder::kConcurrent);
  EXPECT_EQ(a.Compare(d), VectorOrder::kConcurrent);
  EXPECT_EQ(VersionVector().Compare(d), VectorOrder::kDominated);
  EXPECT_EQ(d.Compare(VersionVector()), VectorOrder::kDominates);
}

TEST(VersionVectorTest, MergeIsPointwiseMax) {
  VersionVector a({{"a", 2}, {"b", 1}});
  VersionVector c({{"a", 1}, {"b", 3}, {"c", 1}});
  VersionVector m = VersionVector::Merge(a, c);
  EXPECT_EQ(m, VersionVector({{"a", 2}, {"b", 3}, {"c", 1}}));
  EXPECT_EQ(m.Compare(a), VectorOrder::kDominates);
  EXPECT_EQ(m.Compare(c), VectorOrder::kDominates);
}

TEST(VersionVectorTest, IncrementAndSet) {
  VersionVector v;
  EXPECT_EQ(v.Increment("a"), 1u);
  EXPECT_EQ(v.Increment("a"), 2u);
  v.Set("a", 0);
  EXPECT_TRUE(v.empty());
}

TEST(VersionVectorTest, JsonRoundTripIsCanonical) {
  VersionVector v({{"shard-b", 1}, {"shard-a", 3}});
  EXPECT_EQ(v.ToJson(), R"({"shard-a":3,"shard-b":1})");
  auto parsed = VersionVector::FromJson(R"({"shard-b": 1, "shard-a": 3})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, v);
  EXPECT_FALSE(VersionVector::FromJson("[1]").ok());
  EXPECT_FALSE(VersionVector::FromJson(R"({"a":-1})").ok());
  EXPECT_FALSE(VersionVector::FromJson("not json").ok());
}

}  // namespace
}  // namespace coffer::vault::domain
