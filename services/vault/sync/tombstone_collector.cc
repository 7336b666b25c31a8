#include "services/vault/sync/tombstone_collector.h"

#include <set>

#include "pkg/log/log.h"
#include "pkg/status/status.h"
#include "pkg/wallclock/wallclock.h"

namespace coffer::vault::sync {

TombstoneCollector::TombstoneCollector(TombstoneCollectorOptions options,
                                       repository::TombstoneStore& store,
                                       std::unique_ptr<Leadership> leadership, SyncMetrics& metrics)
    : options_(std::move(options)),
      store_(store),
      metrics_(metrics),
      loop_({"gc", options_.shard_id, options_.interval}, std::move(leadership), metrics) {}

TombstoneCollector::~TombstoneCollector() { Stop(); }

void TombstoneCollector::Start() {
  loop_.Start({.lead =
                   [this] {
                     loop_.Sleep(options_.interval);
                     if (loop_.stopping() || !loop_.ConfirmLeadership()) return;
                     if (absl::StatusOr<int64_t> n = CollectOnce(); !n.ok()) {
                       log::Warn("tombstone GC failed (retried at the next interval)",
                                 {{"status", n.status()}});
                     }
                   },
               .standby = nullptr,
               .lost = nullptr});
}

void TombstoneCollector::Stop() { loop_.Stop(); }

absl::StatusOr<int64_t> TombstoneCollector::CollectOnce() {
  if (absl::StatusOr<std::vector<repository::ShardProgressRow>> progress = store_.ListProgress();
      progress.ok()) {
    std::set<std::string> shards;
    for (const auto& row : *progress) shards.insert(row.shard_id);
    metrics_.registered_shards.Set(static_cast<double>(shards.size()));
  }
  COFFER_ASSIGN_OR_RETURN(int64_t n,
                          store_.CollectTombstones(wallclock::NowMs() - options_.min_age.count()));
  metrics_.gc_rounds.Increment();  // also the rounds that kept everything (observable in tests)
  if (n > 0) {
    metrics_.tombstones_collected.Increment(static_cast<double>(n));
    log::Info("tombstones collected behind the GC horizon", {{"records", n}});
  }
  return n;
}

}  // namespace coffer::vault::sync
