// EventAuthenticator: the MAC every change event carries (docs/architecture.md §4 "Kafka is not
// trusted").
//
// Why: anyone who can write to the change topic could otherwise purge, roll back or inject
// records, drag every shard's clock forward or forge the GC progress markers. Every shard of a
// deployment holds the same KEK keyring (the events carry envelopes sealed under it), so the
// replication key is derived from it: key(kid) = Keyring::DeriveKey(kid, "coffer.vault.events.v1").
// Rotation follows the keyring's: events are signed under the primary KEK id and verified under
// whichever listed id they name, so a shard that lists both the old and the new KEK accepts both.
//
// Wire: two Kafka headers, `coffer-mac-kid` (the KEK id) and `coffer-mac` (32 raw bytes):
//     HMAC-SHA-256(key(kid), "coffer.vault.event.v1" 0x00 | kid 0x00 | be32(len(key)) | key |
//     value)
// where `key` is the Kafka key (empty when null) and `value` the serialized ChangeEvent. The
// Kafka key is covered because it names the origin, space and record (log compaction keys on it).
//
// What the MAC does not do: it does not tell shards apart (every shard holds the key), and it
// does not stop a replay of an old valid event; replays are harmless because the merge is
// idempotent and a dominated revision changes nothing (tests prove it).
//
// Threading: immutable after construction; Sign and Verify from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "pkg/crypto/keyring.h"
#include "pkg/kafka/client.h"

namespace coffer::vault::sync {

inline constexpr char kMacKeyIdHeader[] = "coffer-mac-kid";
inline constexpr char kMacHeader[] = "coffer-mac";

class EventAuthenticator {
 public:
  // Borrows `keyring`, which must outlive this object.
  explicit EventAuthenticator(const crypto::Keyring& keyring) : keyring_(keyring) {}

  // The two MAC headers for an event with this Kafka key and value, under the primary KEK.
  std::vector<kafka::Header> Sign(const std::optional<std::string>& key,
                                  std::string_view value) const;

  // OK when `headers` carry a MAC of (key, value) under a KEK id this keyring holds.
  // UNAUTHENTICATED (without key material in the message) when the headers are missing or
  // repeated, the key id is unknown, or the MAC does not match.
  absl::Status Verify(const std::optional<std::string>& key, std::string_view value,
                      const std::vector<kafka::Header>& headers) const;

 private:
  absl::StatusOr<std::string> Mac(std::string_view kid, const std::optional<std::string>& key,
                                  std::string_view value) const;

  const crypto::Keyring& keyring_;
};

}  // namespace coffer::vault::sync
