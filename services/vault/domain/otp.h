// One-time password codes: HOTP (RFC 4226) and TOTP (RFC 6238) with SHA-1, SHA-256 or SHA-512,
// and the RFC 4648 base32 encoding OTP secrets are exchanged in.
//
// Why server-side: OTP records keep their seed in the vault, so a client (CLI, script) can ask
// for the current code without ever holding the seed.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "services/vault/domain/record.h"

namespace coffer::vault::domain {

// Decodes RFC 4648 base32, case-insensitive, ignoring spaces and '=' padding (authenticator
// apps show secrets in groups of four). Fails on any other character or trailing bits.
absl::StatusOr<std::string> Base32Decode(std::string_view text);
// Encodes bytes as upper-case base32 without padding.
std::string Base32Encode(std::string_view bytes);

// RFC 4226 HOTP value for `counter`, as a zero-padded decimal string of `digits` (6..8) digits.
std::string Hotp(std::string_view key, uint64_t counter, int digits, OtpAlgorithm algorithm);

// RFC 6238 TOTP for the Unix time `unix_seconds` with time step `period` seconds (T0 = 0).
std::string Totp(std::string_view key, int64_t unix_seconds, int period, int digits,
                 OtpAlgorithm algorithm);

// A computed code and, for TOTP, how long it stays valid.
struct OtpCode {
  std::string code;
  int64_t valid_until_unix = 0;  // TOTP: end of the current step; HOTP: 0
};

// The current code of a validated OTP payload (HOTP uses payload.counter).
absl::StatusOr<OtpCode> CurrentOtpCode(const OtpPayload& payload, int64_t unix_seconds);

}  // namespace coffer::vault::domain
