// Refresh-token rotation rules (OAuth 2.0 Security BCP, "refresh token rotation").
//
// Every Refresh consumes the presented token and issues a new one in the same family. A token
// that was already consumed and is presented again means that two parties hold it (a thief and
// the rightful client): the whole family is revoked, so neither can continue the session.
//
// The repositories apply these rules atomically (the database in one statement); this header
// is the single statement of the rules, used by the in-memory fake and by the service to
// produce the client-facing error.
//
// Pure; thread-safe.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "services/identity/domain/model.h"

namespace coffer::identity {

// Prefix of every refresh token ("coffer refresh"), so Revoke and Introspect can tell an opaque
// refresh token from a JWT (which always contains two dots) without a hint.
inline constexpr std::string_view kRefreshTokenPrefix = "cfr_";

// True when `token` has the shape of a refresh token this service issues.
bool LooksLikeRefreshToken(std::string_view token);

enum class RefreshVerdict {
  kValid,     // unused, unexpired, family active: rotate it
  kNotFound,  // never issued (or purged)
  kReused,    // already consumed: revoke the family
  kRevoked,   // its family was revoked (logout, revoke, earlier reuse)
  kExpired,
};

// Decides what presenting `token` (of `family`) at `now` means. Reuse wins over every other
// verdict: a replayed token revokes its family even when it has expired since.
RefreshVerdict ClassifyRefreshToken(const RefreshToken& token, const RefreshFamily& family,
                                    Time now);

// The client-facing error for a verdict other than kValid: UNAUTHENTICATED with a message that
// says what happened (no secret, no token).
absl::Status RefreshVerdictToStatus(RefreshVerdict verdict);

}  // namespace coffer::identity
