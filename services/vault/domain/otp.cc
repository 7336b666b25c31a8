#include "services/vault/domain/otp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdio>

#include "absl/status/status.h"

namespace coffer::vault::domain {
namespace {

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

const EVP_MD* Digest(OtpAlgorithm algorithm) {
  switch (algorithm) {
    case OtpAlgorithm::kSha256:
      return EVP_sha256();
    case OtpAlgorithm::kSha512:
      return EVP_sha512();
    case OtpAlgorithm::kSha1:
      break;
  }
  return EVP_sha1();
}

}  // namespace

absl::StatusOr<std::string> Base32Decode(std::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == ' ' || c == '=') continue;
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a';
    } else if (c >= '2' && c <= '7') {
      value = c - '2' + 26;
    } else {
      return absl::InvalidArgumentError("not base32 (allowed: A-Z, 2-7)");
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  // A leftover of 5+ bits means a character that encodes no byte: a truncated secret. Smaller
  // leftovers are the padding bits of the last quantum (not required to be zero: some issuers
  // emit non-zero ones and authenticator apps accept them).
  if (bits >= 5) return absl::InvalidArgumentError("not base32 (truncated)");
  return out;
}

std::string Base32Encode(std::string_view bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32Alphabet[(buffer >> bits) & 0x1F]);
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 0x1F]);
  return out;
}

std::string Hotp(std::string_view key, uint64_t counter, int digits, OtpAlgorithm algorithm) {
  std::array<unsigned char, 8> message;
  for (int i = 7; i >= 0; --i) {
    message[static_cast<size_t>(i)] = static_cast<unsigned char>(counter & 0xFF);
    counter >>= 8;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(Digest(algorithm), key.data(), static_cast<int>(key.size()), message.data(), message.size(),
       mac, &mac_len);
  // RFC 4226 §5.3 dynamic truncation.
  unsigned offset = mac[mac_len - 1] & 0x0F;
  uint32_t binary = (static_cast<uint32_t>(mac[offset] & 0x7F) << 24) |
                    (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                    (static_cast<uint32_t>(mac[offset + 2]) << 8) |
                    static_cast<uint32_t>(mac[offset + 3]);
  uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%0*u", digits, binary % modulus);
  return buf;
}

std::string Totp(std::string_view key, int64_t unix_seconds, int period, int digits,
                 OtpAlgorithm algorithm) {
  return Hotp(key, static_cast<uint64_t>(unix_seconds / period), digits, algorithm);
}

absl::StatusOr<OtpCode> CurrentOtpCode(const OtpPayload& payload, int64_t unix_seconds) {
  auto key = Base32Decode(payload.secret);
  if (!key.ok()) return absl::FailedPreconditionError("stored OTP secret is not base32");
  if (payload.digits < 6 || payload.digits > 8) {
    return absl::FailedPreconditionError("stored OTP digits out of range");
  }
  OtpCode out;
  if (payload.kind == OtpKind::kHotp) {
    out.code = Hotp(*key, payload.counter, payload.digits, payload.algorithm);
    return out;
  }
  if (payload.period_seconds <= 0) {
    return absl::FailedPreconditionError("stored OTP period out of range");
  }
  out.code = Totp(*key, unix_seconds, payload.period_seconds, payload.digits, payload.algorithm);
  out.valid_until_unix = (unix_seconds / payload.period_seconds + 1) * payload.period_seconds;
  return out;
}

}  // namespace coffer::vault::domain
