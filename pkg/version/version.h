// Build information every binary prints for `--version` and exports as `coffer_build_info`.
#pragma once

#include <string>
#include <string_view>

namespace coffer::version {

// Semantic version of the project, e.g. "0.1.0".
std::string_view Version();
// Short git commit the binary was configured from, or "unknown" outside a checkout.
std::string_view GitCommit();
// UTC build (configure) date in ISO 8601, e.g. "2026-11-22T03:30:00Z".
std::string_view BuildDate();

// One line for `--version`: "<program> 0.1.0 (commit abc123, built 2026-11-22T03:30:00Z)".
std::string VersionLine(std::string_view program);

}  // namespace coffer::version
