// Storage of signing keys (public key + KEK-sealed private key).
//
// Rotation is race-safe across replicas through the unique `generation`: every replica that
// decides to rotate inserts generation current+1; exactly one insert wins, the others get
// `false` and reload the winner's key.
//
// Implementations: PgSigningKeyRepository, InMemorySigningKeyRepository.
// Threading: implementations are thread-safe.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/identity/domain/model.h"

namespace coffer::identity {

class SigningKeyRepository {
 public:
  virtual ~SigningKeyRepository() = default;

  // Every stored key, in ascending generation, with activates_at always set (a stored NULL is
  // returned as created_at).
  virtual absl::StatusOr<std::vector<SigningKey>> List() = 0;

  // Stores `key` unless its generation (or kid) is taken. Returns whether it was stored.
  virtual absl::StatusOr<bool> Insert(const SigningKey& key) = 0;

  // Deletes keys superseded before `before`, i.e. some newer generation activated before it.
  virtual absl::Status DeleteSupersededBefore(Time before) = 0;
};

}  // namespace coffer::identity
