#include "pkg/restgw/path_template.h"

#include <fmt/format.h>

#include "absl/status/status.h"

namespace coffer::restgw {
namespace {

bool IsIdent(std::string_view s) {
  if (s.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  for (char c : s) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// Percent-decodes a segment of a multi-segment variable: google.api.http leaves "%2F" and
// "%2f" as sent there, so a '/' in the value is always a segment boundary of the path.
bool DecodeKeepingSlash(std::string_view raw, std::string* out) {
  out->clear();
  size_t start = 0;
  std::string part;
  while (start <= raw.size()) {
    size_t slash = std::string_view::npos;
    for (size_t i = start; i + 2 < raw.size(); ++i) {
      if (raw[i] == '%' && raw[i + 1] == '2' && (raw[i + 2] == 'F' || raw[i + 2] == 'f')) {
        slash = i;
        break;
      }
    }
    if (!PercentDecode(raw.substr(start, slash == std::string_view::npos ? slash : slash - start),
                       &part)) {
      return false;
    }
    *out += part;
    if (slash == std::string_view::npos) break;
    out->append(raw.substr(slash, 3));
    start = slash + 3;
  }
  return true;
}

}  // namespace

absl::StatusOr<PathTemplate> PathTemplate::Parse(const std::string& text) {
  auto bad = [&text](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("path template '{}': {}", text, why));
  };
  if (text.empty() || text[0] != '/') return bad("must start with '/'");

  // The verb is the text after the last ':' outside braces that follows the last '/'.
  int depth = 0;
  size_t last_slash = 0;
  size_t last_colon = std::string::npos;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{') {
      if (++depth > 1) return bad("nested variables");
    } else if (c == '}') {
      if (--depth < 0) return bad("unbalanced '}'");
    } else if (depth == 0 && c == '/') {
      last_slash = i;
    } else if (depth == 0 && c == ':') {
      last_colon = i;
    }
  }
  if (depth != 0) return bad("unbalanced '{'");

  PathTemplate t;
  t.text_ = text;
  std::string_view body(text);
  if (last_colon != std::string::npos && last_colon > last_slash) {
    t.verb_ = text.substr(last_colon + 1);
    if (t.verb_.empty()) return bad("empty verb");
    body = body.substr(0, last_colon);
  }
  body.remove_prefix(1);  // leading '/'

  auto add_segment = [&](std::string_view seg) -> absl::Status {
    if (seg.empty()) return bad("empty segment");
    if (!t.segments_.empty() && t.segments_.back().kind == Kind::kMulti) {
      return bad("'**' must be the last segment");
    }
    if (seg == "*") {
      t.segments_.push_back({Kind::kSingle, ""});
    } else if (seg == "**") {
      t.segments_.push_back({Kind::kMulti, ""});
    } else {
      if (seg.find_first_of("{}=*") != std::string_view::npos) {
        return bad(fmt::format("bad literal segment '{}'", seg));
      }
      t.segments_.push_back({Kind::kLiteral, std::string(seg)});
    }
    return absl::OkStatus();
  };

  size_t i = 0;
  while (true) {
    if (i < body.size() && body[i] == '{') {
      size_t close = body.find('}', i);
      std::string_view inner = body.substr(i + 1, close - i - 1);
      std::string_view path = inner;
      std::string_view sub = "*";
      if (size_t eq = inner.find('='); eq != std::string_view::npos) {
        path = inner.substr(0, eq);
        sub = inner.substr(eq + 1);
      }
      Variable var;
      for (std::string_view part : Split(path, '.')) {
        if (!IsIdent(part)) return bad(fmt::format("bad field path '{}'", path));
        var.field_path.emplace_back(part);
      }
      var.begin = t.segments_.size();
      for (std::string_view seg : Split(sub, '/')) {
        if (absl::Status s = add_segment(seg); !s.ok()) return s;
      }
      var.end = t.segments_.size();
      t.variables_.push_back(std::move(var));
      i = close + 1;
    } else {
      size_t next = body.find('/', i);
      std::string_view seg =
          body.substr(i, next == std::string_view::npos ? std::string_view::npos : next - i);
      if (absl::Status s = add_segment(seg); !s.ok()) return s;
      i = next == std::string_view::npos ? body.size() : next;
    }
    if (i >= body.size()) break;
    if (body[i] != '/') return bad("expected '/' after a variable");
    ++i;
    if (i >= body.size()) return bad("empty segment");
  }
  return t;
}

bool PathTemplate::Match(std::string_view path, std::vector<PathBinding>* bindings) const {
  if (path.empty() || path[0] != '/') return false;
  path.remove_prefix(1);
  if (!verb_.empty()) {
    if (path.size() <= verb_.size() + 1 || path[path.size() - verb_.size() - 1] != ':' ||
        path.substr(path.size() - verb_.size()) != verb_) {
      return false;
    }
    path = path.substr(0, path.size() - verb_.size() - 1);
  }
  std::vector<std::string_view> raw = Split(path, '/');
  bool multi = !segments_.empty() && segments_.back().kind == Kind::kMulti;
  size_t fixed = multi ? segments_.size() - 1 : segments_.size();
  if (multi ? raw.size() < fixed : raw.size() != fixed) return false;

  std::vector<std::string> decoded(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (!PercentDecode(raw[i], &decoded[i])) return false;
  }
  for (size_t i = 0; i < fixed; ++i) {
    const Segment& seg = segments_[i];
    if (seg.kind == Kind::kLiteral ? decoded[i] != seg.literal : raw[i].empty()) return false;
  }
  if (multi) {
    for (size_t i = fixed; i < raw.size(); ++i) {
      if (raw[i].empty()) return false;
    }
  }

  bindings->clear();
  for (const Variable& var : variables_) {
    size_t end = (multi && var.end == segments_.size()) ? raw.size() : var.end;
    // "{id}" binds its segment fully decoded ("a%2Fb" → "a/b"); "{name=spaces/*}" and
    // "{name=**}" keep "%2F" (google.api.http), so their '/'s are the path's own.
    const bool multi_segment = var.end - var.begin > 1 || segments_[var.begin].kind == Kind::kMulti;
    std::string value;
    std::string segment;
    for (size_t i = var.begin; i < end; ++i) {
      if (i > var.begin) value.push_back('/');
      if (multi_segment) {
        if (!DecodeKeepingSlash(raw[i], &segment)) return false;
        value += segment;
      } else {
        value += decoded[i];
      }
    }
    bindings->push_back({var.field_path, std::move(value)});
  }
  return true;
}

std::vector<std::vector<std::string>> PathTemplate::variable_paths() const {
  std::vector<std::vector<std::string>> out;
  for (const Variable& var : variables_) out.push_back(var.field_path);
  return out;
}

int PathTemplate::literal_count() const {
  int n = 0;
  for (const Segment& seg : segments_) n += seg.kind == Kind::kLiteral ? 1 : 0;
  return n;
}

}  // namespace coffer::restgw
