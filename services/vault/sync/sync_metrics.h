// Prometheus series of shard sync (README "Metrics"). Labels are partition numbers and fixed
// role names only: never keys, record ids or anything secret.
//
// Threading: prometheus-cpp metrics are thread-safe; the struct is immutable after construction.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <string>

namespace coffer::vault::sync {

struct SyncMetrics {
  explicit SyncMetrics(prometheus::Registry& registry);

  // Consumer lag of one partition (high watermark - next offset).
  void SetLag(int32_t partition, int64_t lag);
  void Quarantined(const std::string& kind) {
    events_quarantined.Add({{"kind", kind}}).Increment();
  }
  void RelayDeadLetter(const std::string& kind) {
    relay_dead_letters.Add({{"kind", kind}}).Increment();
  }

  prometheus::Gauge& outbox_backlog;                    // coffer_vault_outbox_backlog
  prometheus::Counter& events_produced;                 // coffer_vault_relay_events_produced_total
  prometheus::Counter& produce_failures;                // coffer_vault_relay_produce_failures_total
  prometheus::Family<prometheus::Gauge>& consumer_lag;  // coffer_vault_consumer_lag{partition}
  prometheus::Counter& merges_applied;                  // coffer_vault_merges_applied_total
  prometheus::Counter& merges_unchanged;                // coffer_vault_merges_unchanged_total
  prometheus::Counter& echoes_skipped;  // coffer_vault_consumer_own_events_skipped_total
  // Incoming events stored as dead letters instead of applied, by kind (mac, schema, decode,
  // merge): coffer_vault_consumer_events_quarantined_total{kind}.
  prometheus::Family<prometheus::Counter>& events_quarantined;
  // Outbox rows Kafka refused for good, moved to the dead letters, by kind (too_large, unreadable):
  // coffer_vault_relay_dead_letters_total{kind}.
  prometheus::Family<prometheus::Counter>& relay_dead_letters;
  // Received HLCs too far ahead of the local clock to adopt (merged, not observed):
  // coffer_vault_consumer_clock_skew_ignored_total.
  prometheus::Counter& clock_skew_ignored;
  // Recoveries from a peer's snapshot after the log was truncated under this shard, by result
  // (ok, failed): coffer_vault_consumer_recoveries_total{result}.
  prometheus::Family<prometheus::Counter>& recoveries;
  prometheus::Counter& conflicts_created;   // coffer_vault_conflicts_created_total
  prometheus::Counter& conflicts_resolved;  // coffer_vault_conflicts_resolved_total
  prometheus::Family<prometheus::Counter>& leadership_changes;  // {role, change}
  prometheus::Gauge& consumer_stalled;        // coffer_vault_consumer_stalled (1 = refused)
  prometheus::Histogram& replication_delay;   // coffer_vault_replication_delay_seconds
  prometheus::Counter& progress_markers;      // coffer_vault_progress_markers_published_total
  prometheus::Counter& tombstones_collected;  // coffer_vault_tombstones_collected_total
  prometheus::Counter& gc_rounds;             // coffer_vault_gc_rounds_total (shows GC runs)
  prometheus::Gauge& registered_shards;       // coffer_vault_gc_registered_shards
  prometheus::Gauge& replication_joined;      // coffer_vault_replication_joined (1 = joined)
};

}  // namespace coffer::vault::sync
