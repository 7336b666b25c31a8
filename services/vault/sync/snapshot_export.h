// The sending side of AdminService.ExportSnapshot (docs/architecture.md §4, README "Bootstrap"):
// a shard's replicated state as v1::ExportSnapshotResponse messages. The receiving side, which
// reads these messages back, is sync/bootstrap.cc.
//
// Message layout: the first message carries the shard id, the consumer positions, the progress
// registry and the GC tombstones; then the membership registers (`space_changes`) and the
// revisions (`revisions`), each as one encoded change event (change_event.h), packed into
// messages of at most 4 MiB so each stays far below gRPC's 16 MiB limit (one revision's event is
// at most ~0.9 MB, domain::Limits::kMaxSealedRecord).
//
// Threading: as thread-safe as `store`.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "services/vault/repository/sync_stores.h"
#include "services/vault/sync/shard_status.h"

namespace coffer::vault::sync {

// Reads `store`'s snapshot and streams it to `write` as shard `shard_id`'s. CANCELLED when
// `write` returned false.
absl::Status WriteSnapshot(const std::string& shard_id, repository::SnapshotStore& store,
                           SnapshotWriter write);

}  // namespace coffer::vault::sync
