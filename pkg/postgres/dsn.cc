#include "pkg/postgres/dsn.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <optional>
#include <regex>
#include <utility>
#include <vector>

namespace coffer::postgres {
namespace {

bool IsUri(const std::string& dsn) {
  return dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
}

using ConnParams = std::vector<std::pair<std::string, std::string>>;

// The parameters `dsn` sets explicitly (libpq's own parser, for both forms), or nullopt when
// libpq cannot parse it.
std::optional<ConnParams> ParseDsn(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (options == nullptr) {
    if (error != nullptr) PQfreemem(error);
    return std::nullopt;
  }
  ConnParams params;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) params.emplace_back(o->keyword, o->val);
  }
  PQconninfoFree(options);
  return params;
}

// A keyword/value DSN value in single quotes, with backslash and quote escaped.
std::string QuoteConnValue(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

// Percent-encodes everything but RFC 3986 unreserved characters (a URI query value).
std::string PercentEncode(const std::string& value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
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

std::string WithSessionSettings(const std::string& dsn, const SessionSettings& settings) {
  std::string out = WithConnParam(dsn, "keepalives", "1");
  auto add = [&out](const char* key, int64_t value) {
    if (value > 0) out = WithConnParam(out, key, std::to_string(value));
  };
  add("keepalives_idle", settings.keepalives_idle.count());
  add("keepalives_interval", settings.keepalives_interval.count());
  add("keepalives_count", settings.keepalives_count);
  add("tcp_user_timeout", settings.tcp_user_timeout.count());

  std::vector<std::pair<std::string, int64_t>> server;
  if (settings.statement_timeout.count() > 0) {
    server.emplace_back("statement_timeout", settings.statement_timeout.count());
  }
  if (settings.idle_in_transaction_timeout.count() > 0) {
    server.emplace_back("idle_in_transaction_session_timeout",
                        settings.idle_in_transaction_timeout.count());
  }
  if (server.empty()) return out;
  std::optional<ConnParams> params = ParseDsn(out);
  if (!params) return out;
  std::string existing;
  bool in_dsn = false;
  for (const auto& [key, value] : *params) {
    if (key == "options") {
      existing = value;
      in_dsn = true;
    }
  }
  // libpq reads PGOPTIONS only when the DSN sets no options: keep what it says.
  if (!in_dsn) {
    if (const char* env = std::getenv("PGOPTIONS"); env != nullptr) existing = env;
  }
  std::string extra;
  for (const auto& [name, millis] : server) {
    if (existing.find(name) != std::string::npos) continue;  // set by the caller: theirs wins
    if (!extra.empty()) extra += ' ';
    extra += "-c " + name + "=" + std::to_string(millis);
  }
  if (extra.empty()) return out;
  const std::string merged = existing.empty() ? extra : existing + " " + extra;
  if (!in_dsn) {
    if (IsUri(out)) {
      return out + (out.find('?') == std::string::npos ? "?" : "&") +
             "options=" + PercentEncode(merged);
    }
    return out + (out.empty() ? "" : " ") + "options=" + QuoteConnValue(merged);
  }
  // The DSN has options of its own: rebuild it (keyword/value form) with the merged value.
  std::string rebuilt;
  for (const auto& [key, value] : *params) {
    if (!rebuilt.empty()) rebuilt += ' ';
    rebuilt += key + "=" + QuoteConnValue(key == "options" ? merged : value);
  }
  return rebuilt;
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
