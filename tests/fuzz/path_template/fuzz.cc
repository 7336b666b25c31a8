// Fuzzes google.api.http path templates (pkg/restgw/path_template.h): PathTemplate::Parse on
// the template text and Match on request paths.
//
// Input (FuzzedDataProvider): the template text, then a request path (each a random-length
// string, ended by a backslash and another byte), then the values substituted into the template
// (the rest; "**" repeat counts from the input's end).
// Properties:
//   - Parse either succeeds or fails with INVALID_ARGUMENT; text() is the input;
//     literal_count() ≤ the number of segments, which is ≤ the number of '/' in the text.
//   - substitution round trip: for a template that parses, a path built from it (each literal as
//     written, each "*" a non-empty percent-encoded value, each "**" zero or more of them) matches,
//     and binds every variable, in template order, to exactly the values substituted for its
//     segments joined with '/'.
//   - Match on the random path: when it matches, every variable binds exactly the raw path
//     segments its template segments cover, decoded as google.api.http says: a single-segment
//     variable ("{id}", "{id=*}") binds the percent-decoding of one raw segment, and a
//     multi-segment one ("{name=spaces/*}", "{name=**}") the raw segments joined with '/', each
//     decoded except "%2F"/"%2f", which stay as sent — so a '/' in its value is always a segment
//     boundary of the path. (The issue asked for "never a '/' in a single-segment variable"; but
//     the spec has the server decode "%2F" in a single-segment variable — "a%2Fb" binds "a/b" —
//     and the gateway's tests rely on it. What holds is that no raw '/' is crossed.)
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "pkg/http/url.h"
#include "pkg/restgw/path_template.h"
#include "tests/fuzz/fuzz_check.h"

namespace coffer::fuzz {
namespace {

using restgw::PathBinding;
using restgw::PathTemplate;

// The template's structure, re-read from its text (Parse accepted it, so it is well formed):
// segments in order ("*", "**" or a literal) and, per variable, its segment range.
struct Shape {
  std::vector<std::string> segments;
  std::vector<std::pair<size_t, size_t>> variables;
  std::string verb;
};

std::vector<std::string> SplitSlash(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t slash = s.find('/', start);
    out.push_back(s.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) return out;
    start = slash + 1;
  }
}

Shape ShapeOf(const PathTemplate& t) {
  Shape shape;
  std::string body = t.text().substr(1);
  if (!t.verb().empty()) body.resize(body.size() - t.verb().size() - 1);
  size_t i = 0;
  while (i < body.size()) {
    if (body[i] == '{') {
      const size_t close = body.find('}', i);
      const std::string inner = body.substr(i + 1, close - i - 1);
      const size_t eq = inner.find('=');
      const size_t begin = shape.segments.size();
      for (std::string& seg : SplitSlash(eq == std::string::npos ? "*" : inner.substr(eq + 1))) {
        shape.segments.push_back(std::move(seg));
      }
      shape.variables.emplace_back(begin, shape.segments.size());
      i = close + 1;
    } else {
      const size_t slash = body.find('/', i);
      shape.segments.push_back(
          body.substr(i, slash == std::string::npos ? std::string::npos : slash - i));
      i = slash == std::string::npos ? body.size() : slash;
    }
    if (i < body.size()) ++i;  // the '/'
  }
  shape.verb = t.verb();
  return shape;
}

// A variable of more than one template segment, or of "**".
bool IsMultiSegment(const Shape& shape, size_t v) {
  const auto [begin, end] = shape.variables[v];
  return end - begin > 1 || shape.segments[begin] == "**";
}

// google.api.http's decoding of a multi-segment variable's segment: "%2F" and "%2f" stay.
bool DecodeKeepingSlash(const std::string& raw, std::string* out) {
  out->clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 2 < raw.size() && raw[i + 1] == '2' &&
        (raw[i + 2] == 'F' || raw[i + 2] == 'f')) {
      *out += raw.substr(i, 3);
      i += 2;
      continue;
    }
    std::string one;
    if (raw[i] == '%') {
      if (!http::PercentDecode(raw.substr(i, 3), &one)) return false;
      i += 2;
    } else {
      one.push_back(raw[i]);
    }
    *out += one;
  }
  return true;
}

// The round trip: a path built from the template with values from `in` binds those values.
void CheckSubstitution(const PathTemplate& t, const Shape& shape, FuzzedDataProvider& in) {
  // Template segments inside a multi-segment variable: their values cannot hold a '/' (the
  // client leaves '/' unencoded there, so it would be a segment boundary).
  std::vector<bool> in_multi(shape.segments.size(), false);
  for (size_t v = 0; v < shape.variables.size(); ++v) {
    if (!IsMultiSegment(shape, v)) continue;
    for (size_t s = shape.variables[v].first; s < shape.variables[v].second; ++s)
      in_multi[s] = true;
  }
  std::vector<std::string> decoded;  // per path segment
  std::vector<size_t> seg_begin;     // per template segment: first path segment
  std::string path;
  for (size_t s = 0; s < shape.segments.size(); ++s) {
    const std::string& seg = shape.segments[s];
    seg_begin.push_back(decoded.size());
    size_t count = 1;
    if (seg == "**") count = in.ConsumeIntegralInRange<size_t>(0, 3);
    for (size_t k = 0; k < count; ++k) {
      std::string value = seg == "*" || seg == "**" ? in.ConsumeRandomLengthString(16) : seg;
      if (in_multi[s] && (seg == "*" || seg == "**")) {
        std::replace(value.begin(), value.end(), '/', '_');
      }
      if (value.empty()) value = "x";  // "*" needs a non-empty segment
      path += "/" + (seg == "*" || seg == "**" ? http::PercentEncode(value) : value);
      decoded.push_back(std::move(value));
    }
  }
  seg_begin.push_back(decoded.size());
  if (path.empty()) path = "/";
  if (!shape.verb.empty()) path += ":" + shape.verb;
  // A literal is matched after decoding, so one holding '%' (a valid template, an unusable
  // path) or a verb only some paths can carry are not round-trip material.
  std::string literal_check;
  for (const std::string& seg : shape.segments) {
    if (seg != "*" && seg != "**" && !http::PercentDecode(seg, &literal_check)) return;
    if (seg != "*" && seg != "**" && literal_check != seg) return;
  }
  if (shape.verb.find('/') != std::string::npos) return;
  // A template of only "**" plus zero segments is the path "/", an empty segment.
  if (decoded.empty()) return;

  std::vector<PathBinding> bindings;
  FUZZ_CHECK(t.Match(path, &bindings));
  FUZZ_CHECK(bindings.size() == shape.variables.size());
  for (size_t v = 0; v < shape.variables.size(); ++v) {
    std::string want;
    for (size_t p = seg_begin[shape.variables[v].first]; p < seg_begin[shape.variables[v].second];
         ++p) {
      if (p > seg_begin[shape.variables[v].first]) want.push_back('/');
      want += decoded[p];
    }
    FUZZ_CHECK(bindings[v].value == want);
  }
}

// Match on an arbitrary path: bindings only ever cover whole raw segments.
void CheckRandomPath(const PathTemplate& t, const Shape& shape, const std::string& path) {
  std::vector<PathBinding> bindings;
  if (!t.Match(path, &bindings)) return;
  FUZZ_CHECK(bindings.size() == shape.variables.size());
  std::string rest = path.substr(1);
  if (!shape.verb.empty()) rest.resize(rest.size() - shape.verb.size() - 1);
  const std::vector<std::string> raw = SplitSlash(rest);
  for (size_t v = 0; v < shape.variables.size(); ++v) {
    auto [begin, end] = shape.variables[v];
    // A trailing "**" covers every remaining raw segment (maybe none).
    if (end == shape.segments.size() && shape.segments.back() == "**") end = raw.size();
    FUZZ_CHECK(end <= raw.size());
    const bool multi = IsMultiSegment(shape, v);
    std::string want;
    for (size_t p = begin; p < end; ++p) {
      std::string d;
      FUZZ_CHECK(multi ? DecodeKeepingSlash(raw[p], &d) : http::PercentDecode(raw[p], &d));
      if (p > begin) want.push_back('/');
      want += d;
    }
    FUZZ_CHECK(bindings[v].value == want);
    if (multi) {
      FUZZ_CHECK(static_cast<size_t>(std::count(want.begin(), want.end(), '/')) + 1 ==
                 std::max<size_t>(end - begin, 1));
    }
  }
}

}  // namespace
}  // namespace coffer::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using coffer::restgw::PathTemplate;
  FuzzedDataProvider in(data, size);
  const std::string text = in.ConsumeRandomLengthString(256);
  const std::string path = in.ConsumeRandomLengthString(512);
  absl::StatusOr<PathTemplate> t = PathTemplate::Parse(text);
  if (!t.ok()) {
    FUZZ_CHECK(t.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(t->text() == text);
  const coffer::fuzz::Shape shape = coffer::fuzz::ShapeOf(*t);
  FUZZ_CHECK(t->literal_count() >= 0);
  FUZZ_CHECK(static_cast<size_t>(t->literal_count()) <= shape.segments.size());
  FUZZ_CHECK(shape.segments.size() <=
             static_cast<size_t>(std::count(text.begin(), text.end(), '/')));
  FUZZ_CHECK(t->variable_paths().size() == shape.variables.size());
  coffer::fuzz::CheckRandomPath(*t, shape, path);
  coffer::fuzz::CheckSubstitution(*t, shape, in);
  return 0;
}
