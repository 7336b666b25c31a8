// VersionVector: which writes a revision has seen, as {shard_id: counter}
// (docs/architecture.md §3).
//
// Why: shards accept writes independently; comparing two revisions' vectors tells whether one
// descends from the other (dominates) or whether they were written concurrently (siblings).
// A missing entry means counter 0, so {a:1} == {a:1, b:0}; zero entries are never stored.
//
// Value type; not thread-safe for concurrent mutation, safe to copy and share read-only.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace coffer::vault::domain {

// Outcome of comparing vector a with vector b.
enum class VectorOrder {
  kEqual,       // a == b: the same revision
  kDominates,   // a > b: a has seen everything b has, and more
  kDominated,   // a < b
  kConcurrent,  // neither has seen the other's latest write
};

class VersionVector {
 public:
  VersionVector() = default;
  explicit VersionVector(std::map<std::string, uint64_t> counters);

  // Counter of `shard` (0 when absent).
  uint64_t Get(const std::string& shard) const;
  // Sets the counter of `shard`; a 0 counter removes the entry.
  void Set(const std::string& shard, uint64_t counter);
  // Increments the counter of `shard` and returns the new value.
  uint64_t Increment(const std::string& shard);

  // Pointwise maximum: the vector of a revision that has seen both.
  void MergeFrom(const VersionVector& other);
  static VersionVector Merge(const VersionVector& a, const VersionVector& b);

  // Compares *this (a) with other (b).
  VectorOrder Compare(const VersionVector& other) const;

  const std::map<std::string, uint64_t>& counters() const { return counters_; }
  bool empty() const { return counters_.empty(); }

  // Canonical JSON object with keys sorted, e.g. {"shard-a":3,"shard-b":1}. Stored in PostgreSQL
  // (jsonb) and compared byte-for-byte in convergence digests, hence canonical.
  std::string ToJson() const;
  // Parses ToJson() output (or any JSON object of non-negative integers).
  static absl::StatusOr<VersionVector> FromJson(const std::string& json);

  friend bool operator==(const VersionVector& a, const VersionVector& b) {
    return a.counters_ == b.counters_;
  }

 private:
  std::map<std::string, uint64_t> counters_;
};

}  // namespace coffer::vault::domain
