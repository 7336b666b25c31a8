// ParseBearer: the one parser of `authorization: Bearer <token>` (RFC 6750 §2.1) for every
// service, over gRPC metadata and HTTP headers alike.
//
// The scheme name is matched case-insensitively (RFC 7235 §2.1: "Bearer", "bearer", "BEARER"),
// must be followed by a space, and spaces around the token are ignored. The token itself is not
// checked here (TokenVerifier does that).
//
// Threading: a pure function.
#pragma once

#include <string_view>

namespace coffer::auth {

// The token of an authorization header or metadata value, a view into `authorization`; empty
// when the value is empty, uses another scheme (e.g. "Basic ..."), or carries no token.
std::string_view ParseBearer(std::string_view authorization);

}  // namespace coffer::auth
