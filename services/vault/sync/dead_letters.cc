#include "services/vault/sync/dead_letters.h"

#include "pkg/status/status.h"
#include "services/vault/sync/change_event.h"
#include "services/vault/sync/received_event.h"

namespace coffer::vault::sync {

absl::StatusOr<std::vector<domain::DeadLetter>> DeadLetters::List(const std::string& direction,
                                                                  int64_t after_id, int limit) {
  if (direction != "" && direction != "in" && direction != "out") {
    return absl::InvalidArgumentError("direction: must be \"in\", \"out\" or empty");
  }
  if (limit < 1 || limit > 1000) return absl::InvalidArgumentError("page_size: must be 1-1000");
  if (after_id < 0) return absl::InvalidArgumentError("page_token: malformed");
  return letters_.ListDeadLetters(direction, after_id, limit);
}

absl::Status DeadLetters::Retry(int64_t id) {
  COFFER_ASSIGN_OR_RETURN(std::optional<repository::DeadLetter> letter, letters_.GetDeadLetter(id));
  if (!letter) return absl::NotFoundError("no dead letter with this id");
  if (letter->direction == "out") {
    absl::StatusOr<repository::StoredRevision> revision = DecodeChangeEvent(letter->value);
    if (!revision.ok()) {
      return absl::FailedPreconditionError("the stored event does not decode: " +
                                           std::string(revision.status().message()));
    }
    COFFER_ASSIGN_OR_RETURN(bool requeued, letters_.RequeueOutgoing(id, *revision));
    if (!requeued) return absl::NotFoundError("no dead letter with this id");
    return absl::OkStatus();
  }
  kafka::Message message;
  message.partition = letter->partition;
  message.offset = letter->offset;
  message.key = letter->key;
  message.value = letter->value;
  if (!letter->mac_key_id.empty()) message.headers.push_back({kMacKeyIdHeader, letter->mac_key_id});
  if (!letter->mac.empty()) message.headers.push_back({kMacHeader, letter->mac});
  COFFER_ASSIGN_OR_RETURN(auto own_until, replica_.LoadMergeOwnUntil());
  auto it = own_until.find(message.partition);
  const ClassifyContext context{shard_id_, it == own_until.end() ? 0 : it->second, &auth_};
  ReceivedEvent event = ClassifyEvent(message, context);
  if (const auto* q = std::get_if<Quarantine>(&event)) {
    return absl::FailedPreconditionError("still fails its checks (" + q->kind + "): " + q->error);
  }
  repository::IncomingRevision in = ToIncoming(std::move(event), message);
  in.resolves_dead_letter = id;
  absl::StatusOr<repository::MergeOutcome> applied = replica_.ApplyBatch({in}, history_keep_);
  if (!applied.ok()) {
    return absl::FailedPreconditionError("still fails to apply: " +
                                         std::string(applied.status().message()));
  }
  return absl::OkStatus();
}

absl::Status DeadLetters::Discard(int64_t id) {
  COFFER_ASSIGN_OR_RETURN(bool deleted, letters_.DeleteDeadLetter(id));
  if (!deleted) return absl::NotFoundError("no dead letter with this id");
  return absl::OkStatus();
}

}  // namespace coffer::vault::sync
