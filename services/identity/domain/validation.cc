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
