// WriteGate: whether this shard accepts local writes right now (docs/architecture.md §4,
// "Tombstone GC"). RecordService asks it before every write; sync::ReplicationGate implements it
// (closed while a new shard with tombstone GC joins replication).
//
// Why in domain: the use case that asks (service/) and the replication state that answers
// (sync/) sit side by side and neither may include the other, so the interface lives in the
// layer both build on. It holds no I/O.
//
// Threading: implementations are thread-safe.
#pragma once

#include "absl/status/status.h"

namespace coffer::vault::domain {

class WriteGate {
 public:
  virtual ~WriteGate() = default;

  // OK when writes may proceed; otherwise the status to refuse them with (UNAVAILABLE, retryable).
  virtual absl::Status CheckWritable() const = 0;
};

}  // namespace coffer::vault::domain
