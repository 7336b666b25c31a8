// ReplicationGate: whether this shard may accept local writes yet (README "Tombstone GC").
//
// Why: a shard that other shards do not count in their GC horizon yet could accept a write
// concurrent with a tombstone they already dropped, and the shards would diverge. So, with GC on,
// a shard accepts writes only once its own progress marker has come back through every
// partition of the change topic: from then on every other shard counts it before collecting.
// A shard that already has its markers in its database (any restart) opens at once.
//
// It is the WriteGate RecordService asks before every write (domain/write_gate.h).
//
// Lifecycle: starts closed (or open when GC is off); the consumer opens it, never closes it.
// Threading: thread-safe.
#pragma once

#include <atomic>

#include "absl/status/status.h"
#include "services/vault/domain/write_gate.h"

namespace coffer::vault::sync {

class ReplicationGate final : public domain::WriteGate {
 public:
  explicit ReplicationGate(bool open) : open_(open) {}

  // Lets writes in from now on (the consumer, once this shard's markers came back).
  void Open() { open_.store(true); }
  bool is_open() const { return open_.load(); }

  // OK when open, else UNAVAILABLE (retryable) saying why.
  absl::Status CheckWritable() const override {
    if (is_open()) return absl::OkStatus();
    return absl::UnavailableError(
        "this shard is joining replication (waiting for its progress marker to come back "
        "through the change topic); retry shortly");
  }

 private:
  std::atomic<bool> open_;
};

}  // namespace coffer::vault::sync
