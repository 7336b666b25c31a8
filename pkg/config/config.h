// Service configuration from command-line flags and COFFER_* environment variables.
//
// Why: every Coffer binary takes the same kind of settings (addresses, DSNs, key files, limits)
// from flags in development and from the environment in containers. Declaring each option once
// here gives both spellings (`--db-dsn` and `COFFER_DB_DSN`), one validation path, one error
// message format naming where a bad value came from, and one markdown reference for the docs
// (`--print-config-reference`), so the names can never drift apart.
//
// Precedence: flag > environment > default (the value the target held when it was declared).
//
// Usage (main.cc):
//   coffer::config::ConfigParser parser("coffer-vault", "Coffer vault service");
//   VaultConfig cfg;  // fields hold defaults
//   parser.Add("grpc-address", &cfg.grpc_address, "gRPC listen address (host:port)");
//   parser.Add("db-dsn", &cfg.db_dsn, "PostgreSQL connection string").Required().Secret();
//   parser.Add("admin-port", &cfg.admin_port, "Admin HTTP port")
//       .Validate(coffer::config::InRange(0, 65535));
//   parser.ParseOrExit(argc, argv);  // handles --help, --version, --print-config-reference
//
// Supported target types: std::string, bool, any integral type, double, absl::Duration,
// std::chrono durations ("10s", "250ms", "1h30m") and std::vector<std::string> (comma separated).
//
// Lifecycle and threading: declare options and parse once, on the main thread, before any other
// thread reads the targets. Targets must outlive the parser. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace CLI {
class App;
}  // namespace CLI

namespace coffer::config {

// Environment variable name for a flag: "db-dsn" -> "COFFER_DB_DSN".
std::string EnvName(std::string_view flag_name);

// Conversions between option values and their textual form (flag/env values, defaults).
// Parse* return InvalidArgument with a short "expected ..." message (no flag name, no value).
namespace internal {

absl::Status ParseText(const std::string& text, std::string* out);
absl::Status ParseText(const std::string& text, bool* out);
absl::Status ParseText(const std::string& text, double* out);
absl::Status ParseText(const std::string& text, absl::Duration* out);
absl::Status ParseText(const std::string& text, std::vector<std::string>* out);
// A decimal integer (surrounding blanks ignored) within [min, max] / [0, max].
absl::Status ParseSigned(const std::string& text, int64_t min, int64_t max, int64_t* out);
absl::Status ParseUnsigned(const std::string& text, uint64_t max, uint64_t* out);

// Any integer type, range-checked against T's limits.
template <typename T>
absl::Status ParseText(const std::string& text, T* out) requires std::is_integral_v<T> {
  if constexpr (std::is_signed_v<T>) {
    int64_t value = 0;
    absl::Status status =
        ParseSigned(text, std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), &value);
    if (status.ok()) *out = static_cast<T>(value);
    return status;
  } else {
    uint64_t value = 0;
    absl::Status status = ParseUnsigned(text, std::numeric_limits<T>::max(), &value);
    if (status.ok()) *out = static_cast<T>(value);
    return status;
  }
}

// Any std::chrono duration, written as absl::Duration text and truncated to the target's unit.
template <typename Rep, typename Period>
absl::Status ParseText(const std::string& text, std::chrono::duration<Rep, Period>* out) {
  absl::Duration d;
  absl::Status status = ParseText(text, &d);
  if (status.ok()) {
    *out = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(
        absl::ToChronoNanoseconds(d));
  }
  return status;
}

// A value as text, as defaults appear in --help, the reference and EffectiveValues(). A list
// is comma separated; a double has 6 significant digits.
std::string FormatText(const std::string& value);
std::string FormatText(bool value);
std::string FormatText(double value);
std::string FormatText(absl::Duration value);
std::string FormatText(const std::vector<std::string>& value);

template <typename T>
std::string FormatText(T value) requires std::is_integral_v<T> {
  return std::to_string(value);
}

template <typename Rep, typename Period>
std::string FormatText(std::chrono::duration<Rep, Period> value) {
  return FormatText(absl::FromChrono(std::chrono::duration_cast<std::chrono::nanoseconds>(value)));
}

// Type-erased declaration of one option; owned by ConfigParser.
struct OptionEntry {
  std::string name;  // without leading dashes: "db-dsn"
  std::string env;   // "COFFER_DB_DSN"
  std::string description;
  std::string default_text;
  bool required = false;
  bool secret = false;
  bool is_bool = false;
  // Filled by CLI11 while parsing.
  std::string flag_text;
  bool flag_bool = false;
  // Where the effective value came from: "default", "flag" or "env".
  std::string source = "default";
  std::function<absl::Status(const std::string&)> assign;  // parse text into the target
  std::function<std::string()> current_text;               // format the target
  std::vector<std::function<absl::Status()>> validators;   // check the target
};

}  // namespace internal

// A validation rule for an option of type T: OK, or InvalidArgument saying what is expected
// ("must be between 1 and 65535"). Messages must not repeat the value (it may be secret).
template <typename T>
using Validator = std::function<absl::Status(const T&)>;

// Numeric range check, inclusive. Works for integers, doubles and durations.
template <typename T>
Validator<T> InRange(T min, T max) {
  return [min, max](const T& v) -> absl::Status {
    if (v < min || v > max) {
      return absl::InvalidArgumentError("must be between " + internal::FormatText(min) + " and " +
                                        internal::FormatText(max));
    }
    return absl::OkStatus();
  };
}

// The string must not be empty.
Validator<std::string> NonEmpty();

// The string must be one of `allowed`.
Validator<std::string> OneOf(std::vector<std::string> allowed);

// Returned by ConfigParser::Add to refine one option. Valid while the parser lives.
template <typename T>
class OptionBuilder {
 public:
  // Made by ConfigParser::Add.
  OptionBuilder(internal::OptionEntry* entry, T* target) : entry_(entry), target_(target) {}

  // The option must be set by flag or environment (a default does not count).
  OptionBuilder& Required() {
    entry_->required = true;
    return *this;
  }
  // The value is never printed: not in the reference, --help, errors or EffectiveValues().
  OptionBuilder& Secret() {
    entry_->secret = true;
    return *this;
  }
  // Adds a rule run on the effective value (from any source) after parsing.
  OptionBuilder& Validate(Validator<T> validator) {
    T* target = target_;
    entry_->validators.push_back([target, v = std::move(validator)] { return v(*target); });
    return *this;
  }

 private:
  internal::OptionEntry* entry_;
  T* target_;
};

// One option's effective value for startup logs. Secret values read "[redacted]".
struct EffectiveValue {
  std::string name;    // "db-dsn"
  std::string value;   // formatted value, or "[redacted]"
  std::string source;  // "default", "flag" or "env"
};

// Declares options once and fills them from argv and the environment. See the file comment.
class ConfigParser {
 public:
  // `program` is the binary name used in --help and --version lines; `description` heads
  // --help. Declares --version and --print-config-reference.
  ConfigParser(std::string program, std::string description);
  ~ConfigParser();
  ConfigParser(const ConfigParser&) = delete;
  ConfigParser& operator=(const ConfigParser&) = delete;

  // Declares `--<name>` / `COFFER_<NAME>` bound to `*target`, whose current value is the default.
  // `name` is lowercase words joined by '-', e.g. "db-dsn". Declaring a name twice is a bug.
  template <typename T>
  OptionBuilder<T> Add(std::string name, T* target, std::string description) {
    internal::OptionEntry* entry = NewEntry(std::move(name), std::move(description));
    entry->is_bool = std::is_same_v<T, bool>;
    entry->default_text = internal::FormatText(*target);
    entry->assign = [target](const std::string& text) { return internal::ParseText(text, target); };
    entry->current_text = [target] { return internal::FormatText(*target); };
    Bind(entry);
    return OptionBuilder<T>(entry, target);
  }

  // Parses flags, then the environment for options not given as flags, then checks required
  // options and validators. On error returns InvalidArgument naming the flag and env variable
  // ("--admin-port (from env COFFER_ADMIN_PORT): invalid value "x": expected an integer"); all
  // problems are reported at once, separated by "; ".
  // --help, --version and --print-config-reference print to `out`, skip validation and set
  // exit_requested().
  absl::Status Parse(int argc, const char* const* argv, std::ostream& out);
  // The same, printing to std::cout.
  absl::Status Parse(int argc, const char* const* argv);

  // For main(): Parse; on error prints it and "--help" hint to stderr and exits with code 2;
  // exits with 0 after --help, --version or --print-config-reference.
  void ParseOrExit(int argc, const char* const* argv);

  // True after Parse handled --help, --version or --print-config-reference: the caller should
  // exit successfully without starting anything.
  bool exit_requested() const { return exit_requested_; }

  // The markdown table printed by --print-config-reference (flag | env | default | description).
  std::string Reference() const;

  // Every option's effective value after Parse, in declaration order (secrets redacted).
  std::vector<EffectiveValue> EffectiveValues() const;

  // Replaces the process environment as the source of COFFER_* values (hermetic tests).
  void SetEnvironmentForTest(std::map<std::string, std::string> env);

 private:
  internal::OptionEntry* NewEntry(std::string name, std::string description);
  void Bind(internal::OptionEntry* entry);
  std::optional<std::string> LookupEnv(const std::string& name) const;

  std::string program_;
  std::unique_ptr<CLI::App> app_;
  std::vector<std::unique_ptr<internal::OptionEntry>> entries_;
  std::optional<std::map<std::string, std::string>> test_env_;
  bool version_flag_ = false;
  bool reference_flag_ = false;
  bool exit_requested_ = false;
};

}  // namespace coffer::config
