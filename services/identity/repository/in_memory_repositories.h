// In-memory implementations of the identity repositories, for unit tests of the service layer
// (and nothing else: they keep everything in process memory). They follow the same contracts as
// the Pg* classes, including atomicity of each call (one mutex per repository).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/identity/repository/service_account_repository.h"
#include "services/identity/repository/session_repository.h"
#include "services/identity/repository/signing_key_repository.h"
#include "services/identity/repository/user_repository.h"

namespace coffer::identity {

class InMemoryUserRepository : public UserRepository {
 public:
  absl::Status Create(const User& user) override;
  absl::StatusOr<User> FindByLogin(std::string_view login) override;
  absl::StatusOr<User> FindById(std::string_view id) override;
  absl::StatusOr<bool> UpdatePasswordHash(std::string_view id, std::string_view expected_hash,
                                          std::string_view new_hash) override;

 private:
  std::mutex mu_;
  std::map<std::string, User, std::less<>> by_id_;
};

class InMemoryServiceAccountRepository : public ServiceAccountRepository {
 public:
  absl::Status Create(const ServiceAccount& account) override;
  absl::StatusOr<bool> CreateIfAbsent(const ServiceAccount& account) override;
  absl::StatusOr<ServiceAccount> FindByClientId(std::string_view client_id) override;
  absl::StatusOr<std::vector<ServiceAccount>> List(std::string_view after_name,
                                                   std::size_t limit) override;
  absl::Status Delete(std::string_view client_id) override;

 private:
  std::mutex mu_;
  std::map<std::string, ServiceAccount, std::less<>> by_client_id_;
};

class InMemorySessionRepository : public SessionRepository {
 public:
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
  std::mutex mu_;
  std::map<std::string, RefreshFamily, std::less<>> families_;
  std::map<std::string, RefreshToken, std::less<>> tokens_;  // by hash
  std::map<std::string, Time, std::less<>> revoked_jtis_;
};

class InMemorySigningKeyRepository : public SigningKeyRepository {
 public:
  absl::StatusOr<std::vector<SigningKey>> List() override;
  absl::StatusOr<bool> Insert(const SigningKey& key) override;
  absl::Status DeleteSupersededBefore(Time before) override;

 private:
  std::mutex mu_;
  std::map<std::int64_t, SigningKey> by_generation_;
};

}  // namespace coffer::identity
