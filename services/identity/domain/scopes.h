// Scope names and the rules for granting them.
//
// Tokens carry scopes as one space-separated string (RFC 6749 §3.3). The identity service
// itself knows two: kAdminScope gates admin RPCs (RotateSigningKey, service-account management)
// and kIntrospectScope lets a caller introspect other callers' tokens. Every other scope
// ("vault", ...) is opaque here and interpreted by the services that receive the tokens.
//
// Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace coffer::identity {

inline constexpr std::string_view kAdminScope = "identity.admin";
inline constexpr std::string_view kIntrospectScope = "identity.introspect";

inline constexpr std::size_t kMaxScopeLength = 64;
// The most scopes a token or service account may carry.
inline constexpr std::size_t kMaxScopes = 32;

// OK when `scope` is 1..64 characters from [a-z0-9:._-]; otherwise INVALID_ARGUMENT.
absl::Status ValidateScope(std::string_view scope);

// Validates a list of scopes (at most kMaxScopes) and returns it sorted, duplicates removed.
absl::StatusOr<std::vector<std::string>> NormalizeScopes(const std::vector<std::string>& scopes);

// Splits a space-separated scope string and validates it like NormalizeScopes.
absl::StatusOr<std::vector<std::string>> ParseScopeString(std::string_view scope);

// Joins scopes with single spaces.
std::string JoinScopes(const std::vector<std::string>& scopes);

// True when the space-separated `scope` string contains `wanted` as a whole word.
bool ScopeStringHas(std::string_view scope, std::string_view wanted);

// The scopes a service account gets for a client-credentials request: all of `allowed` when
// `requested` is empty, otherwise `requested` if it is a subset of `allowed` (PERMISSION_DENIED
// naming the first missing scope otherwise, INVALID_ARGUMENT when malformed).
absl::StatusOr<std::vector<std::string>> GrantScopes(std::string_view requested,
                                                     const std::vector<std::string>& allowed);

// OK when `name` (a service account's name) is 1..64 characters from [A-Za-z0-9._-].
absl::Status ValidateServiceAccountName(std::string_view name);

// OK when `client_id` is 1..64 characters from [A-Za-z0-9._-] (generated ids and the bootstrap
// admin's configured id both satisfy it).
absl::Status ValidateClientId(std::string_view client_id);

// ListServiceAccounts' page token: base64url (no padding) of the name the previous page ended
// with (pages are in name order). Extracted from IdentityService::ListServiceAccounts.
std::string EncodeServiceAccountPageToken(std::string_view last_name);
// The name in a page token. INVALID_ARGUMENT "page_token is invalid" (never echoing it) unless
// `token` is what EncodeServiceAccountPageToken gives for a valid service account name: at most
// kMaxPageTokenBytes, canonical base64url, and the name passes ValidateServiceAccountName.
inline constexpr std::size_t kMaxPageTokenBytes = 256;
absl::StatusOr<std::string> DecodeServiceAccountPageToken(std::string_view token);

}  // namespace coffer::identity
