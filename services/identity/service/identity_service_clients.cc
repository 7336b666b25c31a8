// IdentityService: service accounts (OAuth clients): their management by admins, their
// authentication by id and secret, and the client-credentials grant.
#include <algorithm>

#include "pkg/crypto/hash.h"
#include "pkg/crypto/random.h"
#include "pkg/status/status.h"
#include "services/identity/domain/scopes.h"
#include "services/identity/domain/validation.h"
#include "services/identity/service/identity_service.h"
#include "services/identity/service/identity_service_internal.h"

namespace coffer::identity {
namespace {

constexpr char kInvalidClient[] = "invalid client credentials";
constexpr std::size_t kMaxScopeStringBytes = 4096;
constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

}  // namespace

using internal::HashSecret;
using internal::kMaxClientSecretBytes;
using internal::Log;

absl::StatusOr<CreatedServiceAccount> IdentityService::CreateServiceAccount(
    const RequestContext& ctx, std::string_view name, const std::vector<std::string>& scopes) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, RequireScope(ctx, kAdminScope));
  COFFER_RETURN_IF_ERROR(ValidateServiceAccountName(name));
  COFFER_ASSIGN_OR_RETURN(std::vector<std::string> normalized, NormalizeScopes(scopes));
  CreatedServiceAccount out;
  out.client_id = "sa_" + crypto::RandomToken(12);
  out.client_secret = "cfs_" + crypto::RandomToken(32);
  out.name = std::string(name);
  out.scopes = normalized;
  ServiceAccount account;
  account.client_id = out.client_id;
  account.name = out.name;
  account.scopes = std::move(normalized);
  account.secret_hash = HashSecret(out.client_secret);
  account.created_at = Now();
  absl::Status s = accounts_.Create(account);
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError("a service account with this name already exists");
  }
  COFFER_RETURN_IF_ERROR(s);
  Log().Info("service account created", {{"client_id", out.client_id}, {"by", caller.subject}});
  return out;
}

absl::StatusOr<ServiceAccountPage> IdentityService::ListServiceAccounts(
    const RequestContext& ctx, int page_size, std::string_view page_token) {
  COFFER_RETURN_IF_ERROR(RequireScope(ctx, kAdminScope).status());
  if (page_size < 0) return absl::InvalidArgumentError("page_size must not be negative");
  const int size = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  std::string after;
  if (!page_token.empty()) {
    COFFER_ASSIGN_OR_RETURN(after, DecodeServiceAccountPageToken(page_token));
  }
  COFFER_ASSIGN_OR_RETURN(auto accounts, accounts_.List(after, static_cast<std::size_t>(size) + 1));
  ServiceAccountPage page;
  if (accounts.size() > static_cast<std::size_t>(size)) {
    accounts.resize(static_cast<std::size_t>(size));
    page.next_page_token = EncodeServiceAccountPageToken(accounts.back().name);
  }
  page.accounts = std::move(accounts);
  return page;
}

absl::Status IdentityService::DeleteServiceAccount(const RequestContext& ctx,
                                                   std::string_view client_id) {
  COFFER_ASSIGN_OR_RETURN(Caller caller, RequireScope(ctx, kAdminScope));
  COFFER_RETURN_IF_ERROR(ValidateClientId(client_id));
  COFFER_RETURN_IF_ERROR(accounts_.Delete(client_id));
  Log().Info("service account deleted",
             {{"client_id", std::string(client_id)}, {"by", caller.subject}});
  return absl::OkStatus();
}

absl::StatusOr<Caller> IdentityService::AuthenticateClient(std::string_view client_id,
                                                           std::string_view client_secret) {
  COFFER_RETURN_IF_ERROR(ValidateClientId(client_id));
  COFFER_RETURN_IF_ERROR(CheckStringField("client_secret", client_secret, kMaxClientSecretBytes));
  const std::string presented = HashSecret(client_secret);
  auto account = accounts_.FindByClientId(client_id);
  if (absl::IsNotFound(account.status())) {
    // Compare anyway so that unknown ids and wrong secrets take the same time.
    (void)crypto::ConstantTimeEquals(presented, std::string(crypto::kSha256Size, '\0'));
    return absl::UnauthenticatedError(kInvalidClient);
  }
  COFFER_RETURN_IF_ERROR(account.status());
  if (!crypto::ConstantTimeEquals(presented, account->secret_hash)) {
    return absl::UnauthenticatedError(kInvalidClient);
  }
  return Caller{account->client_id, account->scopes, account->client_id, ""};
}

absl::StatusOr<IssuedTokens> IdentityService::ClientCredentials(std::string_view client_id,
                                                                std::string_view client_secret,
                                                                std::string_view scope) {
  COFFER_RETURN_IF_ERROR(CheckStringField("scope", scope, kMaxScopeStringBytes, false));
  COFFER_ASSIGN_OR_RETURN(Caller client, AuthenticateClient(client_id, client_secret));
  COFFER_ASSIGN_OR_RETURN(std::vector<std::string> granted, GrantScopes(scope, client.scopes));
  COFFER_ASSIGN_OR_RETURN(std::string access,
                          tokens_.Issue(client.subject, granted, client.client_id, "", Now()));
  if (metrics_) metrics_->tokens_issued_client_credentials.Increment();
  IssuedTokens out;
  out.access_token = std::move(access);
  out.scope = JoinScopes(granted);
  out.expires_in = config_.access_token_ttl.count();
  return out;
}

}  // namespace coffer::identity
