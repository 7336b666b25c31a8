// The record type on the wire: domain::RecordType <-> v1::RecordType (coffer.vault.v1, in
// proto/coffer/vault/v1/records.proto). The one mapping both the API handlers (transport/) and the
// replication event codec (sync/change_event.*) use, so a record type means the same thing to a
// client and on the Kafka topic.
//
// Why its own layer (docs/architecture.md §1a): it needs the generated protos, which domain/ must
// not depend on, and it sits below sync/ so the codec can use it without reaching up into
// transport/.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>

#include "coffer/vault/v1/records.pb.h"
#include "services/vault/domain/record.h"

namespace coffer::vault::wire {

// The domain type of a wire type; nullopt for RECORD_TYPE_UNSPECIFIED and any value this build
// does not know.
std::optional<domain::RecordType> TypeFromProto(v1::RecordType type);
v1::RecordType TypeToProto(domain::RecordType type);

}  // namespace coffer::vault::wire
