// Input limits and typed validation of record content (docs/architecture.md §6, limits on
// every input).
//
// Why: malformed input must fail with INVALID_ARGUMENT naming the field before anything is
// stored, and every stored record must be well-formed for the code that reads it (OTP codes,
// search). Validation also normalizes (card number digits only, OTP secret upper-case without
// padding, OTP defaults) so equal content compares equal for idempotent creates.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "services/vault/domain/record.h"

namespace coffer::vault::domain {

// Limits, in bytes unless named otherwise. Documented in services/vault/README.md.
struct Limits {
  static constexpr size_t kMaxName = 256;
  static constexpr size_t kMaxMetadataEntries = 64;
  static constexpr size_t kMaxMetadataKey = 128;
  static constexpr size_t kMaxMetadataValue = 4096;
  static constexpr size_t kMaxLogin = 1024;
  static constexpr size_t kMaxPassword = 4096;
  static constexpr size_t kMaxUrl = 2048;
  static constexpr size_t kMaxField = 4096;         // other short payload fields
  static constexpr size_t kMaxNotes = 64 * 1024;    // notes of credentials and instruments
  static constexpr size_t kMaxBody = 1024 * 1024;   // text body, sealed ciphertext
  static constexpr size_t kMinOtpSecretBytes = 10;  // 80 bits, the common authenticator size
  static constexpr size_t kMaxOtpSecretBytes = 128;
  static constexpr uint64_t kMaxFileSize = uint64_t{16} << 30;  // 16 GiB
  static constexpr size_t kMaxQuery = 256;
  static constexpr int kMaxPageSize = 1000;
  // The encrypted name, metadata and payload of one revision together: every revision travels
  // whole in one change event, which must stay below Kafka's message limit (librdkafka's
  // message.max.bytes 1,000,000; the broker's and topic's 1,048,588) with room for the event's
  // other fields, key and MAC headers (docs/architecture.md §4; services/vault/README.md "Limits").
  static constexpr size_t kMaxSealedRecord = 900'000;
};

// Validates `content` and normalizes it in place. On failure returns INVALID_ARGUMENT whose
// message starts with the offending field's path (the proto field path, after `prefix`), e.g.
// "record.card.number: fails the Luhn check".
absl::Status ValidateAndNormalize(RecordContent& content, std::string_view prefix = "");

// INVALID_ARGUMENT "record: ..." with the limit when sealed envelopes of `sealed_bytes` in all
// exceed Limits::kMaxSealedRecord (the record could not replicate).
absl::Status CheckReplicableSize(size_t sealed_bytes);

// Well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points above U+10FFFF), what
// PostgreSQL, JSON (nlohmann) and protobuf all require of text.
bool ValidUtf8(std::string_view s);

// Luhn (mod 10) check over a string of decimal digits.
bool LuhnValid(std::string_view digits);
// ISO 6166 ISIN: 2 letters, 9 alphanumerics, 1 check digit (Luhn over the letter-expanded code).
bool IsinValid(std::string_view isin);
// Canonical textual UUID (8-4-4-4-12 hex digits, any case).
bool IsUuid(std::string_view text);

// A shared space's name (field `field`): 1 to 256 bytes of valid UTF-8 without control
// characters, not only spaces.
absl::Status ValidateSpaceName(std::string_view field, const std::string& name);

// Helper for every layer that rejects input: INVALID_ARGUMENT "<field>: <reason>".
absl::Status FieldError(std::string_view field, std::string_view reason);

}  // namespace coffer::vault::domain
