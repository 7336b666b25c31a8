#include "pkg/crypto/password.h"

#include <sodium.h>

#include "pkg/crypto/sodium.h"

namespace coffer::crypto {

absl::StatusOr<std::string> HashPassword(std::string_view password,
                                         const PasswordHashParams& params) {
  internal::EnsureSodiumInitialized();
  if (params.ops_limit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
      params.ops_limit > crypto_pwhash_argon2id_OPSLIMIT_MAX) {
    return absl::InvalidArgumentError("password hash: ops_limit out of range");
  }
  if (params.mem_limit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
      params.mem_limit > crypto_pwhash_argon2id_MEMLIMIT_MAX) {
    return absl::InvalidArgumentError("password hash: mem_limit out of range");
  }
  if (password.size() > crypto_pwhash_PASSWD_MAX) {
    return absl::InvalidArgumentError("password too long");
  }
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), params.ops_limit,
                            params.mem_limit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::ResourceExhaustedError("password hash: out of memory");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view encoded, std::string_view password) {
  internal::EnsureSodiumInitialized();
  // libsodium wants a NUL-terminated string that fits crypto_pwhash_STRBYTES.
  if (encoded.size() >= crypto_pwhash_STRBYTES) return false;
  const std::string str(encoded);
  return crypto_pwhash_str_verify(str.c_str(), password.data(), password.size()) == 0;
}

bool NeedsRehash(std::string_view encoded, const PasswordHashParams& params) {
  internal::EnsureSodiumInitialized();
  if (encoded.size() >= crypto_pwhash_STRBYTES) return true;
  const std::string str(encoded);
  // crypto_pwhash_str_needs_rehash dispatches on the prefix; check the algorithm ourselves so a
  // legacy argon2i hash is upgraded to argon2id.
  if (str.rfind(crypto_pwhash_argon2id_STRPREFIX, 0) != 0) return true;
  return crypto_pwhash_argon2id_str_needs_rehash(str.c_str(), params.ops_limit, params.mem_limit) !=
         0;
}

}  // namespace coffer::crypto
