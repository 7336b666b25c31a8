#include "pkg/crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

namespace coffer::crypto {
namespace {

[[noreturn]] void Die(const char* what) {
  // Only reachable on allocation failure or a broken OpenSSL install: not recoverable.
  std::fprintf(stderr, "coffer: OpenSSL %s failed\n", what);
  std::abort();
}

// Algorithms fetched from the default provider once per process. EVP_sha256() and a fetch by name
// per call make OpenSSL 3 look the implementation up again each time (a property query under a
// global read lock: visible in the vault's profile, docs/benchmarks.md). Fetched objects are
// immutable and safe to share between threads; they live until exit.
const EVP_MD* Sha256Md() {
  static EVP_MD* const md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    if (m == nullptr) Die("EVP_MD_fetch(SHA2-256)");
    return m;
  }();
  return md;
}

EVP_KDF* HkdfKdf() {
  static EVP_KDF* const kdf = [] {
    EVP_KDF* k = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    if (k == nullptr) Die("EVP_KDF_fetch(HKDF)");
    return k;
  }();
  return kdf;
}

}  // namespace

std::string Sha256(std::string_view bytes) {
  std::string out(kSha256Size, '\0');
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                 Sha256Md(), nullptr) != 1 ||
      len != kSha256Size) {
    Die("EVP_Digest(SHA-256)");
  }
  return out;
}

struct Sha256Stream::Ctx {
  EVP_MD_CTX* md = nullptr;
};

Sha256Stream::Sha256Stream() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (ctx_->md == nullptr || EVP_DigestInit_ex2(ctx_->md, Sha256Md(), nullptr) != 1) {
    Die("EVP_DigestInit_ex2(SHA-256)");
  }
}

Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(ctx_->md); }

void Sha256Stream::Update(std::string_view bytes) {
  if (EVP_DigestUpdate(ctx_->md, bytes.data(), bytes.size()) != 1) Die("EVP_DigestUpdate");
}

std::string Sha256Stream::Finish() {
  std::string out(kSha256Size, '\0');
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md, reinterpret_cast<unsigned char*>(out.data()), &len) != 1 ||
      len != kSha256Size) {
    Die("EVP_DigestFinal_ex");
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view message) {
  std::string out(kSha256Size, '\0');
  unsigned int len = 0;
  // HMAC() rejects a null key pointer even with length 0, so point at a dummy byte.
  static const unsigned char kEmpty = 0;
  const void* key_ptr = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  if (HMAC(Sha256Md(), key_ptr, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(),
           reinterpret_cast<unsigned char*>(out.data()), &len) == nullptr ||
      len != kSha256Size) {
    Die("HMAC-SHA-256");
  }
  return out;
}

absl::StatusOr<std::string> HkdfSha256(std::string_view ikm, std::string_view salt,
                                       std::string_view info, size_t length) {
  if (length == 0 || length > 255 * kSha256Size) {
    return absl::InvalidArgumentError("HKDF-SHA-256 output length must be in [1, 8160]");
  }
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(HkdfKdf()),
                                                                &EVP_KDF_CTX_free);
  if (ctx == nullptr) Die("EVP_KDF_CTX_new");

  static char kEmpty = 0;
  auto octets = [](const char* name, std::string_view v) {
    return OSSL_PARAM_construct_octet_string(
        name, v.empty() ? static_cast<void*>(&kEmpty) : const_cast<char*>(v.data()), v.size());
  };
  std::vector<OSSL_PARAM> params;
  params.push_back(
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0));
  params.push_back(octets(OSSL_KDF_PARAM_KEY, ikm));
  if (!salt.empty()) params.push_back(octets(OSSL_KDF_PARAM_SALT, salt));
  if (!info.empty()) params.push_back(octets(OSSL_KDF_PARAM_INFO, info));
  params.push_back(OSSL_PARAM_construct_end());

  std::string out(length, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     params.data()) != 1) {
    ERR_clear_error();
    return absl::InternalError("HKDF-SHA-256 derivation failed");
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace coffer::crypto
