// google.api.http path templates ("/v1/records/{id}", "/v1/{name=spaces/*/members/**}",
// "/v1/records:search") compiled into a matcher.
//
// Why: the REST gateway derives its routes from the protos' annotations, so it must understand
// the same template grammar as protoc-gen-swagger / grpc-gateway:
//   Template = "/" Segments [ ":" Verb ] ;   Segments = Segment { "/" Segment } ;
//   Segment  = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ;   FieldPath = IDENT { "." IDENT } ;
// "{id}" is short for "{id=*}"; "**" (zero or more segments) may only be the last segment.
//
// Lifecycle/threading: an immutable value after Parse(); Match() is const and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/http/url.h"

namespace coffer::restgw {

// One variable bound while matching: the proto field path ("record.id" → {"record", "id"}) and
// its percent-decoded value (several segments are joined with '/'; in a multi-segment variable
// such as "{name=spaces/*}" or "{name=**}", "%2F" stays as sent, as google.api.http specifies).
struct PathBinding {
  std::vector<std::string> field_path;
  std::string value;
};

// One compiled template; a copyable value.
class PathTemplate {
 public:
  // Compiles `text`. INVALID_ARGUMENT names the problem (no leading '/', empty segment,
  // unbalanced braces, nested variables, "**" not last, bad field path, empty verb).
  static absl::StatusOr<PathTemplate> Parse(const std::string& text);

  // Matches a request path (percent-encoded, without the query string). On success fills
  // `bindings` (one per variable, in template order) and returns true.
  bool Match(std::string_view path, std::vector<PathBinding>* bindings) const;

  // The template as written in the proto.
  const std::string& text() const { return text_; }
  // The custom verb ("search" for "/v1/records:search"), or empty.
  const std::string& verb() const { return verb_; }
  // Variables' field paths in template order.
  std::vector<std::vector<std::string>> variable_paths() const;
  // Number of literal segments; routes with more literals are preferred when several match.
  int literal_count() const;

 private:
  enum class Kind { kLiteral, kSingle, kMulti };
  struct Segment {
    Kind kind;
    std::string literal;
  };
  struct Variable {
    std::vector<std::string> field_path;
    size_t begin = 0;  // first segment index
    size_t end = 0;    // one past the last segment index
  };

  PathTemplate() = default;

  std::string text_;
  std::string verb_;
  std::vector<Segment> segments_;
  std::vector<Variable> variables_;
};

// The decoder Match() applies to each path segment (pkg/http/url.h).
using http::PercentDecode;

}  // namespace coffer::restgw
