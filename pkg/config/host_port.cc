#include "pkg/config/host_port.h"

#include <charconv>
#include <system_error>

#include "absl/status/status.h"

namespace coffer::config {
namespace {

enum class Fault { kShape, kEmptyHost, kPort };

absl::Status Refuse(Fault fault, std::string_view flag) {
  if (!flag.empty()) {
    return absl::InvalidArgumentError(
        "--" + std::string(flag) + (fault == Fault::kPort ? ": bad port" : ": expected host:port"));
  }
  return absl::InvalidArgumentError(fault == Fault::kShape
                                        ? "address must be host:port"
                                        : "address must be host:port with a port 0..65535");
}

}  // namespace

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(std::string_view address,
                                                          std::string_view flag) {
  std::string_view host;
  std::string_view port_text;
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return Refuse(Fault::kShape, flag);
    }
    host = address.substr(1, close - 1);
    port_text = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) return Refuse(Fault::kShape, flag);
    host = address.substr(0, colon);
    port_text = address.substr(colon + 1);
  }
  if (host.empty()) return Refuse(Fault::kEmptyHost, flag);
  int port = -1;
  const char* end = port_text.data() + port_text.size();
  auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (ec != std::errc() || ptr != end || port < 0 || port > 65535) {
    return Refuse(Fault::kPort, flag);
  }
  return std::make_pair(std::string(host), port);
}

}  // namespace coffer::config
