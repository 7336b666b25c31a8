// ChangeEvent codec and partitioning: round trips, stable partitions, rejected inputs.
#include "services/vault/sync/change_event.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "coffer/vault/v1/events.pb.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/domain/ids.h"

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

// Found by tests/fuzz/change_event (corpus regress-progress-map-order): protobuf writes map
// entries in hash order, so re-encoding a decoded marker or vector gave other bytes.
TEST(ChangeEventTest, EncodingIsByteStableThroughADecode) {
  ProgressMarker m{"shard-b", {}};
  repository::StoredRevision r = Sample();
  for (int i = 0; i < 40; ++i) {
    m.settled_offsets[i * 7] = int64_t{1} << i;
    r.stamp.vector.Set("shard-" + std::to_string(i), static_cast<uint64_t>(i) + 1);
  }
  const std::string marker = EncodeProgressMarker(m, "e3");
  const std::string revision = EncodeChangeEvent(r, "e4");
  for (int attempt = 0; attempt < 20; ++attempt) {
    absl::StatusOr<TopicEvent> back = DecodeTopicEvent(marker);
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_TRUE(back->progress.has_value());
    EXPECT_EQ(EncodeProgressMarker(*back->progress, "e3"), marker);
    absl::StatusOr<repository::StoredRevision> rev = DecodeChangeEvent(revision);
    ASSERT_TRUE(rev.ok()) << rev.status();
    EXPECT_EQ(EncodeChangeEvent(*rev, "e4"), revision);
  }
}

BlobChunk SampleChunk(int64_t size, int index) {
  BlobChunk c;
  c.origin_shard = "shard-a";
  c.blob.blob_id = "1f0e0d0c-0b0a-4908-8706-050403020100";
  c.blob.space_id = "2f0e0d0c-0b0a-4908-8706-050403020100";
  c.blob.size_bytes = size;
  c.blob.chunk_count = static_cast<int>((size + 262143) / 262144);
  c.blob.key_id = "k1";
  c.blob.info_ct = std::string("\x01sealed-info", 12);
  c.blob.created_at_ms = 1700000000123;
  c.index = index;
  c.chunk_ct = size == 0 ? "" : "sealed-chunk";
  return c;
}

TEST(ChangeEventTest, BlobChunkRoundTripsAndIsNeitherRevisionNorMarker) {
  for (const BlobChunk& c : {SampleChunk(600 * 1024, 2), SampleChunk(0, 0)}) {
    const std::string value = EncodeBlobChunkEvent(c, "e5");
    absl::StatusOr<TopicEvent> back = DecodeTopicEvent(value);
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_TRUE(back->blob_chunk.has_value());
    EXPECT_FALSE(back->revision.has_value());
    EXPECT_FALSE(back->progress.has_value());
    const BlobChunk& b = *back->blob_chunk;
    EXPECT_EQ(b.origin_shard, c.origin_shard);
    EXPECT_EQ(b.blob.blob_id, c.blob.blob_id);
    EXPECT_EQ(b.blob.space_id, c.blob.space_id);
    EXPECT_EQ(b.blob.size_bytes, c.blob.size_bytes);
    EXPECT_EQ(b.blob.chunk_count, c.blob.chunk_count);
    EXPECT_EQ(b.blob.key_id, c.blob.key_id);
    EXPECT_EQ(b.blob.info_ct, c.blob.info_ct);
    EXPECT_EQ(b.blob.created_at_ms, c.blob.created_at_ms);
    EXPECT_EQ(b.index, c.index);
    EXPECT_EQ(b.chunk_ct, c.chunk_ct);
    EXPECT_EQ(DecodeChangeEvent(value).status().code(), absl::StatusCode::kInvalidArgument);
    // Nothing about the file in plaintext: the SHA-256 and type fields stay empty.
    v1::ChangeEvent e;
    ASSERT_TRUE(e.ParseFromString(value));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // the fields this checks are unused
    EXPECT_TRUE(e.blob_chunk().sha256_hex().empty());
    EXPECT_TRUE(e.blob_chunk().content_type().empty());
    EXPECT_TRUE(e.blob_chunk().encrypted_file_name().empty());
#pragma GCC diagnostic pop
  }
  EXPECT_EQ(BlobChunkKey("b"), "blob|b");
}

TEST(ChangeEventTest, RejectsInconsistentBlobChunks) {
  auto code = [](const BlobChunk& c, const std::function<void(v1::ChangeEvent&)>& edit) {
    v1::ChangeEvent e;
    EXPECT_TRUE(e.ParseFromString(EncodeBlobChunkEvent(c, "e6")));
    edit(e);
    return DecodeTopicEvent(e.SerializeAsString()).status().code();
  };
  const auto bad = absl::StatusCode::kInvalidArgument;
  const BlobChunk c = SampleChunk(600 * 1024, 1);
  EXPECT_EQ(code(c, [](v1::ChangeEvent&) {}), absl::StatusCode::kOk);
  EXPECT_EQ(code(c, [](v1::ChangeEvent& e) { e.mutable_blob_chunk()->set_chunk_index(3); }), bad);
  EXPECT_EQ(code(c, [](v1::ChangeEvent& e) { e.mutable_blob_chunk()->set_chunk_count(2); }), bad);
  EXPECT_EQ(code(c, [](v1::ChangeEvent& e) { e.mutable_blob_chunk()->clear_encrypted_chunk(); }),
            bad);
  EXPECT_EQ(code(c, [](v1::ChangeEvent& e) { e.mutable_blob_chunk()->clear_sealed_info(); }), bad);
  EXPECT_EQ(code(c, [](v1::ChangeEvent& e) { e.mutable_blob_chunk()->set_blob_id("x"); }), bad);
  EXPECT_EQ(code(c, [](v1::ChangeEvent& e) { e.set_origin_shard("shard-b"); }), bad);
  EXPECT_EQ(code(c, [](v1::ChangeEvent& e) { e.set_record_id(e.blob_chunk().blob_id()); }), bad);
  const BlobChunk empty = SampleChunk(0, 0);
  EXPECT_EQ(
      code(empty, [](v1::ChangeEvent& e) { e.mutable_blob_chunk()->set_encrypted_chunk("x"); }),
      bad);
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

// Found by tests/fuzz/change_event (corpus regress-timestamp-overflow): seconds * 1000 overflowed
// int64 for a timestamp beyond year 9999 (undefined behaviour, then a garbage time).
TEST(ChangeEventTest, RejectsTimestampsBeyondTheirRangeAndKeepsTheRangeExact) {
  v1::ChangeEvent e;
  ASSERT_TRUE(e.ParseFromString(EncodeChangeEvent(Sample(), "e3")));
  e.mutable_update_time()->set_seconds(6004147126261510400);
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeChangeEvent(e.SerializeAsString()).status()));
  e.mutable_update_time()->set_seconds(-9223372036854775);
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeTopicEvent(e.SerializeAsString()).status()));
  e.mutable_update_time()->set_seconds(1);
  e.mutable_update_time()->set_nanos(1000000000);
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeTopicEvent(e.SerializeAsString()).status()));

  repository::StoredRevision r = Sample();
  r.created_at_ms = -253402300799000;
  r.updated_at_ms = 253402300799999 - 999;  // 9999-12-31T23:59:59.000Z
  absl::StatusOr<repository::StoredRevision> back = DecodeChangeEvent(EncodeChangeEvent(r, "e3"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);

  // A shard whose HLC ran far ahead (a wrong clock) stamps its records with the HLC's physical
  // time, up to 48 bits of milliseconds (year 10889): its peers must read them back, not refuse
  // them (review of the first fix, which stopped at year 9999).
  r.stamp.hlc = ~uint64_t{0};
  r.created_at_ms = r.updated_at_ms = (int64_t{1} << 48) - 1;
  back = DecodeChangeEvent(EncodeChangeEvent(r, "e3"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
  r.created_at_ms = -1500;  // before the epoch: negative nanos, as SetTime writes them
  back = DecodeChangeEvent(EncodeChangeEvent(r, "e3"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);

  BlobChunk c;
  c.origin_shard = "shard-a";
  c.blob.blob_id = "1f0e0d0c-0b0a-4908-8706-050403020100";
  c.blob.space_id = "2f0e0d0c-0b0a-4908-8706-050403020100";
  c.blob.key_id = "k1";
  c.blob.info_ct = "info";
  ASSERT_TRUE(e.ParseFromString(EncodeBlobChunkEvent(c, "e4")));
  e.mutable_blob_chunk()->mutable_create_time()->set_seconds(INT64_MAX);
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeTopicEvent(e.SerializeAsString()).status()));
}

// Found by tests/fuzz/change_event (corpus regress-hlc-beyond-48-bits): a revision's HLC beyond
// 48 bits of milliseconds (or 16 of counter) was cut to fit, so the merge ordered the revision
// by another time than the one it carried.
TEST(ChangeEventTest, RejectsAnHlcThatDoesNotFitAndKeepsTheLargestThatDoes) {
  v1::ChangeEvent e;
  ASSERT_TRUE(e.ParseFromString(EncodeChangeEvent(Sample(), "e3")));
  e.mutable_hlc()->set_physical_ms(domain::HlcTimestamp::kMaxPhysicalMs + 1);
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeChangeEvent(e.SerializeAsString()).status()));
  e.mutable_hlc()->set_physical_ms(1700000000123);
  e.mutable_hlc()->set_logical(0x10000);
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeTopicEvent(e.SerializeAsString()).status()));

  repository::StoredRevision r = Sample();
  r.stamp.hlc = ~uint64_t{0};  // the largest HLC: 48 bits of milliseconds, 16 of counter
  absl::StatusOr<repository::StoredRevision> back = DecodeChangeEvent(EncodeChangeEvent(r, "e4"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->stamp.hlc, r.stamp.hlc);
}

// Membership registers travel intact, keyed by origin and register, and can never name a
// personal space or carry a clock beyond 48 bits.
TEST(SpaceChangeEventTest, RoundTripKeyAndRefusals) {
  repository::SpaceRegister r;
  r.kind = repository::SpaceRegister::Kind::kMember;
  r.space_id = "7e0e5c1a-4a4e-4f2b-9a77-0d5a5c8a1f10";
  r.hlc = domain::HlcTimestamp::Pack(1700000000123, 7);
  r.origin_shard = "shard-a";
  r.user_id = "bob";
  r.member_role = "writer";
  r.joined_at_ms = 1700000000000;
  absl::StatusOr<TopicEvent> back = DecodeTopicEvent(EncodeSpaceChangeEvent(r, "e1"));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->space_change.has_value());
  EXPECT_EQ(*back->space_change, r);
  EXPECT_EQ(SpaceChangeKey(r), "shard-a|space|" + r.space_id + "|member|bob");

  repository::SpaceRegister personal = r;
  personal.kind = repository::SpaceRegister::Kind::kOwner;
  personal.owner_id = "attacker";
  personal.space_id = domain::PersonalSpaceId("victim");
  EXPECT_TRUE(
      absl::IsInvalidArgument(DecodeTopicEvent(EncodeSpaceChangeEvent(personal, "e2")).status()));

  repository::SpaceRegister far = r;
  far.hlc = domain::HlcTimestamp::Pack(uint64_t{1} << 47, 0);
  EXPECT_TRUE(
      absl::IsInvalidArgument(DecodeTopicEvent(EncodeSpaceChangeEvent(far, "e3")).status()));

  repository::SpaceRegister bad_role = r;
  bad_role.member_role = "owner";
  EXPECT_TRUE(
      absl::IsInvalidArgument(DecodeTopicEvent(EncodeSpaceChangeEvent(bad_role, "e4")).status()));
}

}  // namespace
}  // namespace coffer::vault::sync
