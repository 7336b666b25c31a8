#include "pkg/config/config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "pkg/version/version.h"

namespace coffer::config {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

// Markdown table cells: '|' would end the cell and a newline the row.
std::string MarkdownCell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string InvalidValue(const internal::OptionEntry& entry, const std::string& text) {
  if (entry.secret) return "invalid value";
  return "invalid value \"" + text + "\"";
}

// Names the option and where its value came from, for error messages.
std::string Where(const internal::OptionEntry& entry) {
  if (entry.source == "flag") return "--" + entry.name;
  if (entry.source == "env") return "env " + entry.env + " (--" + entry.name + ")";
  return "--" + entry.name + " (default)";
}

// --help text; recomputed before parsing because Secret()/Required() come after Add().
std::string HelpText(const internal::OptionEntry& entry) {
  std::string help = entry.description + " [env " + entry.env;
  if (entry.required) help += ", required";
  if (entry.secret) {
    help += ", secret";
  } else if (!entry.default_text.empty()) {
    help += ", default " + entry.default_text;
  }
  return help + "]";
}

}  // namespace

std::string EnvName(std::string_view flag_name) {
  while (!flag_name.empty() && flag_name.front() == '-') flag_name.remove_prefix(1);
  std::string env = "COFFER_";
  for (char c : flag_name) {
    env += (c == '-' || c == '.') ? '_'
                                  : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return env;
}

namespace internal {

absl::Status ParseText(const std::string& text, std::string* out) {
  *out = text;
  return absl::OkStatus();
}

absl::Status ParseText(const std::string& text, bool* out) {
  std::string v = Lower(Trim(text));
  if (v == "true" || v == "1" || v == "yes" || v == "on") {
    *out = true;
  } else if (v == "false" || v == "0" || v == "no" || v == "off") {
    *out = false;
  } else {
    return absl::InvalidArgumentError("expected true or false");
  }
  return absl::OkStatus();
}

absl::Status ParseText(const std::string& text, double* out) {
  std::string v = Trim(text);
  char* end = nullptr;
  double d = v.empty() ? 0 : std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(d)) {
    return absl::InvalidArgumentError("expected a number");
  }
  *out = d;
  return absl::OkStatus();
}

absl::Status ParseText(const std::string& text, absl::Duration* out) {
  absl::Duration d;
  if (!absl::ParseDuration(Trim(text), &d)) {
    return absl::InvalidArgumentError("expected a duration such as 10s, 250ms or 1h30m");
  }
  *out = d;
  return absl::OkStatus();
}

absl::Status ParseText(const std::string& text, std::vector<std::string>* out) {
  std::vector<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = Trim(item);
    if (!item.empty()) items.push_back(item);
  }
  *out = std::move(items);
  return absl::OkStatus();
}

absl::Status ParseSigned(const std::string& text, int64_t min, int64_t max, int64_t* out) {
  std::string v = Trim(text);
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
  if (v.empty() || ec == std::errc::invalid_argument || ptr != v.data() + v.size()) {
    return absl::InvalidArgumentError("expected an integer");
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    return absl::InvalidArgumentError("expected an integer between " + std::to_string(min) +
                                      " and " + std::to_string(max));
  }
  *out = value;
  return absl::OkStatus();
}

absl::Status ParseUnsigned(const std::string& text, uint64_t max, uint64_t* out) {
  std::string v = Trim(text);
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
  if (v.empty() || ec == std::errc::invalid_argument || ptr != v.data() + v.size()) {
    return absl::InvalidArgumentError("expected a non-negative integer");
  }
  if (ec == std::errc::result_out_of_range || value > max) {
    return absl::InvalidArgumentError("expected an integer between 0 and " + std::to_string(max));
  }
  *out = value;
  return absl::OkStatus();
}

std::string FormatText(const std::string& value) { return value; }
std::string FormatText(bool value) { return value ? "true" : "false"; }
std::string FormatText(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}
std::string FormatText(absl::Duration value) { return absl::FormatDuration(value); }
std::string FormatText(const std::vector<std::string>& value) {
  std::string out;
  for (const std::string& item : value) {
    if (!out.empty()) out += ',';
    out += item;
  }
  return out;
}

}  // namespace internal

Validator<std::string> NonEmpty() {
  return [](const std::string& v) -> absl::Status {
    if (v.empty()) return absl::InvalidArgumentError("must not be empty");
    return absl::OkStatus();
  };
}

Validator<std::string> OneOf(std::vector<std::string> allowed) {
  return [allowed = std::move(allowed)](const std::string& v) -> absl::Status {
    if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return absl::OkStatus();
    return absl::InvalidArgumentError("must be one of: " + internal::FormatText(allowed));
  };
}

ConfigParser::ConfigParser(std::string program, std::string description)
    : program_(std::move(program)),
      app_(std::make_unique<CLI::App>(std::move(description), program_)) {
  app_->add_flag("--version", version_flag_, "Print version, git commit and build date, then exit");
  app_->add_flag("--print-config-reference", reference_flag_,
                 "Print every option as a markdown table (flag | env | default | description)");
}

ConfigParser::~ConfigParser() = default;

internal::OptionEntry* ConfigParser::NewEntry(std::string name, std::string description) {
  while (!name.empty() && name.front() == '-') name.erase(0, 1);
  auto entry = std::make_unique<internal::OptionEntry>();
  entry->env = EnvName(name);
  entry->name = std::move(name);
  entry->description = std::move(description);
  entries_.push_back(std::move(entry));
  return entries_.back().get();
}

void ConfigParser::Bind(internal::OptionEntry* entry) {
  std::string help = HelpText(*entry);
  if (entry->is_bool) {
    app_->add_flag("--" + entry->name, entry->flag_bool, help);
  } else {
    app_->add_option("--" + entry->name, entry->flag_text, help);
  }
}

std::optional<std::string> ConfigParser::LookupEnv(const std::string& name) const {
  if (test_env_.has_value()) {
    auto it = test_env_->find(name);
    if (it == test_env_->end() || it->second.empty()) return std::nullopt;
    return it->second;
  }
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

void ConfigParser::SetEnvironmentForTest(std::map<std::string, std::string> env) {
  test_env_ = std::move(env);
}

absl::Status ConfigParser::Parse(int argc, const char* const* argv) {
  return Parse(argc, argv, std::cout);
}

absl::Status ConfigParser::Parse(int argc, const char* const* argv, std::ostream& out) {
  exit_requested_ = false;
  for (const auto& entry : entries_) {
    app_->get_option("--" + entry->name)->description(HelpText(*entry));
  }
  try {
    app_->parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app_->help();
    exit_requested_ = true;
    return absl::OkStatus();
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(e.what());
  }
  if (version_flag_) {
    out << coffer::version::VersionLine(program_) << "\n";
    exit_requested_ = true;
    return absl::OkStatus();
  }
  if (reference_flag_) {
    out << Reference();
    exit_requested_ = true;
    return absl::OkStatus();
  }

  std::vector<std::string> errors;
  for (const auto& entry : entries_) {
    std::optional<std::string> text;
    CLI::Option* option = app_->get_option("--" + entry->name);
    if (option->count() > 0) {
      entry->source = "flag";
      text = entry->is_bool ? internal::FormatText(entry->flag_bool) : entry->flag_text;
    } else if (std::optional<std::string> env = LookupEnv(entry->env)) {
      entry->source = "env";
      text = std::move(env);
    } else {
      entry->source = "default";
    }
    if (!text.has_value()) {
      if (entry->required) {
        errors.push_back("missing required option --" + entry->name + " (or env " + entry->env +
                         ")");
        continue;
      }
    } else if (absl::Status s = entry->assign(*text); !s.ok()) {
      errors.push_back(Where(*entry) + ": " + InvalidValue(*entry, *text) + ": " +
                       std::string(s.message()));
      continue;
    }
    for (const auto& validate : entry->validators) {
      if (absl::Status s = validate(); !s.ok()) {
        errors.push_back(Where(*entry) + ": " + std::string(s.message()));
        break;
      }
    }
  }
  if (errors.empty()) return absl::OkStatus();
  std::string message;
  for (const std::string& e : errors) {
    if (!message.empty()) message += "; ";
    message += e;
  }
  return absl::InvalidArgumentError(message);
}

void ConfigParser::ParseOrExit(int argc, const char* const* argv) {
  absl::Status status = Parse(argc, argv, std::cout);
  if (!status.ok()) {
    std::cerr << program_ << ": " << status.message() << "\nRun with --help for usage.\n";
    std::exit(2);
  }
  if (exit_requested_) {
    std::cout.flush();
    std::exit(0);
  }
}

std::string ConfigParser::Reference() const {
  std::string out =
      "| Flag | Environment | Default | Description |\n"
      "|------|-------------|---------|-------------|\n";
  for (const auto& entry : entries_) {
    std::string default_cell;
    if (entry->secret) {
      default_cell = "(secret)";
    } else if (entry->default_text.empty()) {
      default_cell = "(empty)";
    } else {
      default_cell = "`" + MarkdownCell(entry->default_text) + "`";
    }
    std::string description = MarkdownCell(entry->description);
    if (entry->required) description += " Required.";
    if (entry->secret) description += " Secret: never printed.";
    out += "| `--" + entry->name + "` | `" + entry->env + "` | " + default_cell + " | " +
           description + " |\n";
  }
  return out;
}

std::vector<EffectiveValue> ConfigParser::EffectiveValues() const {
  std::vector<EffectiveValue> values;
  for (const auto& entry : entries_) {
    values.push_back(
        {entry->name, entry->secret ? "[redacted]" : entry->current_text(), entry->source});
  }
  return values;
}

}  // namespace coffer::config
