// Ed25519 signatures (RFC 8032) through OpenSSL's EVP_PKEY_ED25519: the identity service signs
// access tokens (JWT EdDSA) with a private key; the vault verifies them with the public key from
// the JWKS.
//
// Lifecycle and threading: both key classes are immutable values wrapping a reference-counted
// EVP_PKEY; copies share it. Sign/Verify/export may be called from many threads at once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace coffer::crypto {

inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;

// A public key: verifies signatures.
class Ed25519PublicKey {
 public:
  // From the raw 32-byte encoding (the JWK "x" value). INVALID_ARGUMENT on a bad length.
  static absl::StatusOr<Ed25519PublicKey> FromRaw(std::string_view raw);
  // From a PEM "PUBLIC KEY" (SubjectPublicKeyInfo). INVALID_ARGUMENT if not an Ed25519 key.
  static absl::StatusOr<Ed25519PublicKey> FromPem(std::string_view pem);

  // Raw 32-byte encoding.
  std::string Raw() const;
  // PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----").
  std::string ToPem() const;
  // True iff `signature` is a valid Ed25519 signature of `message` under this key.
  bool Verify(std::string_view message, std::string_view signature) const;

 private:
  explicit Ed25519PublicKey(std::shared_ptr<EVP_PKEY> pkey) : pkey_(std::move(pkey)) {}
  std::shared_ptr<EVP_PKEY> pkey_;
};

// A private key (secret): signs.
class Ed25519PrivateKey {
 public:
  // A fresh random key.
  static absl::StatusOr<Ed25519PrivateKey> Generate();
  // From the raw 32-byte seed (RFC 8032 "secret key"). INVALID_ARGUMENT on a bad length.
  static absl::StatusOr<Ed25519PrivateKey> FromSeed(std::string_view seed);
  // From an unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----", `openssl genpkey -algorithm
  // ed25519`). INVALID_ARGUMENT if not an Ed25519 private key.
  static absl::StatusOr<Ed25519PrivateKey> FromPem(std::string_view pem);

  // The raw 32-byte seed. Secret: never log it.
  std::string Seed() const;
  // Unencrypted PKCS#8 PEM. Secret: never log it.
  std::string ToPem() const;
  Ed25519PublicKey PublicKey() const;
  // 64-byte signature of `message` (Ed25519 is deterministic: same key+message, same bytes).
  std::string Sign(std::string_view message) const;

 private:
  explicit Ed25519PrivateKey(std::shared_ptr<EVP_PKEY> pkey) : pkey_(std::move(pkey)) {}
  std::shared_ptr<EVP_PKEY> pkey_;
};

}  // namespace coffer::crypto
