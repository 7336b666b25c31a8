// ChangeEvent codec and partitioning: round trips, stable partitions, rejected inputs.
#include "services/vault/sync/change_event.h"

#include <gtest/gtest.h>

#include <set>

#include "coffer/vault/v1/events.pb.h"

namespace coffer::vault::sync {
namespace {

repository::StoredRevision Sample() {
  repository::StoredRevision r;
  r.space_id = "7e0e5c1a-4a4e-5f2b-9a77-0d5a5c8a1f10";
  r.record_id = "0f0e0d0c-0b0a-4908-8706-050403020100";
  r.type = domain::RecordType::kCredential;
  r.stamp.version = 3;
  r.stamp.vector.Set("shard-a", 2);
  r.stamp.vector.Set("shard-b", 1);
  r.stamp.hlc = domain::HlcTimestamp::Pack(1700000000123, 7);
  r.stamp.origin_shard = "shard-a";
  r.key_id = "k1";
  r.name_ct = std::string("\x01name\x00", 6);
  r.metadata_ct = "meta";
  r.payload_ct = std::string(300, '\xff');
  r.created_at_ms = 1700000000000;
  r.updated_at_ms = 1700000000123;
  return r;
}

TEST(ChangeEventTest, RoundTripsTheFullRevision) {
  repository::StoredRevision r = Sample();
  absl::StatusOr<repository::StoredRevision> back = DecodeChangeEvent(EncodeChangeEvent(r, "e1"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
}

TEST(ChangeEventTest, RoundTripsAPurgedTombstoneWithoutContent) {
  repository::StoredRevision r = Sample();
  r.deleted = r.purged = true;
  r.key_id.clear();
  r.name_ct.clear();
  r.metadata_ct.clear();
  r.payload_ct.clear();
  std::string value = EncodeChangeEvent(r, "e2");
  v1::ChangeEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(value));
  EXPECT_TRUE(parsed.encrypted_content().empty());
  absl::StatusOr<repository::StoredRevision> back = DecodeChangeEvent(value);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
}

TEST(ChangeEventTest, ProgressMarkerRoundTripsAndIsNotARevision) {
  ProgressMarker m{"shard-b", {{0, 12}, {3, 0}, {7, 40000000000}}};
  const std::string value = EncodeProgressMarker(m, "e3");
  absl::StatusOr<TopicEvent> back = DecodeTopicEvent(value);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->progress.has_value());
  EXPECT_FALSE(back->revision.has_value());
  EXPECT_EQ(back->progress->shard_id, "shard-b");
  EXPECT_EQ(back->progress->settled_offsets, m.settled_offsets);
  EXPECT_EQ(ProgressKey("shard-b"), "progress|shard-b");
  // The revision decoder refuses it instead of reading an empty record.
  EXPECT_EQ(DecodeChangeEvent(value).status().code(), absl::StatusCode::kInvalidArgument);
  // A revision through the general decoder.
  absl::StatusOr<TopicEvent> rev = DecodeTopicEvent(EncodeChangeEvent(Sample(), "e4"));
  ASSERT_TRUE(rev.ok()) << rev.status();
  ASSERT_TRUE(rev->revision.has_value());
  EXPECT_FALSE(rev->progress.has_value());
  EXPECT_EQ(*rev->revision, Sample());
}

TEST(ChangeEventTest, RejectsMalformedProgressMarkers) {
  v1::ChangeEvent e;
  e.set_schema_version(kChangeEventSchemaVersion);
  (*e.mutable_progress()->mutable_settled_offsets())[0] = 5;
  EXPECT_EQ(DecodeTopicEvent(e.SerializeAsString()).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "no origin";
  e.set_origin_shard("shard-a");
  e.set_record_id("0f0e0d0c-0b0a-4908-8706-050403020100");
  EXPECT_EQ(DecodeTopicEvent(e.SerializeAsString()).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "a marker carries no record";
  e.clear_record_id();
  (*e.mutable_progress()->mutable_settled_offsets())[1] = -1;
  EXPECT_EQ(DecodeTopicEvent(e.SerializeAsString()).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "negative offset";
  e.set_schema_version(kChangeEventSchemaVersion + 1);
  EXPECT_EQ(DecodeTopicEvent(e.SerializeAsString()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ChangeEventTest, KeyNamesOriginSpaceAndRecord) {
  EXPECT_EQ(EventKey(Sample()),
            "shard-a|7e0e5c1a-4a4e-5f2b-9a77-0d5a5c8a1f10|0f0e0d0c-0b0a-4908-8706-050403020100");
}

TEST(ChangeEventTest, PartitionIsStableAndSpreads) {
  // Pinned value: a change here would split one space's history over two partitions.
  EXPECT_EQ(PartitionForSpace("7e0e5c1a-4a4e-5f2b-9a77-0d5a5c8a1f10", 8),
            PartitionForSpace("7e0e5c1a-4a4e-5f2b-9a77-0d5a5c8a1f10", 8));
  std::set<int32_t> used;
  for (int i = 0; i < 200; ++i) {
    int32_t p = PartitionForSpace("space-" + std::to_string(i), 8);
    ASSERT_GE(p, 0);
    ASSERT_LT(p, 8);
    used.insert(p);
  }
  EXPECT_EQ(used.size(), 8u);
  EXPECT_EQ(PartitionForSpace("x", 1), 0);
}

TEST(ChangeEventTest, RejectsNewerSchemasAndMalformedEvents) {
  v1::ChangeEvent e;
  ASSERT_TRUE(e.ParseFromString(EncodeChangeEvent(Sample(), "e3")));
  e.set_schema_version(kChangeEventSchemaVersion + 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(DecodeChangeEvent(e.SerializeAsString()).status()));

  ASSERT_TRUE(e.ParseFromString(EncodeChangeEvent(Sample(), "e3")));
  e.set_encrypted_content("\x00\x00\x00\x09short");
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeChangeEvent(e.SerializeAsString()).status()));

  ASSERT_TRUE(e.ParseFromString(EncodeChangeEvent(Sample(), "e3")));
  e.set_space_id("not-a-uuid");
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeChangeEvent(e.SerializeAsString()).status()));

  ASSERT_TRUE(e.ParseFromString(EncodeChangeEvent(Sample(), "e3")));
  e.mutable_vector()->mutable_counters()->erase("shard-a");
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeChangeEvent(e.SerializeAsString()).status()));

  EXPECT_TRUE(absl::IsInvalidArgument(DecodeChangeEvent("\xff\xff\xff").status()));
}

}  // namespace
}  // namespace coffer::vault::sync
