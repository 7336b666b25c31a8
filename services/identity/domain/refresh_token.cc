#include "services/identity/domain/refresh_token.h"

namespace coffer::identity {

bool LooksLikeRefreshToken(std::string_view token) {
  return token.size() > kRefreshTokenPrefix.size() &&
         token.substr(0, kRefreshTokenPrefix.size()) == kRefreshTokenPrefix;
}

RefreshVerdict ClassifyRefreshToken(const RefreshToken& token, const RefreshFamily& family,
                                    Time now) {
  if (token.used_at.has_value()) return RefreshVerdict::kReused;
  if (family.revoked_at.has_value()) return RefreshVerdict::kRevoked;
  if (now >= token.expires_at) return RefreshVerdict::kExpired;
  return RefreshVerdict::kValid;
}

absl::Status RefreshVerdictToStatus(RefreshVerdict verdict) {
  switch (verdict) {
    case RefreshVerdict::kValid:
      return absl::OkStatus();
    case RefreshVerdict::kNotFound:
      return absl::UnauthenticatedError("refresh token is invalid");
    case RefreshVerdict::kReused:
      return absl::UnauthenticatedError(
          "refresh token was already used; the session has been revoked (reuse detected)");
    case RefreshVerdict::kRevoked:
      return absl::UnauthenticatedError("refresh token has been revoked");
    case RefreshVerdict::kExpired:
      return absl::UnauthenticatedError("refresh token has expired");
  }
  return absl::InternalError("unknown refresh verdict");
}

}  // namespace coffer::identity
