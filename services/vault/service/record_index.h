// RecordIndex: a per-replica, in-memory index of each space's records in (name, id) order, so a
// List, Search or ListConflicts page costs O(page + log n) instead of reading and decrypting the
// whole space (docs/benchmarks.md, "Listing a large space").
//
// What it keeps, per space: for every head that is not purged, its decrypted name, type, flags,
// sibling count and metadata, the lower-cased texts Search looks in (domain::SearchableTexts),
// and the head as stored (sealed), from which the page's records are opened. Payload secrets
// (passwords, card numbers, OTP seeds, text bodies) stay sealed in memory.
//
// Consistency (docs/architecture.md §3b): every Scan first catches up with PostgreSQL by reading
// the space's change feed after the index's position (one indexed query that usually returns no
// rows; repository::ChangeFeedStore, commit-ordered per space). So a scan reflects every write
// committed before it started, on any replica: read-your-writes across replicas holds without
// a session token. Concurrent scans of one space share one catch-up: a scan waiting for the
// space's lock skips its own when another one started after it. The index is rebuilt when
// tombstone GC may have removed a purge it has not seen (the space's GC floor passed its
// position), and every space is when the database's change_seq went backwards (a restored
// database; checked at most once per check_rewind_every, so restart replicas after a restore).
//
// Memory: bounded by `max_bytes` (an estimate of what entries hold). Spaces are evicted least
// recently used first; a space that alone does not fit is not held: each call reads it from
// PostgreSQL (O(space) time and memory, as without the index) until `retry_too_big` passes.
//
// Lifecycle: borrows its collaborators, which must outlive it. Threading: thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "services/vault/domain/record.h"
#include "services/vault/repository/record_repository.h"
#include "services/vault/repository/sync_stores.h"
#include "services/vault/service/record_cipher.h"

namespace prometheus {
class Registry;
}

namespace coffer::vault::service {

struct RecordIndexConfig {
  // Upper bound of the estimated bytes held for all spaces; 0 disables the index.
  int64_t max_bytes = int64_t{256} << 20;
  // Changes read per catch-up query.
  int batch = 1000;
  // How long a space too large for max_bytes is served from PostgreSQL before another try.
  std::chrono::milliseconds retry_too_big{std::chrono::minutes(5)};
  // How often a catch-up also checks that the database's change_seq did not go back.
  std::chrono::milliseconds check_rewind_every{std::chrono::seconds(1)};
};

class RecordIndex {
 public:
  // One head of a space as the index holds it.
  struct Entry {
    std::string name;
    domain::RecordType type = domain::RecordType::kText;
    bool deleted = false;
    int sibling_count = 0;
    std::map<std::string, std::string> metadata;
    // domain::SearchableTexts, lower-cased; the first is the name.
    std::vector<std::string> search_texts;
    repository::StoredRevision sealed;
    size_t bytes = 0;  // estimate, for the memory bound
  };
  // Position of a page: the (name, record id) of the last record returned.
  using Position = std::pair<std::string, std::string>;
  // Return false to stop the scan.
  using Visitor = std::function<bool(const std::string& record_id, const Entry& entry)>;

  RecordIndex(RecordIndexConfig config, repository::ChangeFeedStore& changes,
              const RecordCipher& cipher, prometheus::Registry* registry = nullptr);
  ~RecordIndex();
  RecordIndex(const RecordIndex&) = delete;
  RecordIndex& operator=(const RecordIndex&) = delete;

  // Visits the heads of `space_id` (canonical id) that are not purged, in (name, record id)
  // order, strictly after `after` when set, while `visit` returns true; `visit` runs under the
  // space's lock and copies what it keeps. Returns true when the page came from memory, false
  // when the index is disabled or the space does not fit: the space was then read from
  // PostgreSQL for this call only (O(space)). Errors are the change feed's or the cipher's;
  // UNAVAILABLE when tombstone GC kept moving while the space was read.
  absl::StatusOr<bool> Scan(const std::string& space_id, const std::optional<Position>& after,
                            const Visitor& visit);

  struct Stats {
    int64_t bytes = 0;
    int64_t spaces = 0;
    int64_t builds = 0;     // spaces read from the start
    int64_t catch_ups = 0;  // catch-ups of held spaces run (not skipped)
    int64_t evictions = 0;
  };
  Stats stats() const;

 private:
  struct Space;
  struct Metrics;
  using Clock = std::chrono::steady_clock;

  // The registered state of `space_id`, created empty when missing, marked most recently used.
  std::shared_ptr<Space> Acquire(const std::string& space_id);
  // Reads the space's changes after its position (from the start when it is not built); the
  // space's lock is held. False when a `held` space does not fit, or when tombstone GC kept
  // moving while the space was read.
  absl::StatusOr<bool> CatchUp(Space& space, const std::string& space_id, Clock::time_point started,
                               bool held);
  // CatchUp's work; on an error CatchUp drops what it read.
  absl::StatusOr<bool> ReadChanges(Space& space, const std::string& space_id,
                                   Clock::time_point started, bool held);
  // At most once per check_rewind_every: when the database's change_seq is below one already
  // read, bumps the epoch, so every space is read again.
  absl::Status CheckRewind(Clock::time_point now);
  absl::Status Apply(Space& space, const repository::ChangeEntry& change);
  void Clear(Space& space);
  // Accounts the space's new size and evicts others until the total fits; the space's lock is
  // held, victims' locks are only tried (never waited for), so the two locks cannot deadlock.
  void Account(Space& space);

  const RecordIndexConfig config_;
  repository::ChangeFeedStore& changes_;
  const RecordCipher& cipher_;
  std::unique_ptr<Metrics> metrics_;

  mutable std::mutex mu_;  // guards what follows and every Space::accounted / Space::registered
  std::list<std::string> lru_;  // most recently used first
  std::unordered_map<std::string,
                     std::pair<std::shared_ptr<Space>, std::list<std::string>::iterator>>
      spaces_;
  int64_t total_bytes_ = 0;
  int64_t builds_ = 0;
  int64_t evictions_ = 0;
  std::atomic<int64_t> catch_ups_{0};
  std::atomic<int64_t> epoch_{0};         // bumped when the database's change_seq went back
  std::atomic<int64_t> max_seen_seq_{0};  // the greatest change_seq any space caught up to
  std::atomic<int64_t> rewind_checked_ns_{0};
};

// The entry of a stored head: opens it (name, metadata and payload) and keeps what the index
// holds.
absl::StatusOr<RecordIndex::Entry> MakeIndexEntry(const RecordCipher& cipher,
                                                  const repository::StoredRevision& head,
                                                  int sibling_count);

}  // namespace coffer::vault::service
