// Storage of login sessions (refresh-token families), their refresh tokens (hashed) and the
// list of revoked access tokens.
//
// Every method is one atomic database statement, so concurrent replicas never see a half-done
// rotation; in particular two concurrent Rotate calls with the same token cannot both succeed
// (the loser sees the token as used, i.e. reuse, and revokes the family).
//
// Implementations: PgSessionRepository, InMemorySessionRepository.
// Threading: implementations are thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/identity/domain/model.h"
#include "services/identity/domain/refresh_token.h"

namespace coffer::identity {

// What to revoke in one SessionRepository::Revoke call; empty fields are skipped.
struct Revocation {
  std::string refresh_token_hash;  // revoke the family of this refresh token
  std::string family_id;           // revoke this family
  std::string access_jti;          // list this access token as revoked ...
  Time access_expires_at;          // ... until it expires anyway
  std::string reason;              // "logout", "revoke", ... (stored for audits)
};

struct RotateResult {
  RefreshVerdict verdict = RefreshVerdict::kNotFound;
  // The presented token's family as it was before the call (empty for kNotFound).
  RefreshFamily family;
};

class SessionRepository {
 public:
  virtual ~SessionRepository() = default;

  // Stores a new family together with its first refresh token.
  virtual absl::Status CreateSession(const RefreshFamily& family, const RefreshToken& first) = 0;

  // Presents the refresh token whose hash is `presented_hash` at `now`. When its verdict is
  // kValid, marks it used and stores `next` (its family_id is set to the presented token's
  // family) in the same atomic step. When the verdict is kReused, revokes the family.
  // Otherwise changes nothing. See ClassifyRefreshToken.
  virtual absl::StatusOr<RotateResult> Rotate(std::string_view presented_hash, RefreshToken next,
                                              Time now) = 0;

  // The refresh token with this hash and its family. NOT_FOUND when unknown.
  virtual absl::StatusOr<std::pair<RefreshToken, RefreshFamily>> FindRefreshToken(
      std::string_view token_hash) = 0;

  // Applies `revocation` at `now`. Idempotent: revoking what is already revoked or unknown is
  // not an error.
  virtual absl::Status Revoke(const Revocation& revocation, Time now) = 0;

  // True when the access token `jti` was revoked, or its session `family_id` (may be empty) was.
  virtual absl::StatusOr<bool> IsAccessTokenRevoked(std::string_view jti,
                                                    std::string_view family_id) = 0;

  // Deletes revoked-access-token entries and refresh tokens that expired before `before`.
  virtual absl::Status PurgeExpired(Time before) = 0;
};

}  // namespace coffer::identity
