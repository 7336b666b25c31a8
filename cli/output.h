// Output helpers of the `coffer` CLI: aligned text tables for people, stable JSON for scripts.
//
// Why separate: rendering is pure, so unit tests pin the exact text and JSON without servers.
// Types here are plain values; not thread-safe, used by one command at a time.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace coffer::cli {

// How a command prints its result (`--output table|json`).
enum class OutputFormat { kTable, kJson };

// Parses "table" or "json" (case-sensitive); nullopt otherwise.
std::optional<OutputFormat> ParseOutputFormat(const std::string& text);

// A text table: a header row and data rows, columns padded to the widest cell (UTF-8 aware),
// separated by two spaces, trailing spaces trimmed. Cells containing newlines are shown with
// "\n" escaped so one row is always one line.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);

  // Adds a row; missing cells are empty, extra cells are dropped.
  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }

  // The rendered table, each line ending in '\n'. With no rows only the header is printed.
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// A two-column "FIELD  VALUE" listing (for `coffer get`), rendered without a header.
class KeyValueList {
 public:
  // Adds one line; lines keep the order they were added in.
  void Add(std::string key, const std::string& value);
  // One "key:  value" line per item, the values aligned after the widest key.
  std::string Render() const;

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Number of terminal columns `text` takes (counts UTF-8 code points, not bytes).
size_t DisplayWidth(const std::string& text);

// Writes `value` as pretty JSON (2-space indent, keys sorted, UTF-8) followed by a newline.
void WriteJson(std::ostream& out, const nlohmann::json& value);

}  // namespace coffer::cli
