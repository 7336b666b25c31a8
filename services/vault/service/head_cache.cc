#include "services/vault/service/head_cache.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "pkg/status/status.h"

namespace coffer::vault::service {
namespace {

// What an entry costs beyond its strings: the Entry, the StoredRecord and its revisions, the
// hash-map and LRU nodes with their two copies of the key, the shared_ptr's control block.
constexpr int64_t kEntryOverhead = 700;

int64_t RevisionBytes(const repository::StoredRevision& r) {
  return static_cast<int64_t>(r.space_id.size() + r.record_id.size() + r.key_id.size() +
                              r.name_ct.size() + r.metadata_ct.size() + r.payload_ct.size() +
                              r.stamp.origin_shard.size() + 96 * r.stamp.vector.counters().size());
}

int64_t EstimateBytes(const std::string& key, const repository::StoredRecord& record) {
  int64_t n = kEntryOverhead + 2 * static_cast<int64_t>(key.size()) + RevisionBytes(record.head);
  for (const repository::StoredRevision& s : record.siblings) n += 200 + RevisionBytes(s);
  return n;
}

}  // namespace

struct HeadCache::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : hits(prometheus::BuildCounter()
                 .Name("coffer_vault_head_cache_hits_total")
                 .Help("GetRecord calls served from the head cache")
                 .Register(r)
                 .Add({})),
        misses(prometheus::BuildCounter()
                   .Name("coffer_vault_head_cache_misses_total")
                   .Help("GetRecord calls that read PostgreSQL (no entry, or a stale one, or "
                         "an entry older than the request's session token)")
                   .Register(r)
                   .Add({})),
        evictions(prometheus::BuildCounter()
                      .Name("coffer_vault_head_cache_evictions_total")
                      .Help("Head cache entries evicted to stay within its bytes")
                      .Register(r)
                      .Add({})),
        bytes(prometheus::BuildGauge()
                  .Name("coffer_vault_head_cache_bytes")
                  .Help("Estimated bytes held by the head cache")
                  .Register(r)
                  .Add({})),
        entries(prometheus::BuildGauge()
                    .Name("coffer_vault_head_cache_entries")
                    .Help("Records held by the head cache")
                    .Register(r)
                    .Add({})),
        guesses(prometheus::BuildCounter()
                    .Name("coffer_vault_write_guesses_total")
                    .Help("Local writes computed from the head cache's copy instead of a read; "
                          "outcome=stale when the copy was not current and the write read "
                          "PostgreSQL after all")
                    .Register(r)),
        guess_used(guesses.Add({{"outcome", "used"}})),
        guess_stale(guesses.Add({{"outcome", "stale"}})) {}
  prometheus::Counter& hits;
  prometheus::Counter& misses;
  prometheus::Counter& evictions;
  prometheus::Gauge& bytes;
  prometheus::Gauge& entries;
  prometheus::Family<prometheus::Counter>& guesses;
  prometheus::Counter& guess_used;
  prometheus::Counter& guess_stale;
};

HeadCache::HeadCache(HeadCacheConfig config, repository::RecordRepository& records,
                     repository::ChangeGenerations& generations, prometheus::Registry* registry,
                     Now now)
    : config_(config),
      records_(records),
      generations_(generations),
      now_(now ? std::move(now) : Now([] { return Clock::now(); })),
      metrics_(registry != nullptr ? std::make_unique<Metrics>(*registry) : nullptr) {}

HeadCache::~HeadCache() = default;

absl::StatusOr<std::optional<repository::StoredRecord>> HeadCache::Get(const std::string& space_id,
                                                                       const std::string& record_id,
                                                                       int64_t min_position) {
  if (config_.max_bytes <= 0) return records_.Get(space_id, record_id);
  const std::string key = space_id + "/" + record_id;
  // Before the read: a change that commits while the repository is read bumps the generation
  // past this one, so the entry filled below never serves after it.
  const uint64_t generation = generations_.Epoch(space_id);
  const Clock::time_point now = now_();
  std::shared_ptr<const repository::StoredRecord> hit;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      const Entry& e = it->second;
      if (!e.written && e.generation == generation && now - e.read_at <= config_.max_age &&
          e.record->space_position >= min_position) {
        lru_.splice(lru_.begin(), lru_, e.lru);
        hit = e.record;
        ++hits_;
      } else {
        ++misses_;
      }
    } else {
      ++misses_;
    }
  }
  if (hit != nullptr) {
    if (metrics_) metrics_->hits.Increment();
    return *hit;
  }
  if (metrics_) metrics_->misses.Increment();
  COFFER_ASSIGN_OR_RETURN(std::optional<repository::StoredRecord> record,
                          records_.Get(space_id, record_id));
  if (!record) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.generation <= generation) {
      EraseLocked(it);
      PublishLocked();
    }
    return record;
  }
  Store(key, *record, generation, now);
  return record;
}

std::shared_ptr<const repository::StoredRecord> HeadCache::Peek(const std::string& space_id,
                                                                const std::string& record_id) {
  if (config_.max_bytes <= 0) return nullptr;
  std::lock_guard lock(mu_);
  auto it = entries_.find(space_id + "/" + record_id);
  if (it == entries_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.record;
}

void HeadCache::Wrote(repository::StoredRecord record) {
  if (config_.max_bytes <= 0) return;
  const std::string& space_id = record.head.space_id;
  // The write's commit moved the space's epoch already (its listener runs before the write
  // returns): this generation is at least that, so a read that began before the write, and
  // finishes after, does not replace the newer copy.
  const uint64_t generation = generations_.Epoch(space_id);
  std::string key = space_id + "/" + record.head.record_id;
  Store(key, std::move(record), generation, now_(), /*written=*/true);
}

void HeadCache::CountGuess(bool stale) {
  {
    std::lock_guard lock(mu_);
    ++guesses_;
    if (stale) ++stale_guesses_;
  }
  if (metrics_) (stale ? metrics_->guess_stale : metrics_->guess_used).Increment();
}

void HeadCache::Store(const std::string& key, repository::StoredRecord record, uint64_t generation,
                      Clock::time_point read_at, bool written) {
  const int64_t bytes = EstimateBytes(key, record);
  const int64_t position = record.space_position;
  auto shared = std::make_shared<const repository::StoredRecord>(std::move(record));
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    // A concurrent read that began at a later generation, or at the same one but saw a later
    // position, has the fresher copy: keep it (reads stay monotonic). A write's head replaces
    // only copies of an earlier position (a space's positions only grow): not a later write's,
    // nor a read that already saw this write (which may serve Gets).
    const Entry& e = it->second;
    const bool fresher =
        written ? e.record->space_position >= position
                : e.generation > generation ||
                      (e.generation == generation && e.record->space_position > position);
    if (fresher) return;
    EraseLocked(it);
  }
  if (bytes > config_.max_bytes) {  // never held; the older copy is gone above
    PublishLocked();
    return;
  }
  lru_.push_front(key);
  entries_.emplace(key,
                   Entry{std::move(shared), generation, read_at, bytes, lru_.begin(), written});
  bytes_ += bytes;
  int64_t evicted = 0;
  while (bytes_ > config_.max_bytes && !lru_.empty()) {
    EraseLocked(entries_.find(lru_.back()));
    ++evicted;
  }
  evictions_ += evicted;
  if (metrics_ && evicted > 0) metrics_->evictions.Increment(static_cast<double>(evicted));
  PublishLocked();
}

void HeadCache::PublishLocked() {
  if (!metrics_) return;
  metrics_->bytes.Set(static_cast<double>(bytes_));
  metrics_->entries.Set(static_cast<double>(entries_.size()));
}

void HeadCache::EraseLocked(std::unordered_map<std::string, Entry>::iterator it) {
  bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

HeadCache::Stats HeadCache::stats() const {
  std::lock_guard lock(mu_);
  return Stats{hits_,    misses_,       static_cast<int64_t>(entries_.size()), bytes_, evictions_,
               guesses_, stale_guesses_};
}

}  // namespace coffer::vault::service
