#include "services/vault/service/record_index.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <iterator>

#include "pkg/status/status.h"

namespace coffer::vault::service {
namespace {

// What a registered space costs before it holds any record (map node, LRU node, its state).
constexpr int64_t kSpaceOverhead = 512;
// What an entry costs beyond the bytes of its strings: the Entry and StoredRevision objects
// (~450 bytes), the ordered-map and hash-map nodes with their keys, and allocator overhead.
constexpr size_t kEntryOverhead = 900;
// Rebuilds in one catch-up before the space is served from PostgreSQL for this call (each one
// means tombstone GC ran again while the space was being read).
constexpr int kMaxRebuilds = 3;
// Attempts to find a registered space while others evict it.
constexpr int kMaxAcquireAttempts = 4;
// Spaces one call looks at to free memory (busy ones are skipped), so the registry lock is never
// held for a walk over every space.
constexpr int kMaxEvictionTries = 64;

size_t EstimateBytes(const std::string& record_id, const RecordIndex::Entry& e) {
  // The name is held three times (entry, map key, id -> name), the id three times.
  size_t n = kEntryOverhead + 3 * record_id.size() + 3 * e.name.size();
  for (const auto& [k, v] : e.metadata) n += k.size() + v.size() + 128;
  for (const std::string& t : e.search_texts) n += t.size() + 32;
  const repository::StoredRevision& s = e.sealed;
  n += s.space_id.size() + s.record_id.size() + s.key_id.size() + s.name_ct.size() +
       s.metadata_ct.size() + s.payload_ct.size() + s.stamp.origin_shard.size() +
       96 * s.stamp.vector.counters().size();
  return n;
}

}  // namespace

absl::StatusOr<RecordIndex::Entry> MakeIndexEntry(const RecordCipher& cipher,
                                                  const repository::StoredRevision& head,
                                                  int sibling_count) {
  COFFER_ASSIGN_OR_RETURN(domain::Revision r, cipher.Open(head));
  RecordIndex::Entry e;
  for (std::string_view text : domain::SearchableTexts(r.content)) {
    e.search_texts.push_back(domain::LowerAscii(text));
  }
  e.name = std::move(r.content.name);
  e.type = head.type;
  e.deleted = head.deleted;
  e.sibling_count = sibling_count;
  e.metadata = std::move(r.content.metadata);
  e.sealed = head;
  e.bytes = EstimateBytes(head.record_id, e);
  return e;
}

struct RecordIndex::Space {
  std::mutex mu;
  // Guarded by mu:
  bool built = false;
  int64_t position = 0;  // change_seq of the last change applied
  int64_t gc_floor = 0;  // the space's GC floor as of the last catch-up
  std::map<Position, Entry> by_name;
  std::unordered_map<std::string, std::string> name_of;  // record id -> name
  int64_t bytes = kSpaceOverhead;
  Clock::time_point caught_up_from{};  // start of the last completed catch-up
  int64_t epoch = 0;                   // RecordIndex::epoch_ when the space was read from the start
  Clock::time_point too_big_until{};
  // Guarded by RecordIndex::mu_:
  int64_t accounted = kSpaceOverhead;
  bool registered = true;
};

struct RecordIndex::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : bytes(prometheus::BuildGauge()
                  .Name("coffer_vault_record_index_bytes")
                  .Help("Estimated bytes held by the record index (all spaces)")
                  .Register(r)
                  .Add({})),
        spaces(prometheus::BuildGauge()
                   .Name("coffer_vault_record_index_spaces")
                   .Help("Spaces held by the record index")
                   .Register(r)
                   .Add({})),
        builds(prometheus::BuildCounter()
                   .Name("coffer_vault_record_index_builds_total")
                   .Help("Spaces read into the record index from the start")
                   .Register(r)
                   .Add({})),
        evictions(prometheus::BuildCounter()
                      .Name("coffer_vault_record_index_evictions_total")
                      .Help("Spaces evicted from the record index to stay within its bytes")
                      .Register(r)
                      .Add({})),
        fallbacks(prometheus::BuildCounter()
                      .Name("coffer_vault_record_index_fallbacks_total")
                      .Help("List, Search or ListConflicts calls served from PostgreSQL because "
                            "the space does not fit the record index")
                      .Register(r)
                      .Add({})) {}
  prometheus::Gauge& bytes;
  prometheus::Gauge& spaces;
  prometheus::Counter& builds;
  prometheus::Counter& evictions;
  prometheus::Counter& fallbacks;
};

RecordIndex::RecordIndex(RecordIndexConfig config, repository::ChangeFeedStore& changes,
                         const RecordCipher& cipher, prometheus::Registry* registry)
    : config_([&] {
        config.batch = std::max(config.batch, 1);
        return config;
      }()),
      changes_(changes),
      cipher_(cipher),
      metrics_(registry != nullptr ? std::make_unique<Metrics>(*registry) : nullptr) {}

RecordIndex::~RecordIndex() = default;

RecordIndex::Stats RecordIndex::stats() const {
  std::lock_guard lock(mu_);
  return {total_bytes_, static_cast<int64_t>(spaces_.size()), builds_, catch_ups_.load(),
          evictions_};
}

std::shared_ptr<RecordIndex::Space> RecordIndex::Acquire(const std::string& space_id) {
  std::lock_guard lock(mu_);
  auto it = spaces_.find(space_id);
  if (it != spaces_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return it->second.first;
  }
  lru_.push_front(space_id);
  auto space = std::make_shared<Space>();
  spaces_.emplace(space_id, std::make_pair(space, lru_.begin()));
  total_bytes_ += space->accounted;
  if (metrics_) metrics_->spaces.Set(static_cast<double>(spaces_.size()));
  return space;
}

absl::StatusOr<bool> RecordIndex::Scan(const std::string& space_id,
                                       const std::optional<Position>& after, const Visitor& visit) {
  auto visit_from = [&](const Space& space) {
    auto it = after ? space.by_name.upper_bound(*after) : space.by_name.begin();
    for (; it != space.by_name.end(); ++it) {
      if (!visit(it->first.second, it->second)) break;
    }
  };
  const Clock::time_point arrived = Clock::now();
  for (int attempt = 0; config_.max_bytes > 0 && attempt < kMaxAcquireAttempts; ++attempt) {
    std::shared_ptr<Space> space = Acquire(space_id);
    std::unique_lock lock(space->mu);
    {
      std::lock_guard registry_lock(mu_);
      if (!space->registered) continue;  // evicted between Acquire and here
    }
    if (Clock::now() < space->too_big_until) break;
    // A catch-up that started after this call arrived saw every write committed before it.
    if (!space->built || space->caught_up_from < arrived) {
      COFFER_ASSIGN_OR_RETURN(bool fits, CatchUp(*space, space_id, Clock::now(), /*held=*/true));
      if (!fits) break;
    }
    visit_from(*space);
    return true;
  }
  // Read the space for this call only (O(space), as without the index).
  if (metrics_) metrics_->fallbacks.Increment();
  Space transient;
  transient.registered = false;
  COFFER_ASSIGN_OR_RETURN(bool read, CatchUp(transient, space_id, Clock::now(), /*held=*/false));
  if (!read) {
    return absl::UnavailableError("the space changed too often while it was being read; retry");
  }
  visit_from(transient);
  return false;
}

absl::StatusOr<bool> RecordIndex::CatchUp(Space& space, const std::string& space_id,
                                          Clock::time_point started, bool held) {
  if (held) ++catch_ups_;
  absl::StatusOr<bool> caught_up = ReadChanges(space, space_id, started, held);
  if (!caught_up.ok()) {
    // Whatever was applied before the error is dropped (and its bytes released), so a space
    // that keeps failing never holds memory outside the bound; the next call reads it again.
    Clear(space);
    if (held) Account(space);
  }
  return caught_up;
}

absl::StatusOr<bool> RecordIndex::ReadChanges(Space& space, const std::string& space_id,
                                              Clock::time_point started, bool held) {
  COFFER_RETURN_IF_ERROR(CheckRewind(started));
  // Built before the database went back (CheckRewind): read it again.
  if (space.epoch != epoch_.load()) Clear(space);
  int rebuilds = 0;
  bool from_start = !space.built;
  if (from_start) {
    Clear(space);
    space.epoch = epoch_.load();
  }
  for (;;) {
    int64_t gc_floor = 0;
    COFFER_ASSIGN_OR_RETURN(
        std::vector<repository::ChangeEntry> batch,
        changes_.ListChanges(space_id, space.position, config_.batch, &gc_floor));
    // Tombstone GC removed purges after this index's position that it may not have seen: an
    // entry it holds could be one of them. (Reading from the start, nothing is held yet.)
    if (gc_floor > space.gc_floor && space.position < gc_floor && !space.by_name.empty()) {
      if (++rebuilds > kMaxRebuilds) {
        Clear(space);
        if (held) Account(space);
        return false;
      }
      Clear(space);
      space.epoch = epoch_.load();
      from_start = true;
      continue;
    }
    space.gc_floor = std::max(space.gc_floor, gc_floor);
    for (const repository::ChangeEntry& change : batch) {
      COFFER_RETURN_IF_ERROR(Apply(space, change));
      space.position = change.change_seq;
      // Checked per record: one batch of large records must not overshoot the bound.
      if (held && space.bytes > config_.max_bytes) {
        Clear(space);
        space.too_big_until = Clock::now() + config_.retry_too_big;
        Account(space);
        return false;
      }
    }
    if (batch.size() < static_cast<size_t>(config_.batch)) break;
  }
  if (held && from_start) {
    std::lock_guard lock(mu_);
    ++builds_;
    if (metrics_) metrics_->builds.Increment();
  }
  int64_t seen = max_seen_seq_.load();
  while (space.position > seen && !max_seen_seq_.compare_exchange_weak(seen, space.position)) {
  }
  space.built = true;
  space.caught_up_from = started;
  if (held) Account(space);
  return true;
}

absl::Status RecordIndex::CheckRewind(Clock::time_point now) {
  // One caller per period asks the database; the others go on.
  const int64_t now_ns = now.time_since_epoch().count();
  int64_t last_ns = rewind_checked_ns_.load();
  const int64_t period_ns = std::chrono::nanoseconds(config_.check_rewind_every).count();
  if (last_ns != 0 && now_ns - last_ns < period_ns) return absl::OkStatus();
  if (!rewind_checked_ns_.compare_exchange_strong(last_ns, now_ns)) return absl::OkStatus();
  // change_seq comes from one sequence per database that only moves forward; a value below one
  // this index has already read means the database was restored from an older backup (or
  // replaced): every space is read again. Writes after a restore move the sequence on, so a
  // restore is only seen if the check runs before they pass the old position: restart the
  // replicas after restoring a database (README "Recovery").
  COFFER_ASSIGN_OR_RETURN(int64_t last, changes_.LastChangeSeq());
  if (last < max_seen_seq_.load()) {
    ++epoch_;
    max_seen_seq_.store(last);
  }
  return absl::OkStatus();
}

absl::Status RecordIndex::Apply(Space& space, const repository::ChangeEntry& change) {
  const std::string& id = change.head.record_id;
  if (auto old = space.name_of.find(id); old != space.name_of.end()) {
    auto it = space.by_name.find(Position{old->second, id});
    if (it != space.by_name.end()) {
      space.bytes -= static_cast<int64_t>(it->second.bytes);
      space.by_name.erase(it);
    }
    space.name_of.erase(old);
  }
  if (change.head.purged) return absl::OkStatus();
  COFFER_ASSIGN_OR_RETURN(Entry entry, MakeIndexEntry(cipher_, change.head, change.sibling_count));
  space.bytes += static_cast<int64_t>(entry.bytes);
  space.name_of.emplace(id, entry.name);
  Position key{entry.name, id};
  space.by_name.emplace(std::move(key), std::move(entry));
  return absl::OkStatus();
}

void RecordIndex::Clear(Space& space) {
  space.built = false;
  space.position = 0;
  space.gc_floor = 0;
  space.by_name.clear();
  space.name_of.clear();
  space.bytes = kSpaceOverhead;
  space.epoch = epoch_.load();
}

void RecordIndex::Account(Space& space) {
  std::lock_guard lock(mu_);
  if (!space.registered) return;
  total_bytes_ += space.bytes - space.accounted;
  space.accounted = space.bytes;
  // Least recently used first; spaces busy in another call are skipped, not waited for.
  auto it = lru_.end();
  int tried = 0;
  while (total_bytes_ > config_.max_bytes && it != lru_.begin() && tried++ < kMaxEvictionTries) {
    --it;
    auto found = spaces_.find(*it);
    std::shared_ptr<Space> victim = found->second.first;
    if (victim.get() == &space) continue;
    std::unique_lock victim_lock(victim->mu, std::try_to_lock);
    if (!victim_lock.owns_lock()) continue;
    total_bytes_ -= victim->accounted;
    victim->accounted = 0;
    victim->registered = false;
    Clear(*victim);
    victim_lock.unlock();
    spaces_.erase(found);
    it = lru_.erase(it);
    ++evictions_;
    if (metrics_) metrics_->evictions.Increment();
  }
  if (metrics_) {
    metrics_->bytes.Set(static_cast<double>(total_bytes_));
    metrics_->spaces.Set(static_cast<double>(spaces_.size()));
  }
}

}  // namespace coffer::vault::service
