// Structured JSON logs: one JSON object per line on stdout (or an injected spdlog sink).
//
// Why: logs are read by machines first (Loki, Elasticsearch, `jq`). Every line carries the same
// keys, so a line from any Coffer service can be filtered by service, level and request id:
//   {"ts":"2024-05-01T12:00:00.123Z","level":"info","service":"vault","logger":"records",
//    "msg":"record written","request_id":"4f1c...","space_id":"...","version":7}
//
// Never log secrets: messages are constant text, data goes into explicit key-value fields, and
// any field whose key looks secret (password, token, secret, key, authorization, dsn, ...) is
// written as "[redacted]" whatever its value. Keys are the review point, not free-form text.
//
// Request ids: a ScopedRequestId on the handling thread makes every line logged inside the call
// carry "request_id" (generated when the caller sent none).
//
// spdlog does the sinks, level filtering and thread safety; this file only builds the line.
//
// Lifecycle and threading: call Init() once in main() before starting threads (tests may call it
// again); after that every function here is thread-safe. Loggers are cheap value objects.
#pragma once

#include <spdlog/common.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace coffer::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kOff };

// "trace", "debug", "info", "warn" (or "warning"), "error", "off"; case-insensitive.
absl::StatusOr<Level> ParseLevel(std::string_view text);
// The lower-case name ParseLevel reads back ("info", "warn", ...).
std::string_view LevelName(Level level);

struct LogOptions {
  std::string service;  // written as "service" on every line, e.g. "vault"
  Level level = Level::kInfo;
};

// Installs the process-wide logger. `sink` defaults to a thread-safe stdout sink; tests pass an
// spdlog::sinks::ostream_sink_mt to capture lines.
void Init(const LogOptions& options, spdlog::sink_ptr sink = nullptr);
// Changes the level at run time.
void SetLevel(Level level);

// The value written for secret-looking keys.
inline constexpr std::string_view kRedacted = "[redacted]";

// True if a field with this key may hold a secret: case-insensitive substring match on password,
// passwd, secret, token, key, authorization, cookie, credential, dsn, cvv, card_number, seed,
// payload, plaintext; or the whole key is pin or otp. "key_id" and "kid" name keys without
// revealing them and are allowed. Errs on the side of redacting.
bool IsSecretKey(std::string_view key);

// `value` unless IsSecretKey(key), then "[redacted]". For text built outside a log call.
std::string Redact(std::string_view key, std::string_view value);

// One key-value pair of a log line. Values keep their JSON type (string, integer, float, bool).
struct Field {
  using Value = std::variant<std::string, int64_t, uint64_t, double, bool>;

  Field(std::string k, const char* v) : key(std::move(k)), value(std::string(v)) {}
  Field(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  Field(std::string k, std::string_view v) : key(std::move(k)), value(std::string(v)) {}
  Field(std::string k, bool v) : key(std::move(k)), value(v) {}
  Field(std::string k, double v) : key(std::move(k)), value(v) {}
  // A non-OK status is written as "CODE: message"; OK as "OK".
  Field(std::string k, const absl::Status& v);
  template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) Field(std::string k, T v)
      : key(std::move(k)) {
    if constexpr (std::is_signed_v<T>) {
      value = static_cast<int64_t>(v);
    } else {
      value = static_cast<uint64_t>(v);
    }
  }

  std::string key;
  Value value;
};

// A named logger ("logger" key), e.g. one per component: Logger("outbox").
class Logger {
 public:
  explicit Logger(std::string name = "") : name_(std::move(name)) {}

  // True when a line at `level` would be written (to skip building costly fields).
  bool Enabled(Level level) const;

  // Writes one line with `msg` and `fields` when `level` is enabled; secret-looking keys are
  // redacted.
  void Log(Level level, std::string_view msg, const std::vector<Field>& fields) const;
  void Log(Level level, std::string_view msg, std::initializer_list<Field> fields = {}) const;

  void Trace(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(Level::kTrace, msg, fields);
  }
  void Debug(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(Level::kDebug, msg, fields);
  }
  void Info(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(Level::kInfo, msg, fields);
  }
  void Warn(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(Level::kWarn, msg, fields);
  }
  void Error(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(Level::kError, msg, fields);
  }

 private:
  std::string name_;
};

// Shorthands on an unnamed logger.
void Debug(std::string_view msg, std::initializer_list<Field> fields = {});
void Info(std::string_view msg, std::initializer_list<Field> fields = {});
void Warn(std::string_view msg, std::initializer_list<Field> fields = {});
void Error(std::string_view msg, std::initializer_list<Field> fields = {});

// A fresh random request id: 32 lowercase hex characters (128 bits).
std::string NewRequestId();

// The request id of the innermost ScopedRequestId on this thread, or "" outside any.
std::string CurrentRequestId();

// Sets this thread's request id for its lifetime and restores the previous one on destruction.
// Create one at the start of each call's handling (on the thread that handles it); an empty id
// means "the caller sent none": a new one is generated. Not movable: it is a stack frame marker.
class ScopedRequestId {
 public:
  explicit ScopedRequestId(std::string request_id = "");
  ~ScopedRequestId();
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

  const std::string& id() const { return id_; }

 private:
  std::string id_;
  std::string previous_;
};

}  // namespace coffer::log
