#include "pkg/crypto/aead.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <climits>
#include <memory>

#include "pkg/crypto/random.h"

namespace coffer::crypto {
namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

absl::Status CheckKey(std::string_view key) {
  if (key.size() != kAeadKeySize) {
    return absl::InvalidArgumentError("AES-256-GCM key must be 32 bytes");
  }
  return absl::OkStatus();
}

absl::Status CheckSize(std::string_view plaintext, std::string_view aad) {
  // OpenSSL takes int lengths; values this large never occur in Coffer (inputs are limited).
  if (plaintext.size() > INT_MAX / 2 || aad.size() > INT_MAX / 2) {
    return absl::InvalidArgumentError("AES-256-GCM input too large");
  }
  return absl::OkStatus();
}

// AES-256-GCM fetched once per process: EVP_aes_256_gcm() makes OpenSSL 3 fetch the provider's
// implementation again at every EVP_*Init_ex (see Sha256Md in hash.cc). Immutable, shared.
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

}  // namespace

absl::StatusOr<std::string> Seal(std::string_view key, std::string_view plaintext,
                                 std::string_view aad) {
  if (auto s = CheckKey(key); !s.ok()) return s;
  if (auto s = CheckSize(plaintext, aad); !s.ok()) return s;
  std::string out = RandomBytes(kAeadNonceSize);
  out.resize(kAeadNonceSize + plaintext.size() + kAeadTagSize);

  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  bool ok =
      ctx != nullptr && EVP_EncryptInit_ex(ctx.get(), Aes256Gcm(), nullptr, U(key), U(out)) == 1 &&
      (aad.empty() ||
       EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(aad), static_cast<int>(aad.size())) == 1) &&
      EVP_EncryptUpdate(ctx.get(), U(out) + kAeadNonceSize, &len, U(plaintext),
                        static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx.get(), U(out) + kAeadNonceSize + len, &len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kAeadTagSize,
                          U(out) + kAeadNonceSize + plaintext.size()) == 1;
  if (!ok) {
    ERR_clear_error();
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  return out;
}

absl::StatusOr<std::string> Open(std::string_view key, std::string_view sealed,
                                 std::string_view aad) {
  if (auto s = CheckKey(key); !s.ok()) return s;
  if (sealed.size() < kAeadOverhead) {
    return absl::DataLossError("AES-256-GCM: sealed value too short");
  }
  if (auto s = CheckSize(sealed, aad); !s.ok()) return s;
  const std::string_view nonce = sealed.substr(0, kAeadNonceSize);
  const std::string_view ciphertext = sealed.substr(kAeadNonceSize, sealed.size() - kAeadOverhead);
  // EVP_CTRL_GCM_SET_TAG wants a mutable buffer.
  std::string tag(sealed.substr(sealed.size() - kAeadTagSize));

  std::string out(ciphertext.size(), '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (ctx == nullptr) return absl::InternalError("AES-256-GCM: out of memory");
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), Aes256Gcm(), nullptr, U(key), U(nonce)) == 1 &&
            (aad.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(aad),
                                              static_cast<int>(aad.size())) == 1) &&
            EVP_DecryptUpdate(ctx.get(), U(out), &len, U(ciphertext),
                              static_cast<int>(ciphertext.size())) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kAeadTagSize, tag.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), U(out) + len, &len) == 1;
  if (!ok) {
    ERR_clear_error();
    OPENSSL_cleanse(out.data(), out.size());
    return absl::DataLossError(
        "AES-256-GCM: authentication failed (data altered, or wrong key or associated data)");
  }
  return out;
}

}  // namespace coffer::crypto
