// ShardStatusSource: what AdminService tells an operator or a peer about this shard's
// replication: GetShardStatus (leadership, positions, lag, outbox backlog) and ExportSnapshot
// (the state a new or recovering shard imports, sync/bootstrap.h). ShardReporter
// (shard_reporter.h) implements it; transport maps the values to the admin protos.
//
// Threading: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "coffer/vault/v1/admin.pb.h"

namespace coffer::vault::sync {

// One partition of the change topic as this shard's consumer sees it.
struct PartitionStatus {
  int32_t partition = 0;
  int64_t next_offset = 0;      // stored position (0 for a partition never read)
  int64_t high_watermark = -1;  // -1 = Kafka not reachable
  int64_t lag = -1;             // high_watermark - next_offset, at least 0; -1 = unknown
};

// GetShardStatus apart from the build version.
struct ShardStatus {
  std::string shard_id;
  int64_t outbox_backlog = -1;        // local revisions not yet published; -1 = could not be read
  bool relay_leader = false;          // this replica leads the outbox relay
  bool consumer_leader = false;       // this replica leads the change consumer
  std::string consumer_stall_reason;  // empty while applying normally
  std::vector<PartitionStatus> partitions;
};

// Receives the snapshot's messages in order; returns false when the client went away.
using SnapshotWriter = absl::FunctionRef<bool(const v1::ExportSnapshotResponse&)>;

class ShardStatusSource {
 public:
  virtual ~ShardStatusSource() = default;

  // Never fails: what cannot be read is reported as unknown (-1).
  virtual ShardStatus Status() = 0;
  // Streams the shard's snapshot to `write`: the header first, then membership registers and
  // revisions as change events. CANCELLED when `write` returned false.
  virtual absl::Status ExportSnapshot(SnapshotWriter write) = 0;
};

}  // namespace coffer::vault::sync
