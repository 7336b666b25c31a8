#include "pkg/log/log.h"

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

namespace coffer::log {
namespace {

struct State {
  std::shared_ptr<spdlog::logger> logger;
  std::string service;
};

std::shared_ptr<State> MakeState(const LogOptions& options, spdlog::sink_ptr sink) {
  if (sink == nullptr) sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("coffer", std::move(sink));
  // The whole JSON line is built here; spdlog only appends the newline.
  logger->set_formatter(std::make_unique<spdlog::pattern_formatter>("%v"));
  auto state = std::make_shared<State>();
  state->logger = std::move(logger);
  state->service = options.service;
  return state;
}

spdlog::level::level_enum ToSpdlog(Level level) {
  switch (level) {
    case Level::kTrace:
      return spdlog::level::trace;
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
    case Level::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::atomic<std::shared_ptr<State>>& GlobalState() {
  static auto* state = new std::atomic<std::shared_ptr<State>>(MakeState({}, nullptr));
  return *state;
}

thread_local std::string current_request_id;

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 96> buf{};  // room for any int the compiler can imagine
  std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf.data();
}

bool IsReservedKey(const std::string& key) {
  return key == "ts" || key == "level" || key == "service" || key == "logger" || key == "msg" ||
         key == "request_id";
}

void Write(const std::string& logger_name, Level level, std::string_view msg, const Field* begin,
           const Field* end) {
  std::shared_ptr<State> state = GlobalState().load();
  spdlog::level::level_enum spd_level = ToSpdlog(level);
  if (!state->logger->should_log(spd_level)) return;

  nlohmann::ordered_json line;
  line["ts"] = Timestamp();
  line["level"] = std::string(LevelName(level));
  if (!state->service.empty()) line["service"] = state->service;
  if (!logger_name.empty()) line["logger"] = logger_name;
  line["msg"] = std::string(msg);
  if (!current_request_id.empty()) line["request_id"] = current_request_id;
  for (const Field* f = begin; f != end; ++f) {
    // Fields never overwrite the envelope; a clashing key is kept under "field.<key>".
    std::string key = IsReservedKey(f->key) ? "field." + f->key : f->key;
    if (IsSecretKey(f->key)) {
      line[key] = std::string(kRedacted);
      continue;
    }
    std::visit([&](const auto& v) { line[key] = v; }, f->value);
  }
  // Invalid UTF-8 in a value must not lose the line: replace bad bytes with U+FFFD.
  state->logger->log(spd_level, "{}",
                     line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

absl::StatusOr<Level> ParseLevel(std::string_view text) {
  std::string t(text);
  std::transform(t.begin(), t.end(), t.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (t == "trace") return Level::kTrace;
  if (t == "debug") return Level::kDebug;
  if (t == "info") return Level::kInfo;
  if (t == "warn" || t == "warning") return Level::kWarn;
  if (t == "error") return Level::kError;
  if (t == "off") return Level::kOff;
  return absl::InvalidArgumentError("unknown log level \"" + std::string(text) +
                                    "\" (want trace, debug, info, warn, error or off)");
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kTrace:
      return "trace";
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kOff:
      return "off";
  }
  return "info";
}

void Init(const LogOptions& options, spdlog::sink_ptr sink) {
  std::shared_ptr<State> state = MakeState(options, std::move(sink));
  state->logger->set_level(ToSpdlog(options.level));
  GlobalState().store(std::move(state));
}

void SetLevel(Level level) { GlobalState().load()->logger->set_level(ToSpdlog(level)); }

bool IsSecretKey(std::string_view key) {
  std::string k(key);
  std::transform(k.begin(), k.end(), k.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (k == "key_id" || k == "kid") return false;
  if (k == "pin" || k == "otp") return true;
  static constexpr std::array<std::string_view, 14> kSecretParts = {
      "password",   "passwd", "secret", "token",       "key",  "authorization", "cookie",
      "credential", "dsn",    "cvv",    "card_number", "seed", "payload",       "plaintext"};
  return std::any_of(kSecretParts.begin(), kSecretParts.end(),
                     [&](std::string_view part) { return k.find(part) != std::string::npos; });
}

std::string Redact(std::string_view key, std::string_view value) {
  return IsSecretKey(key) ? std::string(kRedacted) : std::string(value);
}

Field::Field(std::string k, const absl::Status& v) : key(std::move(k)), value(v.ToString()) {}

bool Logger::Enabled(Level level) const {
  return GlobalState().load()->logger->should_log(ToSpdlog(level));
}

void Logger::Log(Level level, std::string_view msg, const std::vector<Field>& fields) const {
  Write(name_, level, msg, fields.data(), fields.data() + fields.size());
}

void Logger::Log(Level level, std::string_view msg, std::initializer_list<Field> fields) const {
  Write(name_, level, msg, fields.begin(), fields.end());
}

void Debug(std::string_view msg, std::initializer_list<Field> fields) {
  Write("", Level::kDebug, msg, fields.begin(), fields.end());
}
void Info(std::string_view msg, std::initializer_list<Field> fields) {
  Write("", Level::kInfo, msg, fields.begin(), fields.end());
}
void Warn(std::string_view msg, std::initializer_list<Field> fields) {
  Write("", Level::kWarn, msg, fields.begin(), fields.end());
}
void Error(std::string_view msg, std::initializer_list<Field> fields) {
  Write("", Level::kError, msg, fields.begin(), fields.end());
}

std::string NewRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng();
  uint64_t lo = rng();
  std::array<char, 33> buf{};
  std::snprintf(buf.data(), buf.size(), "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  return buf.data();
}

std::string CurrentRequestId() { return current_request_id; }

ScopedRequestId::ScopedRequestId(std::string request_id)
    : id_(request_id.empty() ? NewRequestId() : std::move(request_id)),
      previous_(std::move(current_request_id)) {
  current_request_id = id_;
}

ScopedRequestId::~ScopedRequestId() { current_request_id = std::move(previous_); }

}  // namespace coffer::log
