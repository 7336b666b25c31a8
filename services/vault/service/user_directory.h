// UserDirectory: public profiles of the identity service's users, so spaces can invite by login
// and show members' logins (docs/architecture.md §2; identity's LookupUser / GetUser).
//
// Calls are made on behalf of the caller, with the caller's own access token, so identity's
// per-caller rate limit applies to them as to direct calls; nothing secret is returned.
//
// Threading: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace coffer::vault::service {

// What anyone signed in may know about a user.
struct UserProfile {
  std::string user_id;  // the user's token subject (a UUID)
  std::string login;
  std::string display_name;  // may be empty
  int64_t created_at_ms = 0;
};

class UserDirectory {
 public:
  virtual ~UserDirectory() = default;
  // The user with exactly this login. NOT_FOUND when there is none; RESOURCE_EXHAUSTED when the
  // caller looked up too many; UNAVAILABLE when identity cannot be reached.
  virtual absl::StatusOr<UserProfile> LookupLogin(const std::string& bearer_token,
                                                  const std::string& login) = 0;
  // The user with this id. NOT_FOUND when there is none.
  virtual absl::StatusOr<UserProfile> GetUser(const std::string& bearer_token,
                                              const std::string& user_id) = 0;
};

}  // namespace coffer::vault::service
