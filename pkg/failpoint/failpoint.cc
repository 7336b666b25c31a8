#include "pkg/failpoint/failpoint.h"

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "pkg/log/log.h"

namespace coffer::failpoint {
namespace {

const std::string& Dir() {
  static const std::string dir = [] {
    const char* v = std::getenv("COFFER_FAILPOINT_DIR");
    return std::string(v == nullptr ? "" : v);
  }();
  return dir;
}

}  // namespace

bool Fire(std::string_view name) {
  const std::string& dir = Dir();
  if (dir.empty()) return false;
  std::error_code ec;
  // remove() is atomic: of two racing callers only one removes the file.
  return std::filesystem::remove(std::filesystem::path(dir) / std::string(name), ec) && !ec;
}

void CrashIfFired(std::string_view name) {
  if (!Fire(name)) return;
  log::Warn("failpoint fired: killing this process", {{"failpoint", std::string(name)}});
  raise(SIGKILL);
}

bool Arm(const std::string& dir, std::string_view name) {
  std::ofstream out(std::filesystem::path(dir) / std::string(name));
  return out.good();
}

}  // namespace coffer::failpoint
