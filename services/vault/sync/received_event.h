// What one message of the change topic is to this shard (docs/architecture.md §4), decided by a
// pure function so every case has a unit test and the consumer's loop only acts on the answer.
//
// Order of the checks: the MAC first (nothing from an unauthenticated producer is even decoded
// further), then the schema version, then the content. Anything that fails is a Quarantine with
// a kind and a reason; the consumer stores it as a dead letter and moves on, so no single event
// can stop a partition.
//
// Threading: free functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "pkg/kafka/client.h"
#include "services/vault/repository/pg_sync_repository.h"
#include "services/vault/repository/record_repository.h"
#include "services/vault/sync/change_event.h"
#include "services/vault/sync/event_auth.h"

namespace coffer::vault::sync {

// Another shard's revision (or this shard's own, read back after a re-bootstrap): merge it.
struct MergeRevision {
  repository::StoredRevision revision;
};

// This shard's own event read back: nothing to merge. A purge tombstone is remembered, because
// reading it back is what makes the record a GC candidate (V004).
struct OwnEcho {
  std::optional<repository::StoredRevision> tombstone;
};

// A shard's progress marker. `settled` is the offset it reports for the message's partition;
// nullopt when it reports none there, or when it is this shard's own marker from before a
// re-bootstrap (published by its previous database, it must not count for this one).
struct ProgressReport {
  std::string shard_id;
  std::optional<int64_t> settled;
};

// A chunk of another shard's blob to store.
struct IncomingChunk {
  BlobChunk chunk;
};

// Another shard's write of a register of a shared space (membership, docs/architecture.md §3a):
// merge it.
struct MergeSpaceChange {
  repository::SpaceRegister change;
};

// An event this shard will not apply: kind is one of "mac", "schema", "decode" (and "merge",
// which only the apply step can find).
struct Quarantine {
  std::string kind;
  std::string error;
};

using ReceivedEvent = std::variant<MergeRevision, OwnEcho, ProgressReport, IncomingChunk,
                                   MergeSpaceChange, Quarantine>;

struct ClassifyContext {
  std::string shard_id;
  // Own-origin revisions below this offset of the message's partition are merged, not skipped
  // (they were published by this shard's previous database; README "Bootstrap").
  int64_t merge_own_until = 0;
  const EventAuthenticator* auth = nullptr;  // required
};

ReceivedEvent ClassifyEvent(const kafka::Message& message, const ClassifyContext& context);

// A dead letter ("in") of `message` as read, with `kind` and `error`.
repository::DeadLetter DeadLetterOf(const kafka::Message& message, std::string kind,
                                    const std::string& error);

// What the apply step does with a classified message: a merge, a marker, a chunk, an own
// tombstone to remember, or a dead letter to store (merge = false for all but a merge).
repository::IncomingRevision ToIncoming(ReceivedEvent event, const kafka::Message& message);

// `bytes` cut to `max` and with every byte outside printable ASCII replaced by '?': safe for a
// text column and a log line whatever a producer wrote.
std::string SafeText(std::string_view bytes, size_t max);

// True when applying an event failed because of that event alone (a value PostgreSQL refuses,
// SQLSTATE classes 22 and 23 as pkg/postgres maps them, or a revision the merge rejects), so it
// is quarantined; false for everything that would hit every event alike (the database down,
// busy, read-only, out of disk, an internal error, a schema out of step), which is retried.
bool IsEventsFault(const absl::Status& s);

// The origin an event claims, for the dead-letter row of a quarantined one ("" when the value
// does not parse). Not authenticated: say so wherever it is shown.
std::string ClaimedOrigin(const std::string& value);

}  // namespace coffer::vault::sync
