// URL pieces every HTTP listener needs: percent-decoding and query strings (RFC 3986, with the
// form-encoding rule that '+' in a query is a space).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coffer::http {

// Percent-decodes `in` ("%2F" → "/"; '+' is kept). False on a malformed escape.
bool PercentDecode(std::string_view in, std::string* out);

// Percent-encodes every byte except RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) and
// those in `keep` (e.g. "/" for a multi-segment path variable), with uppercase hex;
// PercentDecode undoes it.
std::string PercentEncode(std::string_view in, std::string_view keep = {});

// Decodes one application/x-www-form-urlencoded component ('+' is a space); a malformed escape
// leaves the text as is.
std::string FormDecode(std::string_view in);

// Splits "a=1&b=x%20y" into decoded pairs ('+' is a space). Malformed escapes are kept as is.
std::vector<std::pair<std::string, std::string>> ParseQueryString(std::string_view query);

}  // namespace coffer::http
