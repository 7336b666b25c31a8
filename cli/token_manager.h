// Keeps the CLI's access token fresh: hands out the stored access token, and when it expires
// within `leeway` (or a server rejected it), exchanges the refresh token for a new pair and
// stores the rotated pair before returning.
//
// Why an injected refresher and clock: the refresh policy is logic worth testing without an
// identity server (tests/unit/cli/token_manager_test.cc); Session wires the real RPC.
// Thread-compatible: one command at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "cli/token_store.h"
#include "coffer/identity/v1/identity.pb.h"

namespace coffer::cli {

class TokenManager {
 public:
  // Exchanges a refresh token for a new pair (IdentityService.Refresh).
  using Refresher = std::function<absl::StatusOr<coffer::identity::v1::TokenPair>(
      const std::string& refresh_token)>;
  // Current Unix time in seconds.
  using Clock = std::function<int64_t()>;

  static constexpr int64_t kDefaultLeewaySeconds = 60;

  TokenManager(TokenStore store, Refresher refresher, Clock clock,
               int64_t leeway_seconds = kDefaultLeewaySeconds);

  // A usable access token. UNAUTHENTICATED "not logged in" without a session, "session expired"
  // when the refresh token is expired or rejected (the stale session is then removed).
  absl::StatusOr<std::string> AccessToken();

  // Refreshes now regardless of expiry (after the server answered UNAUTHENTICATED).
  absl::StatusOr<std::string> ForceRefresh();

  // The session as stored (after Load); for whoami / logout.
  absl::StatusOr<StoredTokens> Session() const;

  // Builds what Save() stores from a token pair issued at `now`.
  static StoredTokens FromPair(const coffer::identity::v1::TokenPair& pair, int64_t now,
                               std::string login, std::string identity_addr);

 private:
  absl::StatusOr<std::string> Refresh(const StoredTokens& tokens);

  TokenStore store_;
  Refresher refresher_;
  Clock clock_;
  int64_t leeway_;
};

}  // namespace coffer::cli
