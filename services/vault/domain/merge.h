// State-based merge of record revisions and the local write rule
// (docs/architecture.md §3, rules 1–3).
//
// Why here: this is the convergence logic every shard must apply identically. It is pure
// (no I/O, no clock reads except through an injected Hlc), so it is property-tested alone.
//
// Threading: free functions over values; thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "services/vault/domain/hlc.h"
#include "services/vault/domain/version_vector.h"

namespace coffer::vault::domain {

// The causal identity of one revision of a record.
struct RevisionStamp {
  // The number clients see and use for check-and-set; strictly increases along causality.
  int64_t version = 0;
  // Writes this revision has seen, including itself (vector[origin_shard] is its own counter).
  VersionVector vector;
  // Hybrid logical clock of the write (see hlc.h).
  uint64_t hlc = 0;
  // The shard that accepted the write.
  std::string origin_shard;

  friend bool operator==(const RevisionStamp&, const RevisionStamp&) = default;
};

// The head order: true when a's (hlc, origin_shard) is greater than b's.
inline bool HeadGreater(const RevisionStamp& a, const RevisionStamp& b) {
  return std::tie(a.hlc, a.origin_shard) > std::tie(b.hlc, b.origin_shard);
}

// Merges revisions into the current sibling set of one record and returns the new set, head
// first, the others in descending head order. `T` is any type with a `RevisionStamp stamp`
// member (the record revision, or a bare stamp wrapper in tests).
//
// The result keeps exactly the revisions not dominated by another one; of revisions with equal
// vectors (the same revision seen twice) one is kept, chosen by head order. The result depends
// only on the union of both inputs, never on their order, so the merge is commutative,
// associative and idempotent.
template <typename T>
std::vector<T> MergeSiblings(std::vector<T> current, const std::vector<T>& incoming) {
  current.insert(current.end(), incoming.begin(), incoming.end());
  // Head order first, so that among equal vectors the first one seen is the one to keep.
  std::sort(current.begin(), current.end(),
            [](const T& a, const T& b) { return HeadGreater(a.stamp, b.stamp); });
  // Decide every revision first, then move the survivors out (moving earlier would empty the
  // vectors later comparisons need).
  std::vector<bool> keep(current.size(), true);
  for (size_t i = 0; i < current.size(); ++i) {
    for (size_t j = 0; j < current.size() && keep[i]; ++j) {
      if (i == j) continue;
      VectorOrder order = current[i].stamp.vector.Compare(current[j].stamp.vector);
      // Dominated by another revision, or a duplicate of one that sorts earlier.
      if (order == VectorOrder::kDominated || (order == VectorOrder::kEqual && j < i)) {
        keep[i] = false;
      }
    }
  }
  std::vector<T> kept;
  for (size_t i = 0; i < current.size(); ++i) {
    if (keep[i]) kept.push_back(std::move(current[i]));
  }
  return kept;
}

// True when `incoming` belongs to a record created again, with the same id, after the record
// was purged and its tombstone garbage-collected on another shard (README "Tombstone GC"): every
// current revision is a purged tombstone, and `incoming` is newer than all of them in a way no
// revision of the old incarnation can be:
//   * it was *created* after every tombstone was written (`created_at_ms` is kept by every later
//     write of a record, and each tombstone's write time is at or after the creation of the
//     incarnation it ends — its shard's clock observed that creation); or
//   * its vector is dominated by (or equal to) a tombstone's — its counters restarted — yet its
//     HLC is later: a revision a tombstone has seen always has a smaller HLC.
// The new revision then replaces the tombstones, as it does where they are already gone. (Equal
// milliseconds with a concurrent vector fall back to a normal merge: siblings.)
template <typename T>
bool IsNewIncarnation(const std::vector<T>& current, const T& incoming) {
  if (current.empty()) return false;
  bool dominated = false;
  bool created_later = true;
  for (const T& c : current) {
    if (!c.purged || incoming.stamp.hlc <= c.stamp.hlc) return false;
    created_later = created_later && incoming.created_at_ms > c.updated_at_ms;
    VectorOrder order = incoming.stamp.vector.Compare(c.stamp.vector);
    if (order == VectorOrder::kDominated || order == VectorOrder::kEqual) dominated = true;
  }
  return dominated || created_later;
}

// The stamp of a new local write on shard `shard` over the current siblings (rule 1): its
// vector is the merge of every sibling's vector with the shard's own counter incremented (so it
// dominates, and thereby resolves, every sibling); its version is one more than the greatest
// sibling version (1 when there are none); its HLC exceeds every sibling's.
RevisionStamp NextLocalStamp(const std::vector<RevisionStamp>& siblings, const std::string& shard,
                             Hlc& hlc);

}  // namespace coffer::vault::domain
