// IdentityService: what callers may learn about accounts: themselves (WhoAmI) and the public
// profiles of users (LookupUser, GetUser).
#include <algorithm>

#include "pkg/status/status.h"
#include "services/identity/domain/login.h"
#include "services/identity/domain/validation.h"
#include "services/identity/service/identity_service.h"

namespace coffer::identity {
namespace {

// The public part of a user: never the password hash or the scopes.
UserProfile ProfileOf(const User& user) {
  return UserProfile{user.id, user.login, user.display_name, user.created_at};
}

}  // namespace

absl::StatusOr<WhoAmIResult> IdentityService::WhoAmI(const RequestContext& ctx) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, Authenticate(ctx.bearer_token));
  WhoAmIResult out;
  out.sub = caller.subject;
  out.scopes = caller.scopes;
  out.is_service_account = !caller.client_id.empty();
  if (out.is_service_account) {
    auto account = accounts_.FindByClientId(caller.client_id);
    if (absl::IsNotFound(account.status())) {
      return absl::UnauthenticatedError("service account no longer exists");
    }
    COFFER_RETURN_IF_ERROR(account.status());
    out.login = account->name;
  } else {
    auto user = users_.FindById(caller.subject);
    if (absl::IsNotFound(user.status())) return absl::UnauthenticatedError("user no longer exists");
    COFFER_RETURN_IF_ERROR(user.status());
    out.login = user->login;
  }
  return out;
}

absl::StatusOr<UserProfile> IdentityService::LookupUser(const RequestContext& ctx,
                                                        std::string_view login) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, Authenticate(ctx.bearer_token));
  // Normalized exactly as Register stores logins, so the match is exact on the stored form.
  COFFER_ASSIGN_OR_RETURN(std::string normalized, NormalizeLogin(login));
  // Every lookup counts, found or not: the limit bounds how fast a caller can probe for logins.
  COFFER_RETURN_IF_ERROR(CheckRateLimit(lookup_by_subject_, "s:" + caller.subject));
  auto user = users_.FindByLogin(normalized);
  if (absl::IsNotFound(user.status())) return absl::NotFoundError("no user with this login");
  COFFER_RETURN_IF_ERROR(user.status());
  return ProfileOf(*user);
}

absl::StatusOr<UserProfile> IdentityService::GetUser(const RequestContext& ctx,
                                                     std::string_view user_id) {
  COFFER_RETURN_IF_ERROR(Authenticate(ctx.bearer_token).status());
  if (!IsUuid(user_id)) return absl::InvalidArgumentError("user_id: not a UUID");
  // Ids are stored and issued in lowercase; accept either case like PostgreSQL's uuid type.
  std::string id(user_id);
  std::transform(id.begin(), id.end(), id.begin(), [](char c) {
    return (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  auto user = users_.FindById(id);
  if (absl::IsNotFound(user.status())) return absl::NotFoundError("no user with this id");
  COFFER_RETURN_IF_ERROR(user.status());
  return ProfileOf(*user);
}

}  // namespace coffer::identity
