#include "pkg/crypto/encoding.h"

#include <sodium.h>

#include "pkg/crypto/sodium.h"

namespace coffer::crypto {
namespace {

std::string EncodeBase64(std::string_view bytes, int variant) {
  internal::EnsureSodiumInitialized();
  // sodium_base64_ENCODED_LEN counts the trailing NUL.
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(out.size() - 1);
  return out;
}

// True when every byte of `text` is in the variant's alphabet (and '=' for the padded one).
// libsodium 1.0.18 maps bytes >= 0x80 to alphabet values instead of rejecting them (found by
// tests/fuzz/jwt), which would give one value many spellings; so the alphabet is checked here.
bool InAlphabet(std::string_view text, int variant) {
  const bool url = variant == sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  for (const char ch : text) {
    const bool alnum =
        (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
    const bool extra = url ? (ch == '-' || ch == '_') : (ch == '+' || ch == '/' || ch == '=');
    if (!alnum && !extra) return false;
  }
  return true;
}

absl::StatusOr<std::string> DecodeBase64(std::string_view text, int variant, const char* what) {
  internal::EnsureSodiumInitialized();
  if (!InAlphabet(text, variant)) return absl::InvalidArgumentError(std::string("invalid ") + what);
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  // b64_end == nullptr makes libsodium fail unless the whole input is consumed.
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), /*ignore=*/nullptr, &len, /*b64_end=*/nullptr, variant) != 0) {
    return absl::InvalidArgumentError(std::string("invalid ") + what);
  }
  out.resize(len);
  return out;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  return EncodeBase64(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

absl::StatusOr<std::string> Base64UrlDecode(std::string_view text) {
  return DecodeBase64(text, sodium_base64_VARIANT_URLSAFE_NO_PADDING, "base64url");
}

std::string Base64Encode(std::string_view bytes) {
  return EncodeBase64(bytes, sodium_base64_VARIANT_ORIGINAL);
}

absl::StatusOr<std::string> Base64Decode(std::string_view text) {
  return DecodeBase64(text, sodium_base64_VARIANT_ORIGINAL, "base64");
}

std::string HexEncode(std::string_view bytes) {
  internal::EnsureSodiumInitialized();
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  out.resize(out.size() - 1);
  return out;
}

absl::StatusOr<std::string> HexDecode(std::string_view text) {
  internal::EnsureSodiumInitialized();
  if (text.size() % 2 != 0) return absl::InvalidArgumentError("invalid hex: odd length");
  std::string out(text.size() / 2, '\0');
  size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                     text.size(), /*ignore=*/nullptr, &len, /*hex_end=*/nullptr) != 0 ||
      len != out.size()) {
    return absl::InvalidArgumentError("invalid hex");
  }
  return out;
}

}  // namespace coffer::crypto
