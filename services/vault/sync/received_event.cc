#include "services/vault/sync/received_event.h"

#include <type_traits>

#include "coffer/vault/v1/events.pb.h"

namespace coffer::vault::sync {

ReceivedEvent ClassifyEvent(const kafka::Message& message, const ClassifyContext& context) {
  if (absl::Status mac = context.auth->Verify(message.key, message.value, message.headers);
      !mac.ok()) {
    return Quarantine{"mac", std::string(mac.message())};
  }
  absl::StatusOr<TopicEvent> event = DecodeTopicEvent(message.value);
  if (!event.ok()) {
    return Quarantine{absl::IsFailedPrecondition(event.status()) ? "schema" : "decode",
                      std::string(event.status().message())};
  }
  if (event->progress) {
    ProgressReport report{event->progress->shard_id, std::nullopt};
    const bool old_own =
        report.shard_id == context.shard_id && message.offset < context.merge_own_until;
    auto it = event->progress->settled_offsets.find(message.partition);
    if (it != event->progress->settled_offsets.end() && !old_own) report.settled = it->second;
    return report;
  }
  if (event->blob_chunk) {
    if (event->blob_chunk->origin_shard == context.shard_id) return OwnEcho{};
    return IncomingChunk{*std::move(event->blob_chunk)};
  }
  if (event->space_change) {
    if (event->space_change->origin_shard == context.shard_id &&
        message.offset >= context.merge_own_until) {
      return OwnEcho{};
    }
    return MergeSpaceChange{*std::move(event->space_change)};
  }
  repository::StoredRevision& revision = *event->revision;
  if (revision.stamp.origin_shard == context.shard_id &&
      message.offset >= context.merge_own_until) {
    OwnEcho echo;
    if (revision.purged) echo.tombstone = std::move(revision);
    return echo;
  }
  return MergeRevision{std::move(revision)};
}

// A bounded, printable-ASCII copy of bytes read from Kafka for a text column: the database
// refuses invalid UTF-8, and a dead letter must always be storable.
std::string SafeText(std::string_view bytes, size_t max) {
  std::string out;
  for (char c : bytes.substr(0, max)) {
    out.push_back(c >= 0x20 && c <= 0x7e ? c : '?');
  }
  return out;
}

repository::DeadLetter DeadLetterOf(const kafka::Message& message, std::string kind,
                                    const std::string& error) {
  repository::DeadLetter d;
  d.direction = "in";
  d.kind = std::move(kind);
  d.error = SafeText(error, 1000);
  d.partition = message.partition;
  d.offset = message.offset;
  d.origin_shard = ClaimedOrigin(message.value);
  d.key = message.key;
  d.value = message.value;
  for (const kafka::Header& h : message.headers) {
    if (h.key == kMacKeyIdHeader) d.mac_key_id = SafeText(h.value, 64);
    if (h.key == kMacHeader) d.mac = h.value.substr(0, 64);
  }
  return d;
}

repository::IncomingRevision ToIncoming(ReceivedEvent event, const kafka::Message& message) {
  repository::IncomingRevision in;
  in.partition = message.partition;
  in.offset = message.offset;
  in.merge = false;
  std::visit(
      [&](auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, MergeRevision>) {
          in.merge = true;
          in.revision = std::move(e.revision);
        } else if constexpr (std::is_same_v<T, OwnEcho>) {
          if (e.tombstone) {
            in.own_tombstone = true;
            in.revision = std::move(*e.tombstone);
          }
        } else if constexpr (std::is_same_v<T, ProgressReport>) {
          if (e.settled) {
            in.progress_shard = e.shard_id;
            in.progress_settled = *e.settled;
          }
        } else if constexpr (std::is_same_v<T, MergeSpaceChange>) {
          in.space_change = std::move(e.change);
        } else if constexpr (std::is_same_v<T, IncomingChunk>) {
          in.blob_chunk = std::move(e.chunk.blob);
          in.blob_chunk_index = e.chunk.index;
          in.blob_chunk_ct = std::move(e.chunk.chunk_ct);
        } else {
          static_assert(std::is_same_v<T, Quarantine>);
          in.dead_letter = DeadLetterOf(message, e.kind, e.error);
        }
      },
      event);
  return in;
}

// pkg/postgres/errors.cc maps SQLSTATE classes 22 and 23 to these codes; the merge rejects with
// DATA_LOSS or FAILED_PRECONDITION.
bool IsEventsFault(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

std::string ClaimedOrigin(const std::string& value) {
  v1::ChangeEvent e;
  if (!e.ParseFromString(value)) return "";
  return SafeText(e.origin_shard(), 128);
}

}  // namespace coffer::vault::sync
