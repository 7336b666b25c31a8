#include "pkg/crypto/ed25519.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>

namespace coffer::crypto {
namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

[[noreturn]] void Die(const char* what) {
  // Only an allocation failure or a broken OpenSSL can get here with a valid key.
  std::fprintf(stderr, "coffer: OpenSSL Ed25519 %s failed\n", what);
  std::abort();
}

std::shared_ptr<EVP_PKEY> Wrap(EVP_PKEY* pkey) {
  return std::shared_ptr<EVP_PKEY>(pkey, &EVP_PKEY_free);
}

Bio MemBio(std::string_view data) {
  return Bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())), &BIO_free);
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

// --- public key -------------------------------------------------------------------------------

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromRaw(std::string_view raw) {
  if (raw.size() != kEd25519PublicKeySize) {
    return absl::InvalidArgumentError("Ed25519 public key must be 32 bytes");
  }
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (pkey == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("invalid Ed25519 public key");
  }
  return Ed25519PublicKey(Wrap(pkey));
}

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromPem(std::string_view pem) {
  Bio bio = MemBio(pem);
  EVP_PKEY* pkey = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (pkey == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM public key");
  }
  auto wrapped = Wrap(pkey);
  if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("PEM public key is not Ed25519");
  }
  return Ed25519PublicKey(std::move(wrapped));
}

std::string Ed25519PublicKey::Raw() const {
  std::string out(kEd25519PublicKeySize, '\0');
  size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(pkey_.get(), reinterpret_cast<unsigned char*>(out.data()),
                                  &len) != 1 ||
      len != kEd25519PublicKeySize) {
    Die("get_raw_public_key");
  }
  return out;
}

std::string Ed25519PublicKey::ToPem() const {
  Bio bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1) Die("PEM_write_bio_PUBKEY");
  return BioToString(bio.get());
}

bool Ed25519PublicKey::Verify(std::string_view message, std::string_view signature) const {
  if (signature.size() != kEd25519SignatureSize) return false;
  MdCtx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx) Die("EVP_MD_CTX_new");
  // Ed25519 is a one-shot ("pure") scheme: no digest, single EVP_DigestVerify call.
  const bool ok =
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

// --- private key ------------------------------------------------------------------------------

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Generate() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (pkey == nullptr) {
    ERR_clear_error();
    return absl::InternalError("Ed25519 key generation failed");
  }
  return Ed25519PrivateKey(Wrap(pkey));
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromSeed(std::string_view seed) {
  if (seed.size() != kEd25519SeedSize) {
    return absl::InvalidArgumentError("Ed25519 private key seed must be 32 bytes");
  }
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (pkey == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("invalid Ed25519 private key seed");
  }
  return Ed25519PrivateKey(Wrap(pkey));
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromPem(std::string_view pem) {
  Bio bio = MemBio(pem);
  // The empty passphrase callback result makes encrypted PEMs fail instead of prompting.
  EVP_PKEY* pkey = bio ? PEM_read_bio_PrivateKey(
                             bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr)
                       : nullptr;
  if (pkey == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not an unencrypted PEM private key");
  }
  auto wrapped = Wrap(pkey);
  if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("PEM private key is not Ed25519");
  }
  return Ed25519PrivateKey(std::move(wrapped));
}

std::string Ed25519PrivateKey::Seed() const {
  std::string out(kEd25519SeedSize, '\0');
  size_t len = out.size();
  if (EVP_PKEY_get_raw_private_key(pkey_.get(), reinterpret_cast<unsigned char*>(out.data()),
                                   &len) != 1 ||
      len != kEd25519SeedSize) {
    Die("get_raw_private_key");
  }
  return out;
}

std::string Ed25519PrivateKey::ToPem() const {
  Bio bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    Die("PEM_write_bio_PrivateKey");
  }
  return BioToString(bio.get());
}

Ed25519PublicKey Ed25519PrivateKey::PublicKey() const {
  std::string raw(kEd25519PublicKeySize, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(pkey_.get(), reinterpret_cast<unsigned char*>(raw.data()),
                                  &len) != 1) {
    Die("get_raw_public_key");
  }
  auto pub = Ed25519PublicKey::FromRaw(raw);
  if (!pub.ok()) Die("public key import");
  return *std::move(pub);
}

std::string Ed25519PrivateKey::Sign(std::string_view message) const {
  MdCtx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::string sig(kEd25519SignatureSize, '\0');
  size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != kEd25519SignatureSize) {
    Die("sign");
  }
  return sig;
}

}  // namespace coffer::crypto
