// Key-encryption keys (KEKs) with key ids, and envelope encryption under them.
//
// Why: data at rest is encrypted under keys derived per space from a KEK given to the shard
// (docs/architecture.md §6). KEKs must be rotatable: new data is sealed under the primary KEK,
// while data sealed under an older KEK stays readable as long as that KEK is still listed. Every
// envelope names the KEK id it was sealed with.
//
// Spec syntax (COFFER_*_KEYRING env var or a file; whitespace and newlines around entries are
// ignored):
//     k2:<base64 of 32 bytes>,k1:<base64 of 32 bytes>[,primary=k2]
// Keys are standard base64 (`openssl rand -base64 32`) or base64url without padding. Key ids are
// 1-64 characters of [A-Za-z0-9._-]. The primary key is the one named by `primary=`, else the
// first entry. Parse errors are INVALID_ARGUMENT and name the entry but never the key bytes.
//
// Derivation: DeriveKey(kid, info) = HKDF-SHA-256(ikm = KEK, salt = "coffer.keyring.v1",
// info = info, 32 bytes). Envelope (SealWithKeyring):
//     0x01 | len(kid) (1 byte) | kid | Seal(DeriveKey(kid, context), plaintext, header || aad)
// where `header` is the bytes before the AES-GCM part, so the kid is authenticated too.
//
// Lifecycle and threading: immutable after Parse/LoadFile; share one instance (const&) across
// threads freely. Copies duplicate key material; prefer passing by reference.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace coffer::crypto {

inline constexpr size_t kKekSize = 32;

// How many derived keys a Keyring remembers (DeriveKey); the cache is emptied when full.
inline constexpr size_t kDerivedCacheSize = 4096;

class Keyring {
 public:
  // Parses the spec above. INVALID_ARGUMENT on an empty spec, a malformed entry, a bad key id,
  // bad base64, a key that is not 32 bytes, a duplicate key id, or an unknown `primary=`.
  static absl::StatusOr<Keyring> Parse(std::string_view spec);
  // Reads a file holding a spec (e.g. a mounted secret). NOT_FOUND if it cannot be read.
  static absl::StatusOr<Keyring> LoadFile(const std::string& path);

  // The key id new envelopes are sealed with.
  const std::string& primary_kid() const { return primary_kid_; }
  // True when a KEK with this id is listed.
  bool Contains(std::string_view kid) const;
  // All key ids, sorted.
  std::vector<std::string> kids() const;

  // 32-byte key for `info` (e.g. "space:<uuid>") under KEK `kid`. NOT_FOUND for an unknown kid.
  // Remembers up to kDerivedCacheSize derived keys (they are no more secret than the KEK the
  // process holds anyway), so repeated derivations cost a hash lookup.
  absl::StatusOr<std::string> DeriveKey(std::string_view kid, std::string_view info) const;

 private:
  Keyring() = default;

  // kid -> HKDF-Extract(salt, KEK), the pseudorandom key every DeriveKey expands (32 bytes).
  std::map<std::string, std::string, std::less<>> keys_;
  // Keys already derived, (kid, info) -> key: a vault derives the same space key for every
  // envelope of every call. Bounded (emptied when full); shared by copies (same KEKs).
  struct DerivedCache;
  std::shared_ptr<DerivedCache> derived_;
  std::string primary_kid_;
};

// Seals `plaintext` under the primary KEK, with a key derived for `context` (e.g. the space id)
// and bound to `aad`. The result carries the kid (format above).
absl::StatusOr<std::string> SealWithKeyring(const Keyring& keyring, std::string_view context,
                                            std::string_view plaintext, std::string_view aad);

// Opens an envelope from SealWithKeyring, whichever listed KEK sealed it.
//   DATA_LOSS           — malformed envelope, or authentication failed (altered data, wrong
//                         context or aad);
//   FAILED_PRECONDITION — sealed with a kid that is not in this keyring (a KEK was removed too
//                         early).
absl::StatusOr<std::string> OpenWithKeyring(const Keyring& keyring, std::string_view context,
                                            std::string_view envelope, std::string_view aad);

// The kid an envelope was sealed with (for rotation/re-encryption jobs). DATA_LOSS if malformed.
absl::StatusOr<std::string> EnvelopeKid(std::string_view envelope);

}  // namespace coffer::crypto
