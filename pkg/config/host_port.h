// "host:port" listen addresses of the services' flags (--admin-addr, --rest-addr, ...).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace coffer::config {

// Splits "host:port" at its last colon, or "[v6-address]:port" (the brackets are dropped, so
// "[::1]:0" gives {"::1", 0}), into a non-empty host and a decimal port 0..65535 (digits only).
// INVALID_ARGUMENT otherwise; the message names `flag` when given ("--admin-addr: expected
// host:port" for the shape, "--admin-addr: bad port" for the port), else "address must be
// host:port" (the shape) or "address must be host:port with a port 0..65535" (the port or an
// empty host).
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(std::string_view address,
                                                          std::string_view flag = {});

}  // namespace coffer::config
