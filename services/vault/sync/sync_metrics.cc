#include "services/vault/sync/sync_metrics.h"

#include <string>

namespace coffer::vault::sync {
namespace {

prometheus::Counter& Counter(prometheus::Registry& r, const std::string& name,
                             const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

prometheus::Gauge& Gauge(prometheus::Registry& r, const std::string& name,
                         const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

SyncMetrics::SyncMetrics(prometheus::Registry& r)
    : outbox_backlog(Gauge(r, "coffer_vault_outbox_backlog",
                           "Outbox rows not yet published (as last seen by the relay leader)")),
      events_produced(Counter(r, "coffer_vault_relay_events_produced_total",
                              "Change events Kafka acknowledged (acks=all)")),
      produce_failures(Counter(r, "coffer_vault_relay_produce_failures_total",
                               "Change events whose delivery failed (they are resent)")),
      consumer_lag(prometheus::BuildGauge()
                       .Name("coffer_vault_consumer_lag")
                       .Help("Events of a partition not applied yet (high watermark - next offset)")
                       .Register(r)),
      merges_applied(Counter(r, "coffer_vault_merges_applied_total",
                             "Received revisions that changed a record's state")),
      merges_unchanged(Counter(r, "coffer_vault_merges_unchanged_total",
                               "Received revisions already known or dominated (no-op)")),
      echoes_skipped(Counter(r, "coffer_vault_consumer_own_events_skipped_total",
                             "Events of this shard's own origin skipped (no echo)")),
      events_quarantined(prometheus::BuildCounter()
                             .Name("coffer_vault_consumer_events_quarantined_total")
                             .Help("Incoming events stored as dead letters instead of applied, "
                                   "by kind (mac, schema, decode, merge)")
                             .Register(r)),
      relay_dead_letters(prometheus::BuildCounter()
                             .Name("coffer_vault_relay_dead_letters_total")
                             .Help("Outbox rows Kafka refused for good, moved to the dead "
                                   "letters, by kind (too_large, unreadable)")
                             .Register(r)),
      clock_skew_ignored(Counter(r, "coffer_vault_consumer_clock_skew_ignored_total",
                                 "Received hybrid clocks too far ahead of the local clock to "
                                 "adopt (the revision still merges)")),
      recoveries(prometheus::BuildCounter()
                     .Name("coffer_vault_consumer_recoveries_total")
                     .Help("Recoveries from a peer's snapshot after the change log was truncated "
                           "under this shard, by result (ok, failed)")
                     .Register(r)),
      conflicts_created(Counter(r, "coffer_vault_conflicts_created_total",
                                "Merges that left a record with conflict siblings")),
      conflicts_resolved(Counter(r, "coffer_vault_conflicts_resolved_total",
                                 "Merges that resolved a record's conflict siblings")),
      leadership_changes(prometheus::BuildCounter()
                             .Name("coffer_vault_leadership_changes_total")
                             .Help("Leadership acquired or lost, by role (relay, consumer)")
                             .Register(r)),
      consumer_stalled(Gauge(r, "coffer_vault_consumer_stalled",
                             "1 while the consumer refuses to resume (a stored offset below the "
                             "log start: events were truncated before this shard applied them)")),
      replication_delay(
          prometheus::BuildHistogram()
              .Name("coffer_vault_replication_delay_seconds")
              .Help("Origin write time to merged here")
              .Register(r)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5, 1, 2.5, 5, 10, 30, 60, 300})),
      progress_markers(Counter(r, "coffer_vault_progress_markers_published_total",
                               "Progress markers this shard published (to every partition)")),
      tombstones_collected(Counter(r, "coffer_vault_tombstones_collected_total",
                                   "Purged records dropped behind the GC horizon")),
      gc_rounds(Counter(r, "coffer_vault_gc_rounds_total",
                        "Tombstone GC rounds that completed (collecting something or not)")),
      registered_shards(Gauge(r, "coffer_vault_gc_registered_shards",
                              "Shards whose progress markers this shard has read")),
      replication_joined(Gauge(r, "coffer_vault_replication_joined",
                               "1 once this shard's own progress marker came back on every "
                               "partition (writes are accepted; see README)")) {
  // Every kind exists from the start at 0, so an alert on increase() sees the first one.
  for (const char* kind : {"mac", "schema", "decode", "merge"})
    events_quarantined.Add({{"kind", kind}});
  for (const char* kind : {"too_large", "unreadable"}) {
    relay_dead_letters.Add({{"kind", kind}});
  }
}

void SyncMetrics::SetLag(int32_t partition, int64_t lag) {
  consumer_lag.Add({{"partition", std::to_string(partition)}}).Set(static_cast<double>(lag));
}

}  // namespace coffer::vault::sync
