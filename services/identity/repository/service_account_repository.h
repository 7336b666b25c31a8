// Storage of service accounts (OAuth 2.0 clients of the client-credentials grant).
//
// Implementations: PgServiceAccountRepository, InMemoryServiceAccountRepository.
// Threading: implementations are thread-safe.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/identity/domain/model.h"

namespace coffer::identity {

class ServiceAccountRepository {
 public:
  virtual ~ServiceAccountRepository() = default;

  // ALREADY_EXISTS when the client id or the name is taken.
  virtual absl::Status Create(const ServiceAccount& account) = 0;

  // Creates `account` unless its client id exists (bootstrap at start-up, raced by replicas).
  // Returns whether this call created it.
  virtual absl::StatusOr<bool> CreateIfAbsent(const ServiceAccount& account) = 0;

  // NOT_FOUND when unknown.
  virtual absl::StatusOr<ServiceAccount> FindByClientId(std::string_view client_id) = 0;

  // Up to `limit` accounts with name > `after_name`, ordered by name.
  virtual absl::StatusOr<std::vector<ServiceAccount>> List(std::string_view after_name,
                                                           std::size_t limit) = 0;

  // NOT_FOUND when unknown.
  virtual absl::Status Delete(std::string_view client_id) = 0;
};

}  // namespace coffer::identity
