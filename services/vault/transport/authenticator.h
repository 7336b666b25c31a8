// Authenticator: turns a call's `authorization: Bearer <token>` metadata into a Caller, in one
// place for every RPC (handlers call it through RunAuthenticated). The header is read by
// auth::ParseBearer, the parser every service shares (scheme case-insensitive).
//
// Missing, malformed, expired or forged tokens are UNAUTHENTICATED; each failure is counted in
// coffer_vault_auth_failures_total by reason. Tokens are never logged or echoed.
//
// Scope: a valid token must also carry `required_scope` (default "vault", which identity grants
// to users; service accounts need it explicitly), or `vault.admin` on AdminService RPCs only, else
// PERMISSION_DENIED (reason "scope"): a token minted for another service (identity's admin
// token, `identity.admin identity.introspect`) cannot read vaults.
//
// Lifecycle: borrows the verifier (and metrics), which must outlive it. Threading: thread-safe.
#pragma once

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "pkg/auth/token_verifier.h"
#include "pkg/status/status.h"
#include "services/vault/service/caller.h"
#include "services/vault/service/vault_metrics.h"

namespace coffer::vault::transport {

class Authenticator {
 public:
  // `required_scope` empty = any valid token.
  Authenticator(auth::TokenVerifier& verifier, service::VaultMetrics* metrics,
                std::string required_scope = "vault")
      : verifier_(verifier), metrics_(metrics), required_scope_(std::move(required_scope)) {}

  // `admin_rpc`: the call is an AdminService one, where a vault.admin token passes without the
  // required scope (everywhere else the required scope is needed, whatever else a token has).
  absl::StatusOr<service::Caller> Authenticate(const grpc::ServerContextBase& context,
                                               bool admin_rpc = false);

  // Verifies an authenticated caller's token again (long-lived streams, e.g. Watch): OK while
  // it is still valid; UNAUTHENTICATED once it expired, or was revoked (with introspection,
  // within the introspection cache time). Counted like Authenticate's failures.
  absl::Status Reverify(const service::Caller& caller);

  // The metric label for a verification error ("expired", "bad_signature", ...), from the
  // typed reason TokenVerifier attaches (auth::TokenRejectionOf), never from message text:
  // "jwks_unavailable" for any code but UNAUTHENTICATED, "other" for a rejection without a type.
  static std::string FailureReason(const absl::Status& status);

 private:
  absl::Status Fail(const absl::Status& status);

  auth::TokenVerifier& verifier_;
  service::VaultMetrics* metrics_;
  const std::string required_scope_;
};

// The body of every handler: authenticate, run `fn(caller)` (decode, delegate, encode), map the
// status to gRPC.
template <typename Fn>
grpc::Status RunAuthenticated(Authenticator& auth, grpc::ServerContext* context, Fn&& fn) {
  absl::StatusOr<service::Caller> caller = auth.Authenticate(*context);
  if (!caller.ok()) return status::ToGrpcStatus(caller.status());
  return status::ToGrpcStatus(fn(*caller));
}

// RunAuthenticated for AdminService handlers (see Authenticate's `admin_rpc`).
template <typename Fn>
grpc::Status RunAuthenticatedAdmin(Authenticator& auth, grpc::ServerContext* context, Fn&& fn) {
  absl::StatusOr<service::Caller> caller = auth.Authenticate(*context, /*admin_rpc=*/true);
  if (!caller.ok()) return status::ToGrpcStatus(caller.status());
  return status::ToGrpcStatus(fn(*caller));
}

}  // namespace coffer::vault::transport
