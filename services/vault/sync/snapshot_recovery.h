// SnapshotRecovery: how a running shard catches up again when the change topic was truncated
// below its stored positions (docs/architecture.md §3 rule 4, §4). ChangeConsumer calls it instead
// of staying stalled; PeerBootstrap (bootstrap.h) implements it by merging a peer shard's
// snapshot.
//
// Threading: called from the consumer's thread; implementations need not be reentrant.
#pragma once

#include "absl/status/status.h"

namespace coffer::vault::sync {

class SnapshotRecovery {
 public:
  virtual ~SnapshotRecovery() = default;

  // Merges a snapshot into the current state and moves the stored positions forward to its
  // positions. An error leaves the consumer stalled; it tries again later.
  virtual absl::Status Recover() = 0;
};

}  // namespace coffer::vault::sync
