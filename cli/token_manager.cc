#include "cli/token_manager.h"

namespace coffer::cli {
namespace {

absl::Status NotLoggedIn() {
  return absl::UnauthenticatedError("not logged in: run `coffer login`");
}

absl::Status SessionExpired() {
  return absl::UnauthenticatedError("session expired: run `coffer login`");
}

}  // namespace

TokenManager::TokenManager(TokenStore store, Refresher refresher, Clock clock,
                           int64_t leeway_seconds)
    : store_(std::move(store)),
      refresher_(std::move(refresher)),
      clock_(std::move(clock)),
      leeway_(leeway_seconds) {}

StoredTokens TokenManager::FromPair(const coffer::identity::v1::TokenPair& pair, int64_t now,
                                    std::string login, std::string identity_addr) {
  StoredTokens tokens;
  tokens.identity_addr = std::move(identity_addr);
  tokens.login = std::move(login);
  tokens.access_token = pair.access_token();
  tokens.refresh_token = pair.refresh_token();
  tokens.access_expires_at = now + pair.expires_in();
  tokens.refresh_expires_at = pair.refresh_expires_in() > 0 ? now + pair.refresh_expires_in() : 0;
  tokens.scope = pair.scope();
  return tokens;
}

absl::StatusOr<StoredTokens> TokenManager::Session() const {
  auto loaded = store_.Load();
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value()) return NotLoggedIn();
  return **loaded;
}

absl::StatusOr<std::string> TokenManager::AccessToken() {
  auto tokens = Session();
  if (!tokens.ok()) return tokens.status();
  if (tokens->access_expires_at - leeway_ > clock_()) return tokens->access_token;
  return Refresh(*tokens);
}

absl::StatusOr<std::string> TokenManager::ForceRefresh() {
  auto tokens = Session();
  if (!tokens.ok()) return tokens.status();
  return Refresh(*tokens);
}

absl::StatusOr<std::string> TokenManager::Refresh(const StoredTokens& tokens) {
  const int64_t now = clock_();
  if (tokens.refresh_token.empty() ||
      (tokens.refresh_expires_at != 0 && tokens.refresh_expires_at <= now)) {
    (void)store_.Clear();
    return SessionExpired();
  }
  auto pair = refresher_(tokens.refresh_token);
  if (!pair.ok()) {
    if (pair.status().code() == absl::StatusCode::kUnauthenticated) {
      // Revoked, rotated away by another process, or reused: the session is gone.
      (void)store_.Clear();
      return SessionExpired();
    }
    return pair.status();
  }
  StoredTokens fresh = FromPair(*pair, now, tokens.login, tokens.identity_addr);
  if (absl::Status st = store_.Save(fresh); !st.ok()) return st;
  return fresh.access_token;
}

}  // namespace coffer::cli
