// ChangeGenerations: how many changes of a space this replica has learned of, as a counter that
// only grows. A copy of a space's data taken while the counter had some value is current for as
// long as the counter keeps it (service/head_cache.h).
//
// sync::ChangeNotifier implements it: local commits bump the counter right after they commit,
// changes committed by the other replicas of the shard when their notification arrives
// (docs/architecture.md §3b: without a session token, staleness is bounded by that delay).
//
// Threading: implementations are thread-safe and quick (called on every cached read).
#pragma once

#include <cstdint>
#include <string>

namespace coffer::vault::repository {

class ChangeGenerations {
 public:
  virtual ~ChangeGenerations() = default;

  // The counter of `space_id`. It moves with every change of the space the replica learns of, and
  // whenever the replica may have missed some (e.g. its notification session reconnected).
  virtual uint64_t Epoch(const std::string& space_id) = 0;
};

}  // namespace coffer::vault::repository
