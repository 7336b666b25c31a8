#include "cli/output.h"

#include <algorithm>

namespace coffer::cli {
namespace {

std::string OneLine(const std::string& cell) {
  std::string out;
  out.reserve(cell.size());
  for (char c : cell) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

void RenderRow(const std::vector<std::string>& cells, const std::vector<size_t>& widths,
               std::string& out) {
  std::string line;
  for (size_t i = 0; i < widths.size(); ++i) {
    std::string cell = i < cells.size() ? cells[i] : "";
    line += cell;
    if (i + 1 < widths.size()) line.append(widths[i] - DisplayWidth(cell) + 2, ' ');
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  out += line;
  out += '\n';
}

}  // namespace

std::optional<OutputFormat> ParseOutputFormat(const std::string& text) {
  if (text == "table") return OutputFormat::kTable;
  if (text == "json") return OutputFormat::kJson;
  return std::nullopt;
}

size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++width;  // count lead bytes only
  }
  return width;
}

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (auto& cell : cells) cell = OneLine(cell);
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> widths(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) widths[i] = DisplayWidth(headers_[i]);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  std::string out;
  RenderRow(headers_, widths, out);
  for (const auto& row : rows_) RenderRow(row, widths, out);
  return out;
}

void KeyValueList::Add(std::string key, const std::string& value) {
  items_.emplace_back(std::move(key), OneLine(value));
}

std::string KeyValueList::Render() const {
  size_t width = 0;
  for (const auto& [key, value] : items_) width = std::max(width, DisplayWidth(key));
  std::string out;
  for (const auto& [key, value] : items_) {
    std::string line = key + ":";
    if (!value.empty()) {
      line.append(width - DisplayWidth(key) + 2, ' ');
      line += value;
    }
    out += line;
    out += '\n';
  }
  return out;
}

void WriteJson(std::ostream& out, const nlohmann::json& value) {
  // nlohmann::json objects are std::map-backed, so keys come out sorted: stable for diffs.
  out << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

}  // namespace coffer::cli
