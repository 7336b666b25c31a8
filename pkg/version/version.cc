#include "pkg/version/version.h"

namespace coffer::version {

std::string VersionLine(std::string_view program) {
  return std::string(program) + " " + std::string(Version()) + " (commit " +
         std::string(GitCommit()) + ", built " + std::string(BuildDate()) + ")";
}

}  // namespace coffer::version
