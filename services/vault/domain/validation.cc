#include "services/vault/domain/validation.h"

#include <cctype>
#include <string_view>

#include "pkg/status/status.h"
#include "services/vault/domain/otp.h"

namespace coffer::vault::domain {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }

}  // namespace

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The lead byte gives the length and the range of the second byte (RFC 3629 §4): no
    // overlong forms (C0, C1, E0 80-9F, F0 80-8F), no surrogates (ED A0-BF), nothing above
    // U+10FFFF (F4 90-BF, F5-FF).
    size_t extra;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b >> 6) != 0x2) return false;
    }
    i += extra + 1;
  }
  return true;
}

namespace {

absl::Status CheckString(std::string_view field, const std::string& value, size_t max) {
  if (value.size() > max) {
    return FieldError(field, "longer than " + std::to_string(max) + " bytes");
  }
  if (!ValidUtf8(value)) return FieldError(field, "not valid UTF-8");
  return absl::OkStatus();
}

std::string StripSeparators(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '-') out.push_back(c);
  }
  return out;
}

absl::Status Validate(CredentialPayload& p) {
  COFFER_RETURN_IF_ERROR(CheckString("credential.login", p.login, Limits::kMaxLogin));
  COFFER_RETURN_IF_ERROR(CheckString("credential.password", p.password, Limits::kMaxPassword));
  COFFER_RETURN_IF_ERROR(CheckString("credential.url", p.url, Limits::kMaxUrl));
  return CheckString("credential.notes", p.notes, Limits::kMaxNotes);
}

absl::Status Validate(TextPayload& p) { return CheckString("text.text", p.text, Limits::kMaxBody); }

absl::Status Validate(CardPayload& p) {
  p.number = StripSeparators(p.number);
  if (p.number.size() < 12 || p.number.size() > 19) {
    return FieldError("card.number", "must have 12 to 19 digits");
  }
  for (char c : p.number) {
    if (!IsDigit(c)) return FieldError("card.number", "must contain digits only");
  }
  if (!LuhnValid(p.number)) return FieldError("card.number", "fails the Luhn check");
  if (p.expiry_month < 0 || p.expiry_month > 12) {
    return FieldError("card.expiry_month", "must be 1 to 12 (0 = unknown)");
  }
  if (p.expiry_year > 0 && p.expiry_year < 100) p.expiry_year += 2000;  // "MM/YY" cards
  if (p.expiry_year != 0 && (p.expiry_year < 2000 || p.expiry_year > 2099)) {
    return FieldError("card.expiry_year", "must be 2000 to 2099, two digits, or 0 = unknown");
  }
  if (!p.cvv.empty()) {
    if (p.cvv.size() < 3 || p.cvv.size() > 4)
      return FieldError("card.cvv", "must have 3 or 4 digits");
    for (char c : p.cvv) {
      if (!IsDigit(c)) return FieldError("card.cvv", "must contain digits only");
    }
  }
  COFFER_RETURN_IF_ERROR(CheckString("card.holder", p.holder, Limits::kMaxField));
  return CheckString("card.bank", p.bank, Limits::kMaxField);
}

absl::Status Validate(OtpPayload& p) {
  if (p.kind != OtpKind::kTotp && p.kind != OtpKind::kHotp) {
    return FieldError("otp.kind", "must be TOTP or HOTP");
  }
  if (p.algorithm != OtpAlgorithm::kSha1 && p.algorithm != OtpAlgorithm::kSha256 &&
      p.algorithm != OtpAlgorithm::kSha512) {
    return FieldError("otp.algorithm", "must be SHA1, SHA256 or SHA512");
  }
  std::string secret;
  for (char c : p.secret) {
    if (c == ' ' || c == '=') continue;
    secret.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  auto key = Base32Decode(secret);
  if (!key.ok()) return FieldError("otp.secret_base32", std::string(key.status().message()));
  if (key->size() < Limits::kMinOtpSecretBytes || key->size() > Limits::kMaxOtpSecretBytes) {
    return FieldError("otp.secret_base32", "must decode to 10 to 128 bytes");
  }
  p.secret = std::move(secret);
  if (p.digits == 0) p.digits = 6;
  if (p.digits < 6 || p.digits > 8) return FieldError("otp.digits", "must be 6 to 8");
  if (p.kind == OtpKind::kTotp) {
    if (p.period_seconds == 0) p.period_seconds = 30;
    if (p.period_seconds < 1 || p.period_seconds > 300) {
      return FieldError("otp.period_seconds", "must be 1 to 300");
    }
    if (p.counter != 0) return FieldError("otp.counter", "only HOTP has a counter");
  } else {
    p.period_seconds = 0;
  }
  COFFER_RETURN_IF_ERROR(CheckString("otp.issuer", p.issuer, Limits::kMaxField));
  return CheckString("otp.account", p.account, Limits::kMaxField);
}

absl::Status Validate(InstrumentPayload& p) {
  if (p.isin.empty() && p.ticker.empty()) {
    return FieldError("instrument.isin", "an ISIN or a ticker is required");
  }
  if (!p.isin.empty()) {
    for (char& c : p.isin) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!IsinValid(p.isin)) {
      return FieldError("instrument.isin", "not a valid ISIN (format or check digit)");
    }
  }
  if (!p.currency.empty()) {
    if (p.currency.size() != 3 || !IsUpper(p.currency[0]) || !IsUpper(p.currency[1]) ||
        !IsUpper(p.currency[2])) {
      return FieldError("instrument.currency", "must be an ISO 4217 code like EUR");
    }
  }
  COFFER_RETURN_IF_ERROR(CheckString("instrument.ticker", p.ticker, Limits::kMaxField));
  COFFER_RETURN_IF_ERROR(CheckString("instrument.exchange", p.exchange, Limits::kMaxField));
  COFFER_RETURN_IF_ERROR(CheckString("instrument.kind", p.kind, Limits::kMaxField));
  return CheckString("instrument.note", p.note, Limits::kMaxNotes);
}

absl::Status Validate(FilePayload& p) {
  if (p.size > Limits::kMaxFileSize) return FieldError("file.size_bytes", "larger than 16 GiB");
  if (!p.sha256_hex.empty()) {
    if (p.sha256_hex.size() != 64) return FieldError("file.sha256_hex", "must be 64 hex digits");
    for (char& c : p.sha256_hex) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!IsDigit(c) && !(c >= 'a' && c <= 'f')) {
        return FieldError("file.sha256_hex", "must be 64 hex digits");
      }
    }
  }
  if (p.file_name.empty()) return FieldError("file.file_name", "required");
  COFFER_RETURN_IF_ERROR(CheckString("file.file_name", p.file_name, Limits::kMaxName));
  COFFER_RETURN_IF_ERROR(CheckString("file.content_type", p.content_type, Limits::kMaxName));
  return CheckString("file.blob_id", p.blob_id, Limits::kMaxName);
}

absl::Status Validate(SealedPayload& p) {
  if (p.ciphertext.empty()) return FieldError("sealed.ciphertext", "required");
  if (p.ciphertext.size() > Limits::kMaxBody) {
    return FieldError("sealed.ciphertext", "longer than 1 MiB");
  }
  COFFER_RETURN_IF_ERROR(CheckString("sealed.key_id", p.key_id, Limits::kMaxName));
  return CheckString("sealed.algorithm", p.algorithm, Limits::kMaxName);
}

absl::Status ValidateUnprefixed(RecordContent& content);

}  // namespace

absl::Status FieldError(std::string_view field, std::string_view reason) {
  return absl::InvalidArgumentError(std::string(field) + ": " + std::string(reason));
}

bool LuhnValid(std::string_view digits) {
  if (digits.empty()) return false;
  int sum = 0;
  bool twice = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (!IsDigit(*it)) return false;
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

bool IsinValid(std::string_view isin) {
  if (isin.size() != 12 || !IsUpper(isin[0]) || !IsUpper(isin[1]) || !IsDigit(isin[11])) {
    return false;
  }
  std::string expanded;
  for (char c : isin) {
    if (IsDigit(c)) {
      expanded.push_back(c);
    } else if (IsUpper(c)) {
      expanded += std::to_string(c - 'A' + 10);
    } else {
      return false;
    }
  }
  return LuhnValid(expanded);
}

absl::Status ValidateSpaceName(std::string_view field, const std::string& name) {
  constexpr size_t kMaxSpaceName = 256;
  COFFER_RETURN_IF_ERROR(CheckString(field, name, kMaxSpaceName));
  if (name.find_first_not_of(' ') == std::string::npos) return FieldError(field, "required");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return FieldError(field, "contains a control character");
  }
  return absl::OkStatus();
}

bool IsUuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

absl::Status ValidateAndNormalize(RecordContent& content, std::string_view prefix) {
  absl::Status status = ValidateUnprefixed(content);
  if (status.ok() || prefix.empty()) return status;
  return absl::InvalidArgumentError(std::string(prefix) + std::string(status.message()));
}

namespace {

absl::Status ValidateUnprefixed(RecordContent& content) {
  if (content.name.empty()) return FieldError("name", "required");
  COFFER_RETURN_IF_ERROR(CheckString("name", content.name, Limits::kMaxName));
  for (char c : content.name) {
    if (static_cast<unsigned char>(c) < 0x20)
      return FieldError("name", "contains control characters");
  }
  if (content.metadata.size() > Limits::kMaxMetadataEntries) {
    return FieldError("metadata", "more than 64 entries");
  }
  for (const auto& [key, value] : content.metadata) {
    if (key.empty()) return FieldError("metadata", "empty key");
    COFFER_RETURN_IF_ERROR(CheckString("metadata", key, Limits::kMaxMetadataKey));
    COFFER_RETURN_IF_ERROR(CheckString("metadata[" + key + "]", value, Limits::kMaxMetadataValue));
  }
  return std::visit([](auto& p) { return Validate(p); }, content.payload);
}

}  // namespace

absl::Status CheckReplicableSize(size_t sealed_bytes) {
  if (sealed_bytes <= Limits::kMaxSealedRecord) return absl::OkStatus();
  return FieldError("record",
                    "too large to replicate: encrypted, its name, metadata and payload "
                    "take " +
                        std::to_string(sealed_bytes) + " bytes; the limit is " +
                        std::to_string(Limits::kMaxSealedRecord));
}

}  // namespace coffer::vault::domain
