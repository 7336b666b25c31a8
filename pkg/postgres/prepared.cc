#include "pkg/postgres/prepared.h"

#include <charconv>

namespace coffer::postgres {

std::string PreparedName(const char* sql) {
  char hex[2 * sizeof(std::uintptr_t)];
  auto [end, ec] = std::to_chars(hex, hex + sizeof(hex), reinterpret_cast<std::uintptr_t>(sql), 16);
  return "coffer_" + std::string(hex, end);
}

}  // namespace coffer::postgres
