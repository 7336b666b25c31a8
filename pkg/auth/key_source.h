// KeySource: where TokenVerifier gets the public key that a token's "kid" names.
//
// Two implementations: JwksKeyCache (jwks_key_cache.h), the keys of a remote issuer's JWKS,
// fetched and cached (the vault); and identity's SigningKeyManager, which holds its own keys.
// TokenVerifier::Create over a JwksSource builds the JwksKeyCache itself.
//
// Threading: implementations must be thread-safe; TokenVerifier calls them from every RPC thread
// without holding its locks, and a call may block (network, database).
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "pkg/crypto/ed25519.h"

namespace coffer::auth {

class KeySource {
 public:
  virtual ~KeySource() = default;

  // The issuer's public key named `kid` (never empty). NOT_FOUND when the issuer has no such key:
  // the token is then refused as TokenRejection::kUnknownKey. Any other error means the keys
  // could not be had (an outage, not the caller's fault) and is returned to the caller as it is.
  virtual absl::StatusOr<crypto::Ed25519PublicKey> PublicKey(std::string_view kid) = 0;
};

}  // namespace coffer::auth
