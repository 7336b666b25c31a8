// ChangeConsumer: applies the other shards' change events to this shard (DESIGN.md §3–§4).
// One replica per shard leads (pkg/postgres LeaderLock "coffer.vault.change_consumer").
//
// The leader assigns EVERY partition of the change topic at the offsets stored in PostgreSQL
// (consumer_offsets; 0 for a partition never read), polls batches, skips events whose origin is
// this shard (no echo), merges the rest state-based (PgSyncRepository::ApplyBatch) and stores the
// next offsets in the same transaction. Merged revisions are never written to the outbox.
//
// Refusing to resume: when a stored offset is below the partition's low watermark (the log was
// truncated past events this shard never applied), or an event has a schema newer than this
// build, the consumer stops applying, reports it (stall_reason(), metric
// coffer_vault_consumer_stalled = 1, error log) and checks again every `stall_recheck`; it never
// silently skips. The fix is a re-bootstrap of the shard (or an operator moving the offsets).
//
// Progress markers (other shards' and its own) are stored in shard_progress in the batch's
// transaction; with gc_interval set, the leader periodically drops tombstones every registered
// shard has settled past (PgSyncRepository::CollectTombstones) and opens the ReplicationGate
// once its own markers came back on every partition.
//
// Lifecycle: Start() spawns the thread; Stop() (or the destructor) ends it within about
// `poll_timeout` and releases leadership. Threading: accessors from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "pkg/kafka/consumer.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/repository/pg_sync_repository.h"
#include "services/vault/sync/replication_gate.h"
#include "services/vault/sync/sync_metrics.h"

namespace coffer::vault::sync {

struct ChangeConsumerOptions {
  std::string shard_id;
  std::string topic = "coffer.vault.changes.v1";
  std::string db_dsn;  // secret: never logged
  kafka::ConsumerConfig consumer;
  int history_keep = 0;
  int batch_size = 500;
  std::chrono::milliseconds poll_timeout{200};
  std::chrono::milliseconds stall_recheck{5000};
  std::chrono::milliseconds lag_refresh{2000};
  // Tombstone GC (README "Tombstone GC"): how often the leader collects tombstones behind the
  // horizon (0 = never), and how old (last write) a tombstone must be at least.
  std::chrono::milliseconds gc_interval{0};
  std::chrono::milliseconds gc_min_age{0};
  // Opened once this shard's own progress marker came back on every partition (may be null).
  ReplicationGate* gate = nullptr;
};

class ChangeConsumer {
 public:
  // `hlc` observes every merged revision so later local writes order after it.
  ChangeConsumer(ChangeConsumerOptions options, repository::PgSyncRepository& repo,
                 domain::Hlc& hlc, SyncMetrics& metrics);
  ~ChangeConsumer();

  void Start();
  void Stop();
  bool is_leader() const { return leader_.load(); }
  // Empty while applying normally; otherwise why the consumer refuses to resume.
  std::string stall_reason() const;

 private:
  void Run();
  void SetStall(const std::string& reason);
  // Opens the gate when this shard's markers came back on all `partitions`.
  void CheckJoined(int partitions);
  void CollectTombstones();

  const ChangeConsumerOptions options_;
  repository::PgSyncRepository& repo_;
  domain::Hlc& hlc_;
  SyncMetrics& metrics_;
  std::atomic<bool> leader_{false};
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string stall_reason_;
  std::thread thread_;
};

}  // namespace coffer::vault::sync
