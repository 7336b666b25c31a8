#include "pkg/crypto/keyring.h"

#include <openssl/crypto.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "pkg/crypto/aead.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"
#include "pkg/status/status.h"

namespace coffer::crypto {

struct Keyring::DerivedCache {
  std::mutex mu;
  std::unordered_map<std::string, std::string> keys;  // kid + '\0' + info -> key

  ~DerivedCache() { Clear(); }
  void Clear() {
    for (auto& [id, key] : keys) OPENSSL_cleanse(key.data(), key.size());
    keys.clear();
  }
};

namespace {

constexpr unsigned char kEnvelopeVersion = 0x01;
constexpr std::string_view kDeriveSalt = "coffer.keyring.v1";
constexpr size_t kMaxKidLength = 64;

std::string_view Trim(std::string_view s) {
  const auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool ValidKid(std::string_view kid) {
  if (kid.empty() || kid.size() > kMaxKidLength) return false;
  for (char c : kid) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

struct ParsedEnvelope {
  std::string_view header;  // version, kid length, kid
  std::string_view kid;
  std::string_view sealed;  // nonce || ciphertext || tag
};

absl::StatusOr<ParsedEnvelope> ParseEnvelope(std::string_view envelope) {
  if (envelope.size() < 2 || static_cast<unsigned char>(envelope[0]) != kEnvelopeVersion) {
    return absl::DataLossError("keyring envelope: unknown format");
  }
  const size_t kid_len = static_cast<unsigned char>(envelope[1]);
  if (kid_len == 0 || envelope.size() < 2 + kid_len + kAeadOverhead) {
    return absl::DataLossError("keyring envelope: truncated");
  }
  ParsedEnvelope p;
  p.header = envelope.substr(0, 2 + kid_len);
  p.kid = envelope.substr(2, kid_len);
  p.sealed = envelope.substr(2 + kid_len);
  if (!ValidKid(p.kid)) return absl::DataLossError("keyring envelope: bad key id");
  return p;
}

}  // namespace

absl::StatusOr<Keyring> Keyring::Parse(std::string_view spec) {
  Keyring ring;
  std::string primary;
  bool explicit_primary = false;
  size_t index = 0;
  while (true) {
    const size_t comma = spec.find(',');
    const std::string_view entry = Trim(spec.substr(0, comma));
    ++index;
    if (entry.empty()) {
      if (comma == std::string_view::npos && index == 1) break;  // empty spec, reported below
      return absl::InvalidArgumentError("keyring: empty entry #" + std::to_string(index));
    }
    if (entry.rfind("primary=", 0) == 0) {
      if (explicit_primary) return absl::InvalidArgumentError("keyring: primary= given twice");
      explicit_primary = true;
      primary = std::string(Trim(entry.substr(8)));
    } else {
      const size_t colon = entry.find(':');
      if (colon == std::string_view::npos) {
        return absl::InvalidArgumentError("keyring: entry #" + std::to_string(index) +
                                          " is not <kid>:<base64 key>");
      }
      const std::string kid(Trim(entry.substr(0, colon)));
      const std::string_view encoded = Trim(entry.substr(colon + 1));
      if (!ValidKid(kid)) {
        return absl::InvalidArgumentError("keyring: entry #" + std::to_string(index) +
                                          ": key id must be 1-64 characters of [A-Za-z0-9._-]");
      }
      auto key = Base64Decode(encoded);
      if (!key.ok()) key = Base64UrlDecode(encoded);
      if (!key.ok()) {
        return absl::InvalidArgumentError("keyring: key '" + kid + "' is not valid base64");
      }
      if (key->size() != kKekSize) {
        const size_t got = key->size();
        OPENSSL_cleanse(key->data(), key->size());
        return absl::InvalidArgumentError("keyring: key '" + kid + "' must be 32 bytes, got " +
                                          std::to_string(got));
      }
      if (ring.keys_.count(kid) != 0) {
        return absl::InvalidArgumentError("keyring: duplicate key id '" + kid + "'");
      }
      if (ring.keys_.empty() && !explicit_primary) primary = kid;
      // Only HKDF's extract step depends on the KEK alone, so it runs once here and the ring
      // keeps its result (the PRK, as secret as the KEK) instead of the KEK.
      ring.keys_.emplace(kid, HmacSha256(kDeriveSalt, *key));
      OPENSSL_cleanse(key->data(), key->size());
    }
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  if (ring.keys_.empty()) return absl::InvalidArgumentError("keyring: no keys given");
  if (ring.keys_.count(primary) == 0) {
    return absl::InvalidArgumentError("keyring: primary key id '" + primary + "' is not listed");
  }
  ring.primary_kid_ = primary;
  ring.derived_ = std::make_shared<DerivedCache>();
  return ring;
}

absl::StatusOr<Keyring> Keyring::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("keyring: cannot read file " + path);
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  auto ring = Parse(text);
  OPENSSL_cleanse(text.data(), text.size());
  if (!ring.ok()) return status::Annotate(ring.status(), path);
  return ring;
}

bool Keyring::Contains(std::string_view kid) const { return keys_.find(kid) != keys_.end(); }

std::vector<std::string> Keyring::kids() const {
  std::vector<std::string> out;
  out.reserve(keys_.size());
  for (const auto& [kid, key] : keys_) out.push_back(kid);
  return out;
}

absl::StatusOr<std::string> Keyring::DeriveKey(std::string_view kid, std::string_view info) const {
  auto it = keys_.find(kid);
  if (it == keys_.end()) {
    return absl::NotFoundError("keyring: unknown key id '" + std::string(kid) + "'");
  }
  std::string cache_id;
  cache_id.reserve(kid.size() + 1 + info.size());
  cache_id.append(kid).push_back('\0');
  cache_id.append(info);
  DerivedCache* cache = derived_.get();  // null only in a moved-from ring
  if (cache != nullptr) {
    std::lock_guard lock(cache->mu);
    auto hit = cache->keys.find(cache_id);
    if (hit != cache->keys.end()) return hit->second;
  }
  // HKDF-Expand (RFC 5869) for one block: L = 32 = HashLen, so OKM = T(1) = HMAC(PRK, info | 1).
  // Same bytes as HkdfSha256(KEK, kDeriveSalt, info, 32) (tested), for one HMAC per call instead
  // of an OpenSSL KDF context with its parameter parsing and two HMACs.
  static_assert(kAeadKeySize == kSha256Size);
  std::string block(info);
  block.push_back('\x01');
  std::string key = HmacSha256(it->second, block);
  if (cache != nullptr) {
    std::lock_guard lock(cache->mu);
    if (cache->keys.size() >= kDerivedCacheSize) cache->Clear();
    cache->keys.emplace(std::move(cache_id), key);
  }
  return key;
}

absl::StatusOr<std::string> SealWithKeyring(const Keyring& keyring, std::string_view context,
                                            std::string_view plaintext, std::string_view aad) {
  const std::string& kid = keyring.primary_kid();
  COFFER_ASSIGN_OR_RETURN(std::string key, keyring.DeriveKey(kid, context));
  std::string envelope;
  envelope.push_back(static_cast<char>(kEnvelopeVersion));
  envelope.push_back(static_cast<char>(kid.size()));
  envelope += kid;
  std::string full_aad = envelope;
  full_aad.append(aad);
  auto sealed = Seal(key, plaintext, full_aad);
  OPENSSL_cleanse(key.data(), key.size());
  if (!sealed.ok()) return sealed.status();
  envelope += *sealed;
  return envelope;
}

absl::StatusOr<std::string> OpenWithKeyring(const Keyring& keyring, std::string_view context,
                                            std::string_view envelope, std::string_view aad) {
  COFFER_ASSIGN_OR_RETURN(ParsedEnvelope p, ParseEnvelope(envelope));
  if (!keyring.Contains(p.kid)) {
    return absl::FailedPreconditionError("keyring: data was sealed with key id '" +
                                         std::string(p.kid) + "', which is not configured");
  }
  COFFER_ASSIGN_OR_RETURN(std::string key, keyring.DeriveKey(p.kid, context));
  std::string full_aad(p.header);
  full_aad.append(aad);
  auto opened = Open(key, p.sealed, full_aad);
  OPENSSL_cleanse(key.data(), key.size());
  return opened;
}

absl::StatusOr<std::string> EnvelopeKid(std::string_view envelope) {
  COFFER_ASSIGN_OR_RETURN(ParsedEnvelope p, ParseEnvelope(envelope));
  return std::string(p.kid);
}

}  // namespace coffer::crypto
