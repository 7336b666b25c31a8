#include "services/vault/sync/shard_reporter.h"

#include <algorithm>
#include <map>

#include "services/vault/sync/snapshot_export.h"
#include "services/vault/sync/watermarks.h"

namespace coffer::vault::sync {

ShardStatus ShardReporter::Status() {
  ShardStatus status;
  status.shard_id = s_.shard_id;
  absl::StatusOr<int64_t> backlog = s_.records.OutboxBacklog();
  status.outbox_backlog = backlog.ok() ? *backlog : int64_t{-1};
  status.relay_leader = s_.relay != nullptr && s_.relay->is_leader();
  status.consumer_leader = s_.consumer != nullptr && s_.consumer->is_leader();
  if (s_.consumer != nullptr) status.consumer_stall_reason = s_.consumer->stall_reason();
  absl::StatusOr<std::map<int32_t, int64_t>> stored = s_.offsets.LoadOffsets();
  std::map<int32_t, int64_t> offsets = stored.ok() ? *stored : std::map<int32_t, int64_t>{};
  bool reachable = false;
  if (s_.probe != nullptr) {
    absl::StatusOr<int> n = s_.probe->PartitionCount(s_.topic, std::chrono::seconds(2));
    if (n.ok()) {
      reachable = true;
      for (int32_t p = 0; p < *n; ++p) offsets.emplace(p, 0);
    }
  }
  for (const auto& [p, next] : offsets) {
    PartitionStatus& ps = status.partitions.emplace_back();
    ps.partition = p;
    ps.next_offset = next;
    if (!reachable) continue;
    absl::StatusOr<kafka::Watermarks> wm =
        QueryWatermarksBounded(s_.probe->handle(), s_.topic, p, std::chrono::seconds(1));
    if (!wm.ok()) {
      reachable = false;  // do not wait again for every partition
      continue;
    }
    ps.high_watermark = wm->high;
    ps.lag = std::max<int64_t>(0, wm->high - next);
  }
  return status;
}

absl::Status ShardReporter::ExportSnapshot(SnapshotWriter write) {
  return WriteSnapshot(s_.shard_id, s_.snapshots, write);
}

absl::Status ShardReporter::ConsumerHealth() const {
  if (s_.consumer == nullptr) return absl::OkStatus();
  const std::string reason = s_.consumer->stall_reason();
  if (reason.empty()) return absl::OkStatus();
  return absl::UnavailableError("change consumer stalled: " + reason);
}

absl::Status ShardReporter::KafkaHealth() {
  if (s_.probe == nullptr) return absl::OkStatus();
  absl::StatusOr<int> n = s_.probe->PartitionCount(s_.topic, std::chrono::seconds(2));
  return n.ok() ? absl::OkStatus() : n.status();
}

}  // namespace coffer::vault::sync
