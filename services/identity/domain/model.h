// Value types of the identity service's data, as the repositories store and return them.
// Plain structs: no invariants beyond what the service layer checks before writing them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace coffer::identity {

using Time = std::chrono::system_clock::time_point;

// `t` as whole seconds since the Unix epoch (a JWT NumericDate), truncated toward zero.
inline std::int64_t UnixSeconds(Time t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// A human account. `id` (a UUID) never changes and is the `sub` of the user's tokens.
struct User {
  std::string id;
  std::string login;          // normalized (see NormalizeLogin)
  std::string password_hash;  // Argon2id encoded string; carries its own parameters
  std::string scope;          // space-separated scopes granted to the user's tokens
  std::string display_name;   // optional (may be empty); see ValidateDisplayName
  Time created_at;
};

// A machine client (OAuth 2.0 client-credentials grant). `client_id` is its tokens' `sub`.
struct ServiceAccount {
  std::string client_id;
  std::string name;
  std::vector<std::string> scopes;
  std::string secret_hash;  // SHA-256 of the secret (raw 32 bytes); the secret is never stored
  Time created_at;
};

// One login session: the chain of refresh tokens issued by one Login and its Refreshes.
// Revoking the family ends the session: its refresh tokens stop working and access tokens that
// name it in their `sid` claim are reported inactive by introspection.
struct RefreshFamily {
  std::string id;       // UUID; the access tokens' `sid` claim
  std::string subject;  // user id
  std::string scope;
  Time created_at;
  std::optional<Time> revoked_at;
};

// One refresh token of a family. Only its SHA-256 is stored.
struct RefreshToken {
  std::string token_hash;  // raw 32 bytes
  std::string family_id;
  Time created_at;
  Time expires_at;
  std::optional<Time> used_at;  // set when exchanged by Refresh; a second use is reuse
};

// An Ed25519 signing key. The private key is stored only sealed under the KEK.
//
// A key is published (in the JWKS) from `created_at` and signs from `activates_at` on: a rotated
// key is pre-published so that verifiers can learn it before the first token carries its kid
// (see KeySchedule). Every replica reads the same stored times, so they agree on the switch.
struct SigningKey {
  std::string kid;
  std::int64_t generation = 0;     // 1, 2, ...; unique: concurrent rotations race on it
  std::string public_key;          // raw 32 bytes
  std::string sealed_private_key;  // AES-256-GCM under the KEK (pkg/crypto Keyring)
  Time created_at;
  // When the key starts signing; nullopt = at creation (rows written before migration V003).
  std::optional<Time> activates_at;

  // When the key starts signing: `activates_at`, or `created_at` for rows from before V003.
  Time ActivatesAt() const { return activates_at.value_or(created_at); }
};

}  // namespace coffer::identity
