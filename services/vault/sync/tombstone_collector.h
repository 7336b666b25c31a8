// TombstoneCollector: drops purge tombstones once no shard can still need them
// (docs/architecture.md §4, README "Tombstone GC"). One replica per shard leads (LeaderLoop, role
// "gc"; in production the advisory lock "coffer.vault.tombstone_gc").
//
// Every `interval` the leader asks the store to drop the lone purge tombstones whose event every
// registered shard has settled past (the horizon: the least settled offset per partition over
// the progress markers the consumer stored) and that were last written more than `min_age` ago,
// and counts them (coffer_vault_tombstones_collected_total) and the rounds that ran
// (coffer_vault_gc_rounds_total). It also reports how many shards are registered
// (coffer_vault_gc_registered_shards). A failed round is logged and retried at the next interval.
//
// Lifecycle: Start() spawns the thread; Stop() (or the destructor) ends it promptly.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "services/vault/repository/sync_stores.h"
#include "services/vault/sync/leader_loop.h"
#include "services/vault/sync/sync_metrics.h"

namespace coffer::vault::sync {

struct TombstoneCollectorOptions {
  std::string shard_id;
  std::chrono::milliseconds interval{60000};  // > 0
  std::chrono::milliseconds min_age{0};       // by last write
};

class TombstoneCollector {
 public:
  // `store` must outlive the collector.
  TombstoneCollector(TombstoneCollectorOptions options, repository::TombstoneStore& store,
                     std::unique_ptr<Leadership> leadership, SyncMetrics& metrics);
  ~TombstoneCollector();

  void Start();
  void Stop();
  bool is_leader() const { return loop_.is_leader(); }

  // One collection now (the leader's round without the wait); how many records were dropped.
  absl::StatusOr<int64_t> CollectOnce();

 private:
  const TombstoneCollectorOptions options_;
  repository::TombstoneStore& store_;
  SyncMetrics& metrics_;
  LeaderLoop loop_;  // last: its thread uses everything above
};

}  // namespace coffer::vault::sync
