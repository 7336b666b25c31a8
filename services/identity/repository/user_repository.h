// Storage of user accounts.
//
// Implementations: PgUserRepository (production), InMemoryUserRepository (unit tests).
// Threading: implementations are thread-safe.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/identity/domain/model.h"

namespace coffer::identity {

class UserRepository {
 public:
  virtual ~UserRepository() = default;

  // Stores a new user. ALREADY_EXISTS when the (normalized) login or the id is taken; under
  // concurrent calls for one login exactly one succeeds.
  virtual absl::Status Create(const User& user) = 0;

  // NOT_FOUND when no user has this normalized login.
  virtual absl::StatusOr<User> FindByLogin(std::string_view login) = 0;

  // NOT_FOUND when no user has this id (also for ids that are not UUIDs).
  virtual absl::StatusOr<User> FindById(std::string_view id) = 0;

  // Replaces the password hash only if it still equals `expected_hash` (compare-and-set), so a
  // rehash on login never overwrites a concurrent change. Returns whether it was replaced.
  virtual absl::StatusOr<bool> UpdatePasswordHash(std::string_view id,
                                                  std::string_view expected_hash,
                                                  std::string_view new_hash) = 0;
};

}  // namespace coffer::identity
