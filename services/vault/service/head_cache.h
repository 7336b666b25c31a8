// HeadCache: a per-replica cache of sealed record heads (with their conflict siblings), so a
// GetRecord needs no PostgreSQL round trip while the replica knows its copy is current
// (docs/architecture.md §3b, docs/benchmarks.md "Get from memory").
//
// When a copy is current: every entry remembers the space's epoch (repository::
// ChangeGenerations::Epoch: moved by the space's change notifications, and for every space when
// the notification session reconnects) from before the read that filled it, and the space's
// position that read saw (StoredRecord::space_position). An entry serves a Get only while
//   - the space's epoch is still the remembered one: no change of the space committed on this
//     replica, or notified by another replica, since the read began;
//   - it is younger than `max_age`: bounds staleness if a notification is lost while the
//     notifier's LISTEN session is broken but not yet noticed;
//   - its position is at least the request's `min_position` (a session token: the position a
//     write of this client returned). Changes of a space commit in position order, so such a
//     copy reflects that write: a client reads its own writes through any replica. Without a
//     token, a write committed through another replica is seen once its notification arrives
//     (a few milliseconds; docs/architecture.md §3b).
// Anything else reads the repository and refreshes the entry. Records that do not exist are not
// cached.
//
// Writes use the cache as a guess only (Peek): a local write computes the next revision from the
// copy held here, whatever its age, and its check-and-set (repository::HeadCheck: version,
// state_seq, HLC and origin shard of the head it was computed from) commits only if PostgreSQL
// still has that head; otherwise, and whenever the copy would refuse the write (another version
// than the client expects, a record in the trash), the write reads PostgreSQL and decides again. So
// a stale copy costs a round trip and never a wrong answer. After a write the replica remembers the
// head it wrote (Wrote), so the next edit of the same record needs no read either; such an entry
// never serves a Get (the write moved the space's epoch past it), a Get reads PostgreSQL and
// replaces it.
//
// What is held: sealed ciphertexts only, as stored (nothing is decrypted here). Memory: bounded
// by `max_bytes` (an estimate of the entries' strings plus a per-entry overhead), least recently
// used entries evicted first.
//
// Lifecycle: borrows its collaborators, which must outlive it. Threading: thread-safe; the lock
// is held only for map operations, never during a repository call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "services/vault/repository/change_generations.h"
#include "services/vault/repository/record_repository.h"

namespace prometheus {
class Registry;
}

namespace coffer::vault::service {

struct HeadCacheConfig {
  // Upper bound of the estimated bytes held; 0 disables the cache (every Get reads PostgreSQL).
  int64_t max_bytes = int64_t{32} << 20;
  // How long an entry may serve without being read again, whatever the notifications say.
  std::chrono::milliseconds max_age{5000};
};

class HeadCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  // `now` defaults to the steady clock (tests pass their own to age entries).
  HeadCache(HeadCacheConfig config, repository::RecordRepository& records,
            repository::ChangeGenerations& generations, prometheus::Registry* registry = nullptr,
            Now now = nullptr);
  ~HeadCache();
  HeadCache(const HeadCache&) = delete;
  HeadCache& operator=(const HeadCache&) = delete;

  // Record `record_id` of `space_id` (canonical ids), or nullopt when it does not exist: from
  // memory when the entry is current (see the file comment) and at `min_position` or later,
  // else from the repository. Errors are the repository's.
  absl::StatusOr<std::optional<repository::StoredRecord>> Get(const std::string& space_id,
                                                              const std::string& record_id,
                                                              int64_t min_position);

  // The copy held for the record, current or not (no repository call), or null: the base a write
  // may try first (see the file comment).
  std::shared_ptr<const repository::StoredRecord> Peek(const std::string& space_id,
                                                       const std::string& record_id);

  // Remembers the head a local write of this replica just committed (state_seq and position as
  // that write left them) for the next write's Peek. Never serves a Get.
  // Keyed by the head's space and record ids.
  void Wrote(repository::StoredRecord record);

  // Counts a write that began from a Peek copy: `stale` when it had to read PostgreSQL after all.
  void CountGuess(bool stale);

  struct Stats {
    int64_t hits = 0;
    int64_t misses = 0;
    int64_t entries = 0;
    int64_t bytes = 0;
    int64_t evictions = 0;
    int64_t guesses = 0;        // writes that began from a Peek copy
    int64_t stale_guesses = 0;  // ... and then read PostgreSQL
  };
  Stats stats() const;

 private:
  struct Entry {
    std::shared_ptr<const repository::StoredRecord> record;
    uint64_t generation = 0;
    Clock::time_point read_at;
    int64_t bytes = 0;
    std::list<std::string>::iterator lru;
    bool written = false;  // from Wrote: a base for writes, never served to a Get
  };
  struct Metrics;

  // Remembers `record`, read while the space's generation was `generation`, unless an entry read
  // at a later generation is there already; evicts until the total fits.
  void Store(const std::string& key, repository::StoredRecord record, uint64_t generation,
             Clock::time_point read_at, bool written = false);
  void EraseLocked(std::unordered_map<std::string, Entry>::iterator it);
  // Sets the bytes and entries gauges; mu_ is held.
  void PublishLocked();

  const HeadCacheConfig config_;
  repository::RecordRepository& records_;
  repository::ChangeGenerations& generations_;
  const Now now_;
  std::unique_ptr<Metrics> metrics_;

  mutable std::mutex mu_;  // guards what follows
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // keys, most recently used first
  int64_t bytes_ = 0;
  int64_t hits_ = 0;
  int64_t misses_ = 0;
  int64_t evictions_ = 0;
  int64_t guesses_ = 0;
  int64_t stale_guesses_ = 0;
};

}  // namespace coffer::vault::service
