// Record and space identifiers: UUIDs in canonical lower-case text form.
//
// Why deterministic personal space ids: a user's personal space is created on first use on
// whichever shard serves them. Deriving its id from the token subject (UUIDv5) makes every shard
// create the same space, so records synced between shards land in one space, not two.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace coffer::vault::domain {

// The personal space id of `subject`: UUIDv5 (RFC 4122 §4.3, SHA-1) of the subject in a fixed
// Coffer namespace.
std::string PersonalSpaceId(std::string_view subject);

// A version-4 UUID built from 16 random bytes (the caller supplies the randomness).
std::string UuidV4FromBytes(std::string_view random16);

// True for a canonical UUID of version 4: the ids of shared spaces (random). Personal space ids
// are version 5 (derived from the subject), so no register of a shared space, local or
// received, can ever name a personal space.
bool IsSharedSpaceId(std::string_view uuid);

// Lower-cases a textual UUID (PostgreSQL prints lower case; ids compare as text elsewhere).
std::string CanonicalUuid(std::string_view uuid);

}  // namespace coffer::vault::domain
