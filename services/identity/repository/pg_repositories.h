// PostgreSQL implementations of the identity repositories (schema: migrations/V001__init.sql
// and later migrations, statements: sql.h).
//
// Each method runs exactly one statement in autocommit mode (a single statement is atomic on
// its own, so BEGIN/COMMIT would only add round trips). libpqxx exceptions are translated to
// absl::Status here and nowhere else (pkg/postgres/errors.h).
//
// Lifecycle: the pool must outlive the repository. Threading: thread-safe (each call borrows
// its own connection).
#pragma once

#include "pkg/postgres/connection_pool.h"
#include "services/identity/repository/service_account_repository.h"
#include "services/identity/repository/session_repository.h"
#include "services/identity/repository/signing_key_repository.h"
#include "services/identity/repository/user_repository.h"

namespace coffer::identity {

class PgUserRepository : public UserRepository {
 public:
  explicit PgUserRepository(postgres::ConnectionPool& pool) : pool_(pool) {}
  absl::Status Create(const User& user) override;
  absl::StatusOr<User> FindByLogin(std::string_view login) override;
  absl::StatusOr<User> FindById(std::string_view id) override;
  absl::StatusOr<bool> UpdatePasswordHash(std::string_view id, std::string_view expected_hash,
                                          std::string_view new_hash) override;

 private:
  postgres::ConnectionPool& pool_;
};

class PgServiceAccountRepository : public ServiceAccountRepository {
 public:
  explicit PgServiceAccountRepository(postgres::ConnectionPool& pool) : pool_(pool) {}
  absl::Status Create(const ServiceAccount& account) override;
  absl::StatusOr<bool> CreateIfAbsent(const ServiceAccount& account) override;
  absl::StatusOr<ServiceAccount> FindByClientId(std::string_view client_id) override;
  absl::StatusOr<std::vector<ServiceAccount>> List(std::string_view after_name,
                                                   std::size_t limit) override;
  absl::Status Delete(std::string_view client_id) override;

 private:
  postgres::ConnectionPool& pool_;
};

class PgSessionRepository : public SessionRepository {
 public:
  explicit PgSessionRepository(postgres::ConnectionPool& pool) : pool_(pool) {}
  absl::Status CreateSession(const RefreshFamily& family, const RefreshToken& first) override;
  absl::StatusOr<RotateResult> Rotate(std::string_view presented_hash, RefreshToken next,
                                      Time now) override;
  absl::StatusOr<std::pair<RefreshToken, RefreshFamily>> FindRefreshToken(
      std::string_view token_hash) override;
  absl::Status Revoke(const Revocation& revocation, Time now) override;
  absl::StatusOr<bool> IsAccessTokenRevoked(std::string_view jti,
                                            std::string_view family_id) override;
  absl::Status PurgeExpired(Time before) override;

 private:
  postgres::ConnectionPool& pool_;
};

class PgSigningKeyRepository : public SigningKeyRepository {
 public:
  explicit PgSigningKeyRepository(postgres::ConnectionPool& pool) : pool_(pool) {}
  absl::StatusOr<std::vector<SigningKey>> List() override;
  absl::StatusOr<bool> Insert(const SigningKey& key) override;
  absl::Status DeleteSupersededBefore(Time before) override;

 private:
  postgres::ConnectionPool& pool_;
};

}  // namespace coffer::identity
