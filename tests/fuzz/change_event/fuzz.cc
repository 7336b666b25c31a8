// Fuzzes the change topic's value codec (services/vault/sync/change_event.h) as a consumer reads
// it from Kafka.
//
// Input: the bytes of one Kafka value, meant to be a serialized coffer.vault.v1.ChangeEvent
// (corpus: one event of each kind, written with `protoc --encode`).
//
// Properties:
//   - DecodeTopicEvent fails only with INVALID_ARGUMENT, or FAILED_PRECONDITION for a schema
//     newer than this build; on success exactly one of TopicEvent's four members is set.
//   - DecodeChangeEvent agrees: it succeeds exactly when DecodeTopicEvent gives a revision, with
//     the same revision, and fails with the same code when DecodeTopicEvent fails.
//   - decode → encode (the matching Encode* with the event's own event_id) → decode → encode is a
//     fixpoint: both encodings are the same bytes, and the second decode equals the first in every
//     field.
//   - a decoded revision means what the wire says: its HLC is the event's (physical, logical),
//     not a truncation of it.
//   - PartitionForSpace is in [0, n) for the decoded space ids; EventKey, ProgressKey,
//     BlobChunkKey and SpaceChangeKey are computed and name what they key.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "coffer/vault/v1/events.pb.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/sync/change_event.h"
#include "tests/fuzz/fuzz_check.h"

namespace coffer::fuzz {
namespace {

using vault::sync::BlobChunk;
using vault::sync::ProgressMarker;
using vault::sync::TopicEvent;

constexpr int kPartitionCounts[] = {1, 2, 3, 12, 64, 1000};

int Members(const TopicEvent& e) {
  return e.revision.has_value() + e.progress.has_value() + e.blob_chunk.has_value() +
         e.space_change.has_value();
}

void CheckPartitions(const std::string& space_id) {
  for (int n : kPartitionCounts) {
    const int32_t p = vault::sync::PartitionForSpace(space_id, n);
    FUZZ_CHECK(p >= 0 && p < n);
    FUZZ_CHECK(p == vault::sync::PartitionForSpace(space_id, n));  // stable
  }
  FUZZ_CHECK(vault::sync::PartitionForSpace(space_id, 0) == 0);
}

bool SameChunk(const BlobChunk& a, const BlobChunk& b) {
  return a.origin_shard == b.origin_shard && a.index == b.index && a.chunk_ct == b.chunk_ct &&
         a.blob.blob_id == b.blob.blob_id && a.blob.space_id == b.blob.space_id &&
         a.blob.size_bytes == b.blob.size_bytes && a.blob.chunk_count == b.blob.chunk_count &&
         a.blob.key_id == b.blob.key_id && a.blob.info_ct == b.blob.info_ct &&
         a.blob.created_at_ms == b.blob.created_at_ms;
}

bool SameProgress(const ProgressMarker& a, const ProgressMarker& b) {
  return a.shard_id == b.shard_id && a.settled_offsets == b.settled_offsets;
}

// The value the matching Encode* function writes for `e` (exactly one member set).
std::string Encode(const TopicEvent& e, const std::string& event_id) {
  if (e.revision) return vault::sync::EncodeChangeEvent(*e.revision, event_id);
  if (e.progress) return vault::sync::EncodeProgressMarker(*e.progress, event_id);
  if (e.blob_chunk) return vault::sync::EncodeBlobChunkEvent(*e.blob_chunk, event_id);
  return vault::sync::EncodeSpaceChangeEvent(*e.space_change, event_id);
}

void CheckSame(const TopicEvent& a, const TopicEvent& b) {
  FUZZ_CHECK(Members(b) == 1);
  FUZZ_CHECK(a.revision.has_value() == b.revision.has_value());
  FUZZ_CHECK(a.progress.has_value() == b.progress.has_value());
  FUZZ_CHECK(a.blob_chunk.has_value() == b.blob_chunk.has_value());
  FUZZ_CHECK(a.space_change.has_value() == b.space_change.has_value());
  if (a.revision) FUZZ_CHECK(*a.revision == *b.revision);
  if (a.progress) FUZZ_CHECK(SameProgress(*a.progress, *b.progress));
  if (a.blob_chunk) FUZZ_CHECK(SameChunk(*a.blob_chunk, *b.blob_chunk));
  if (a.space_change) FUZZ_CHECK(*a.space_change == *b.space_change);
}

void CheckKeys(const TopicEvent& e) {
  if (e.revision) {
    const auto& r = *e.revision;
    FUZZ_CHECK(vault::sync::EventKey(r) ==
               r.stamp.origin_shard + "|" + r.space_id + "|" + r.record_id);
    CheckPartitions(r.space_id);
  }
  if (e.progress)
    FUZZ_CHECK(vault::sync::ProgressKey(e.progress->shard_id).starts_with("progress|"));
  if (e.blob_chunk) {
    FUZZ_CHECK(vault::sync::BlobChunkKey(e.blob_chunk->blob.blob_id) ==
               "blob|" + e.blob_chunk->blob.blob_id);
    CheckPartitions(e.blob_chunk->blob.space_id);
  }
  if (e.space_change) {
    const std::string key = vault::sync::SpaceChangeKey(*e.space_change);
    FUZZ_CHECK(
        key.starts_with(e.space_change->origin_shard + "|space|" + e.space_change->space_id + "|"));
    CheckPartitions(e.space_change->space_id);
  }
}

void CheckWireMeaning(const std::string& value, const TopicEvent& e) {
  if (!e.revision) return;
  coffer::vault::v1::ChangeEvent wire;
  FUZZ_CHECK(wire.ParseFromString(value));
  const uint64_t hlc = e.revision->stamp.hlc;
  FUZZ_CHECK(vault::domain::HlcTimestamp::PhysicalMs(hlc) == wire.hlc().physical_ms());
  FUZZ_CHECK(vault::domain::HlcTimestamp::Logical(hlc) == wire.hlc().logical());
  FUZZ_CHECK(static_cast<uint64_t>(e.revision->stamp.version) == wire.version());
}

void Check(const std::string& value) {
  absl::StatusOr<TopicEvent> first = vault::sync::DecodeTopicEvent(value);
  absl::StatusOr<vault::repository::StoredRevision> revision =
      vault::sync::DecodeChangeEvent(value);
  CheckPartitions(value);  // any bytes as a space id
  if (!first.ok()) {
    const absl::StatusCode code = first.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument ||
               code == absl::StatusCode::kFailedPrecondition);
    FUZZ_CHECK(!revision.ok() && revision.status().code() == code);
    return;
  }
  FUZZ_CHECK(Members(*first) == 1);
  FUZZ_CHECK(revision.ok() == first->revision.has_value());
  if (revision.ok()) {
    FUZZ_CHECK(*revision == *first->revision);
  } else {
    FUZZ_CHECK(revision.status().code() == absl::StatusCode::kInvalidArgument);
  }
  CheckWireMeaning(value, *first);
  CheckKeys(*first);

  coffer::vault::v1::ChangeEvent wire;
  FUZZ_CHECK(wire.ParseFromString(value));
  const std::string encoded = Encode(*first, wire.event_id());
  absl::StatusOr<TopicEvent> second = vault::sync::DecodeTopicEvent(encoded);
  FUZZ_CHECK(second.ok());
  CheckSame(*first, *second);
  FUZZ_CHECK(Encode(*second, wire.event_id()) == encoded);
}

}  // namespace
}  // namespace coffer::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  coffer::fuzz::Check(std::string(coffer::fuzz::Bytes(data, size)));
  return 0;
}
