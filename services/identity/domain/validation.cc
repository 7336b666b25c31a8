#include "services/identity/domain/validation.h"

#include <string>

#include "fmt/format.h"

namespace coffer::identity {

bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned int cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // continuation byte or 0xF8..0xFF in lead position
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) {
      return false;  // overlong encoding
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::size_t CountCodePoints(std::string_view s) {
  std::size_t count = 0;
  for (char ch : s) {
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++count;
  }
  return count;
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

absl::Status ValidateDisplayName(std::string_view name) {
  auto too_long = [] {
    return absl::InvalidArgumentError(
        fmt::format("display_name is too long (at most {} characters)", kMaxDisplayNameChars));
  };
  // A code point takes at most 4 bytes: anything longer is too long, whatever it holds.
  if (name.size() > 4 * kMaxDisplayNameChars) return too_long();
  if (!IsValidUtf8(name)) return absl::InvalidArgumentError("display_name is not valid UTF-8");
  if (CountCodePoints(name) > kMaxDisplayNameChars) return too_long();
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    // C0 controls and DEL are single bytes; C1 controls (U+0080..U+009F) are 0xC2 0x80..0x9F.
    const bool c0_or_del = c < 0x20 || c == 0x7F;
    const bool c1 = c == 0xC2 && i + 1 < name.size() &&
                    static_cast<unsigned char>(name[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(name[i + 1]) <= 0x9F;
    if (c0_or_del || c1) {
      return absl::InvalidArgumentError("display_name must not contain control characters");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckStringField(std::string_view field, std::string_view value, std::size_t max_bytes,
                              bool required) {
  if (value.empty()) {
    if (!required) return absl::OkStatus();
    return absl::InvalidArgumentError(fmt::format("{} is required", field));
  }
  if (value.size() > max_bytes) {
    return absl::InvalidArgumentError(
        fmt::format("{} is too long ({} bytes; at most {})", field, value.size(), max_bytes));
  }
  if (!IsValidUtf8(value)) {
    return absl::InvalidArgumentError(fmt::format("{} is not valid UTF-8", field));
  }
  return absl::OkStatus();
}

}  // namespace coffer::identity
