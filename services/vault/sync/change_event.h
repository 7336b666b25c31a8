// ChangeEvent codec and partitioning (docs/architecture.md §4, proto/coffer/vault/v1/events.proto).
//
// Why: the relay and the consumer must agree byte for byte on the Kafka key, the partition and
// the value of every event; keeping both directions here makes that one tested unit.
//
// Events carry the stored ciphertext envelopes as they are (no re-encryption), so every shard
// of a deployment must hold the same KEK keyring. `encrypted_content` packs the three envelopes
// of a revision (name, metadata, payload) as three length-prefixed fields (4-byte big-endian
// length, then the envelope bytes), empty for a purged tombstone.
//
// Threading: free functions over values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "services/vault/repository/blob_repository.h"
#include "services/vault/repository/record_repository.h"
#include "services/vault/repository/space_repository.h"

namespace coffer::vault::sync {

inline constexpr uint32_t kChangeEventSchemaVersion = 1;

// Kafka key: "origin_shard|space_id|record_id".
std::string EventKey(const repository::StoredRevision& revision);

// Partition of a space: FNV-1a 64 of the space id modulo `partition_count` (stable across
// processes and builds, so one space's changes always land in one partition, in order).
int32_t PartitionForSpace(const std::string& space_id, int partition_count);

// Serializes a ChangeEvent with the full revision state.
std::string EncodeChangeEvent(const repository::StoredRevision& revision,
                              const std::string& event_id);

// Parses a ChangeEvent value. INVALID_ARGUMENT for malformed events (and for progress markers),
// FAILED_PRECONDITION for a schema_version newer than this build understands (the consumer must
// stop, not skip).
absl::StatusOr<repository::StoredRevision> DecodeChangeEvent(const std::string& value);

// A shard's progress marker (events.proto ShardProgress): settled consumer offsets by partition.
struct ProgressMarker {
  std::string shard_id;
  std::map<int32_t, int64_t> settled_offsets;
};

// Kafka key of `shard`'s progress markers: "progress|<shard>".
std::string ProgressKey(const std::string& shard);

// Serializes a progress marker (a ChangeEvent with only `progress` and the header fields).
std::string EncodeProgressMarker(const ProgressMarker& marker, const std::string& event_id);

// One chunk of a blob as it travels (events.proto BlobChunkEvent): the blob's stored row and
// chunk `index`'s envelope.
struct BlobChunk {
  std::string origin_shard;
  repository::StoredBlob blob;
  int index = 0;
  std::string chunk_ct;
};

// Kafka key of a blob's chunks: "blob|<blob_id>".
std::string BlobChunkKey(const std::string& blob_id);

// Serializes a chunk (a ChangeEvent with only `blob_chunk` and the header fields).
std::string EncodeBlobChunkEvent(const BlobChunk& chunk, const std::string& event_id);

// Kafka key of a register write of a shared space: "<origin>|space|<space_id>|<register>"
// (V010).
std::string SpaceChangeKey(const repository::SpaceRegister& change);

// Serializes a register write (a ChangeEvent with only `space_change` and the header fields).
std::string EncodeSpaceChangeEvent(const repository::SpaceRegister& change,
                                   const std::string& event_id);

// A decoded value of the change topic: exactly one of the four is set.
struct TopicEvent {
  std::optional<repository::StoredRevision> revision;
  std::optional<ProgressMarker> progress;
  std::optional<BlobChunk> blob_chunk;
  std::optional<repository::SpaceRegister> space_change;
};

// Parses any value of the change topic; errors as DecodeChangeEvent.
absl::StatusOr<TopicEvent> DecodeTopicEvent(const std::string& value);

}  // namespace coffer::vault::sync
