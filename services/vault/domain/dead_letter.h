// DeadLetter: a change event this shard will not apply ('in') or cannot publish ('out'), kept
// as it was, with why (docs/architecture.md §4, V008, README "Dead letters").
//
// A domain value, not a storage row, because three layers speak it: the stores keep it
// (repository/sync_stores.h), replication makes and retries it (sync/dead_letters.h,
// received_event.h) and AdminService lists it (transport), which must not name storage types.
//
// Plain value; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace coffer::vault::domain {

struct DeadLetter {
  int64_t id = 0;                  // assigned when stored
  std::string direction = "in";    // "in" | "out"
  std::string kind;                // in: mac | schema | decode | merge; out: too_large | refused
  std::string error;               // never holds record content or key material
  int32_t partition = -1;          // -1 = none
  int64_t offset = -1;             // -1 = none (outgoing)
  std::string origin_shard;        // as the event claims it
  std::optional<std::string> key;  // Kafka key (nullopt = null)
  std::string value;               // the serialized ChangeEvent
  std::string mac_key_id;          // from the event's headers ("" = none)
  std::string mac;
  int64_t created_at_ms = 0;  // when stored
  int64_t value_bytes = 0;    // size of `value` (ListDeadLetters leaves `value` empty)
};

}  // namespace coffer::vault::domain
