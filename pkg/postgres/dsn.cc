#include "pkg/postgres/dsn.h"

#include <regex>

namespace coffer::postgres {
namespace {

bool IsUri(const std::string& dsn) {
  return dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
}

}  // namespace

std::string WithConnParam(const std::string& dsn, const std::string& key,
                          const std::string& value) {
  if (IsUri(dsn)) {
    if (std::regex_search(dsn, std::regex("[?&]" + key + "="))) return dsn;
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
  }
  if (std::regex_search(dsn, std::regex("(^|\\s)" + key + "\\s*="))) return dsn;
  if (dsn.empty()) return key + "=" + value;
  return dsn + " " + key + "=" + value;
}

std::string RedactDsn(const std::string& dsn) {
  if (IsUri(dsn)) {
    // postgresql://user:secret@host -> postgresql://user:***@host; ?password=x -> ?password=***
    std::string out = std::regex_replace(dsn, std::regex("(://[^:/@]*):[^@/]*@"), "$1:***@");
    return std::regex_replace(out, std::regex("([?&]password=)[^&]*"), "$1***");
  }
  // password=secret or password='se cret'
  return std::regex_replace(dsn, std::regex("(password\\s*=\\s*)('([^'\\\\]|\\\\.)*'|\\S*)"),
                            "$1***");
}

}  // namespace coffer::postgres
