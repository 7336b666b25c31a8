// DeadLetters: the operator's side of the dead-letter table (V008, README "Dead letters"):
// list, retry after a fix, discard. AdminService exposes it (scope vault.admin).
//
// Retrying an incoming event runs exactly the consumer's checks again (received_event.h: MAC,
// schema, content) and applies it with the dead letter's deletion in one transaction, so a
// forged event can never be let in by a retry. Retrying an outgoing one puts its revision back
// in the outbox; the relay publishes it (or refuses it again) in its next round.
//
// Threading: thread-safe (the repository is).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/vault/domain/dead_letter.h"
#include "services/vault/repository/sync_stores.h"
#include "services/vault/sync/event_auth.h"

namespace coffer::vault::sync {

class DeadLetters {
 public:
  // Borrows all four; they must outlive this object.
  // `history_keep` as for the consumer's merges (0 = all).
  DeadLetters(std::string shard_id, repository::DeadLetterStore& letters,
              repository::ReplicaStateStore& replica, const EventAuthenticator& auth,
              int history_keep)
      : shard_id_(std::move(shard_id)),
        letters_(letters),
        replica_(replica),
        auth_(auth),
        history_keep_(history_keep) {}

  // Up to `limit` (1-1000) dead letters after id `after_id`, of `direction` ("in", "out", "" =
  // both); INVALID_ARGUMENT naming the field otherwise.
  absl::StatusOr<std::vector<domain::DeadLetter>> List(const std::string& direction,
                                                       int64_t after_id, int limit);
  // NOT_FOUND when there is no such dead letter; FAILED_PRECONDITION (with the reason) when an
  // incoming event still fails its checks or its merge, leaving it in place.
  absl::Status Retry(int64_t id);
  // NOT_FOUND when there is no such dead letter.
  absl::Status Discard(int64_t id);

 private:
  const std::string shard_id_;
  repository::DeadLetterStore& letters_;
  repository::ReplicaStateStore& replica_;
  const EventAuthenticator& auth_;
  const int history_keep_;
};

}  // namespace coffer::vault::sync
