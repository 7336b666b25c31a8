#include "services/identity/repository/pg_repositories.h"

#include <chrono>
#include <cstdint>
#include <pqxx/binarystring>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <string>
#include <utility>

#include "pkg/postgres/errors.h"
#include "pkg/postgres/prepared.h"
#include "pkg/postgres/transaction.h"
#include "pkg/status/status.h"
#include "services/identity/domain/scopes.h"
#include "services/identity/domain/validation.h"
#include "services/identity/repository/sql.h"

namespace coffer::identity {
namespace {

std::int64_t ToMicros(Time t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

Time FromMicros(std::int64_t us) { return Time(std::chrono::microseconds(us)); }

std::optional<Time> OptionalTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return FromMicros(f.as<std::int64_t>());
}

pqxx::binarystring Bytes(std::string_view s) { return pqxx::binarystring(s.data(), s.size()); }

std::string BytesOf(const pqxx::field& f) { return pqxx::binarystring(f).str(); }

// Runs one statement in autocommit mode and translates every libpqxx failure.
template <typename... Args>
absl::StatusOr<pqxx::result> Exec(postgres::ConnectionPool& pool, std::string_view context,
                                  const char* statement, Args&&... args) {
  COFFER_ASSIGN_OR_RETURN(auto lease, pool.Acquire());
  try {
    pqxx::nontransaction txn(*lease);
    return postgres::ExecPrepared(txn, statement, std::forward<Args>(args)...);
  } catch (...) {
    return postgres::StatusFromCurrentException(context);
  }
}

User UserFromRow(const pqxx::row& r) {
  User u;
  u.id = r[0].as<std::string>();
  u.login = r[1].as<std::string>();
  u.password_hash = r[2].as<std::string>();
  u.scope = r[3].as<std::string>();
  u.created_at = FromMicros(r[4].as<std::int64_t>());
  u.display_name = r[5].as<std::string>();
  return u;
}

ServiceAccount AccountFromRow(const pqxx::row& r) {
  ServiceAccount a;
  a.client_id = r[0].as<std::string>();
  a.name = r[1].as<std::string>();
  auto scopes = ParseScopeString(r[2].as<std::string>());
  if (scopes.ok()) a.scopes = *std::move(scopes);
  a.secret_hash = BytesOf(r[3]);
  a.created_at = FromMicros(r[4].as<std::int64_t>());
  return a;
}

// Columns of sql::kSelectRefreshToken / kClassifyRefreshTokenAndRevokeOnReuse.
std::pair<RefreshToken, RefreshFamily> RefreshFromRow(std::string_view hash, const pqxx::row& r) {
  RefreshToken t;
  t.token_hash = std::string(hash);
  t.family_id = r[0].as<std::string>();
  t.created_at = FromMicros(r[1].as<std::int64_t>());
  t.expires_at = FromMicros(r[2].as<std::int64_t>());
  t.used_at = OptionalTime(r[3]);
  RefreshFamily f;
  f.id = t.family_id;
  f.subject = r[4].as<std::string>();
  f.scope = r[5].as<std::string>();
  f.created_at = FromMicros(r[6].as<std::int64_t>());
  f.revoked_at = OptionalTime(r[7]);
  return {std::move(t), std::move(f)};
}

}  // namespace

// ---- users ----

absl::Status PgUserRepository::Create(const User& user) {
  auto r = Exec(pool_, "creating user", sql::kInsertUser, user.id, user.login, user.password_hash,
                user.scope, ToMicros(user.created_at), user.display_name);
  if (!r.ok() && absl::IsAlreadyExists(r.status())) {
    return absl::AlreadyExistsError("login is already taken");
  }
  return r.status();
}

absl::StatusOr<User> PgUserRepository::FindByLogin(std::string_view login) {
  COFFER_ASSIGN_OR_RETURN(auto r,
                          Exec(pool_, "finding user", sql::kSelectUserByLogin, std::string(login)));
  if (r.empty()) return absl::NotFoundError("user not found");
  return UserFromRow(r[0]);
}

absl::StatusOr<User> PgUserRepository::FindById(std::string_view id) {
  if (!IsUuid(id)) return absl::NotFoundError("user not found");
  COFFER_ASSIGN_OR_RETURN(auto r,
                          Exec(pool_, "finding user", sql::kSelectUserById, std::string(id)));
  if (r.empty()) return absl::NotFoundError("user not found");
  return UserFromRow(r[0]);
}

absl::StatusOr<bool> PgUserRepository::UpdatePasswordHash(std::string_view id,
                                                          std::string_view expected_hash,
                                                          std::string_view new_hash) {
  if (!IsUuid(id)) return false;
  COFFER_ASSIGN_OR_RETURN(
      auto r, Exec(pool_, "updating password hash", sql::kUpdatePasswordHash, std::string(id),
                   std::string(expected_hash), std::string(new_hash),
                   ToMicros(std::chrono::system_clock::now())));
  return !r.empty();
}

// ---- service accounts ----

absl::Status PgServiceAccountRepository::Create(const ServiceAccount& account) {
  auto r = Exec(pool_, "creating service account", sql::kInsertServiceAccount, account.client_id,
                account.name, JoinScopes(account.scopes), Bytes(account.secret_hash),
                ToMicros(account.created_at));
  if (!r.ok() && absl::IsAlreadyExists(r.status())) {
    return absl::AlreadyExistsError("a service account with this name or client id already exists");
  }
  return r.status();
}

absl::StatusOr<bool> PgServiceAccountRepository::CreateIfAbsent(const ServiceAccount& account) {
  COFFER_ASSIGN_OR_RETURN(
      auto r, Exec(pool_, "creating service account", sql::kInsertServiceAccountIfAbsent,
                   account.client_id, account.name, JoinScopes(account.scopes),
                   Bytes(account.secret_hash), ToMicros(account.created_at)));
  return !r.empty();
}

absl::StatusOr<ServiceAccount> PgServiceAccountRepository::FindByClientId(
    std::string_view client_id) {
  COFFER_ASSIGN_OR_RETURN(auto r, Exec(pool_, "finding service account", sql::kSelectServiceAccount,
                                       std::string(client_id)));
  if (r.empty()) return absl::NotFoundError("service account not found");
  return AccountFromRow(r[0]);
}

absl::StatusOr<std::vector<ServiceAccount>> PgServiceAccountRepository::List(
    std::string_view after_name, std::size_t limit) {
  COFFER_ASSIGN_OR_RETURN(auto r, Exec(pool_, "listing service accounts", sql::kListServiceAccounts,
                                       std::string(after_name), static_cast<std::int64_t>(limit)));
  std::vector<ServiceAccount> out;
  out.reserve(r.size());
  for (const auto& row : r) out.push_back(AccountFromRow(row));
  return out;
}

absl::Status PgServiceAccountRepository::Delete(std::string_view client_id) {
  COFFER_ASSIGN_OR_RETURN(auto r, Exec(pool_, "deleting service account",
                                       sql::kDeleteServiceAccount, std::string(client_id)));
  if (r.empty()) return absl::NotFoundError("service account not found");
  return absl::OkStatus();
}

// ---- sessions ----

absl::Status PgSessionRepository::CreateSession(const RefreshFamily& family,
                                                const RefreshToken& first) {
  return Exec(pool_, "creating session", sql::kInsertSession, family.id, family.subject,
              family.scope, ToMicros(family.created_at), Bytes(first.token_hash),
              ToMicros(first.expires_at))
      .status();
}

absl::StatusOr<RotateResult> PgSessionRepository::Rotate(std::string_view presented_hash,
                                                         RefreshToken next, Time now) {
  COFFER_ASSIGN_OR_RETURN(
      auto r, Exec(pool_, "rotating refresh token", sql::kRotateRefreshToken, Bytes(presented_hash),
                   ToMicros(now), Bytes(next.token_hash), ToMicros(next.expires_at)));
  if (!r.empty()) {
    RotateResult result;
    result.verdict = RefreshVerdict::kValid;
    result.family.id = r[0][0].as<std::string>();
    result.family.subject = r[0][1].as<std::string>();
    result.family.scope = r[0][2].as<std::string>();
    result.family.created_at = FromMicros(r[0][3].as<std::int64_t>());
    return result;
  }
  // Not rotated: find out why, revoking the family in the same statement on reuse.
  COFFER_ASSIGN_OR_RETURN(
      auto c, Exec(pool_, "checking refresh token", sql::kClassifyRefreshTokenAndRevokeOnReuse,
                   Bytes(presented_hash), ToMicros(now)));
  if (c.empty()) return RotateResult{RefreshVerdict::kNotFound, {}};
  auto [token, family] = RefreshFromRow(presented_hash, c[0]);
  RotateResult result{ClassifyRefreshToken(token, family, now), family};
  if (result.verdict == RefreshVerdict::kValid) {
    // The first statement saw it invalid; the states only move towards invalid, so this is a
    // concurrent change we cannot explain: let the client retry.
    return absl::AbortedError("refresh token changed concurrently; retry");
  }
  return result;
}

absl::StatusOr<std::pair<RefreshToken, RefreshFamily>> PgSessionRepository::FindRefreshToken(
    std::string_view token_hash) {
  COFFER_ASSIGN_OR_RETURN(
      auto r, Exec(pool_, "finding refresh token", sql::kSelectRefreshToken, Bytes(token_hash)));
  if (r.empty()) return absl::NotFoundError("refresh token not found");
  return RefreshFromRow(token_hash, r[0]);
}

absl::Status PgSessionRepository::Revoke(const Revocation& revocation, Time now) {
  // A family id that is not a UUID cannot exist; passing it would make PostgreSQL fail the cast.
  const std::string family_id = IsUuid(revocation.family_id) ? revocation.family_id : "";
  return Exec(pool_, "revoking", sql::kRevoke, revocation.access_jti,
              ToMicros(revocation.access_expires_at), family_id,
              Bytes(revocation.refresh_token_hash), revocation.reason, ToMicros(now))
      .status();
}

absl::StatusOr<bool> PgSessionRepository::IsAccessTokenRevoked(std::string_view jti,
                                                               std::string_view family_id) {
  const std::string family = IsUuid(family_id) ? std::string(family_id) : "";
  COFFER_ASSIGN_OR_RETURN(auto r, Exec(pool_, "checking revocation", sql::kIsAccessTokenRevoked,
                                       std::string(jti), family));
  return r[0][0].as<bool>();
}

absl::Status PgSessionRepository::PurgeExpired(Time before) {
  // A backlog of expired sessions may take one DELETE longer than the pool's statement timeout;
  // cancelled, it would be retried and cancelled forever. It gets 10 minutes.
  return postgres::RunInTransaction(
      pool_, postgres::IsolationLevel::kReadCommitted,
      [&](pqxx::transaction_base& txn) -> absl::Status {
        postgres::SetLocalTimeouts(txn, std::chrono::minutes(10), std::chrono::minutes(1));
        postgres::ExecPrepared(txn, sql::kPurgeExpired, ToMicros(before));
        return absl::OkStatus();
      });
}

// ---- signing keys ----

absl::StatusOr<std::vector<SigningKey>> PgSigningKeyRepository::List() {
  COFFER_ASSIGN_OR_RETURN(auto r, Exec(pool_, "listing signing keys", sql::kListSigningKeys));
  std::vector<SigningKey> out;
  out.reserve(r.size());
  for (const auto& row : r) {
    SigningKey k;
    k.kid = row[0].as<std::string>();
    k.generation = row[1].as<std::int64_t>();
    k.public_key = BytesOf(row[2]);
    k.sealed_private_key = BytesOf(row[3]);
    k.created_at = FromMicros(row[4].as<std::int64_t>());
    k.activates_at = FromMicros(row[5].as<std::int64_t>());
    out.push_back(std::move(k));
  }
  return out;
}

absl::StatusOr<bool> PgSigningKeyRepository::Insert(const SigningKey& key) {
  COFFER_ASSIGN_OR_RETURN(
      auto r, Exec(pool_, "inserting signing key", sql::kInsertSigningKey, key.kid, key.generation,
                   Bytes(key.public_key), Bytes(key.sealed_private_key), ToMicros(key.created_at),
                   ToMicros(key.ActivatesAt())));
  return !r.empty();
}

absl::Status PgSigningKeyRepository::DeleteSupersededBefore(Time before) {
  return Exec(pool_, "deleting old signing keys", sql::kDeleteSupersededSigningKeys,
              ToMicros(before))
      .status();
}

}  // namespace coffer::identity
