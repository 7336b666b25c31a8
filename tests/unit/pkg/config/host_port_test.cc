// config::SplitHostPort: the addresses the services listen on, and the two message forms (with
// and without the flag's name) that coffer-vault and coffer-identity print for a bad one.
#include "pkg/config/host_port.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "absl/status/status.h"

namespace coffer::config {
namespace {

std::pair<std::string, int> HostPort(const std::string& host, int port) { return {host, port}; }

TEST(SplitHostPortTest, SplitsAtTheLastColon) {
  EXPECT_EQ(*SplitHostPort("127.0.0.1:7002"), HostPort("127.0.0.1", 7002));
  EXPECT_EQ(*SplitHostPort("0.0.0.0:0"), HostPort("0.0.0.0", 0));
  EXPECT_EQ(*SplitHostPort("localhost:65535"), HostPort("localhost", 65535));
  EXPECT_EQ(*SplitHostPort("::1:80"), HostPort("::1", 80));
}

TEST(SplitHostPortTest, DropsTheBracketsOfAnIpv6Address) {
  EXPECT_EQ(*SplitHostPort("[::1]:0"), HostPort("::1", 0));
  EXPECT_EQ(*SplitHostPort("[fe80::1]:9090", "admin-addr"), HostPort("fe80::1", 9090));
}

TEST(SplitHostPortTest, RefusesAnAddressWithoutHostAndPort) {
  for (const char* bad : {"", "nohost", "[::1]", "[::1]80", "[::1"}) {
    absl::StatusOr<std::pair<std::string, int>> split = SplitHostPort(bad);
    ASSERT_FALSE(split.ok()) << bad;
    EXPECT_EQ(split.status(), absl::InvalidArgumentError("address must be host:port")) << bad;
  }
}

TEST(SplitHostPortTest, RefusesAPortOutOfRangeOrNotDecimalAndAnEmptyHost) {
  for (const char* bad :
       {"h:99999", "h:65536", "h:-1", "h:", "h:80x", "h: 80", "h:+80", ":80", "[]:80"}) {
    absl::StatusOr<std::pair<std::string, int>> split = SplitHostPort(bad);
    ASSERT_FALSE(split.ok()) << bad;
    EXPECT_EQ(split.status(),
              absl::InvalidArgumentError("address must be host:port with a port 0..65535"))
        << bad;
  }
}

TEST(SplitHostPortTest, NamesTheFlagWhenGiven) {
  EXPECT_EQ(SplitHostPort("nohost", "admin-addr").status(),
            absl::InvalidArgumentError("--admin-addr: expected host:port"));
  EXPECT_EQ(SplitHostPort(":80", "rest-addr").status(),
            absl::InvalidArgumentError("--rest-addr: expected host:port"));
  EXPECT_EQ(SplitHostPort("h:99999", "admin-addr").status(),
            absl::InvalidArgumentError("--admin-addr: bad port"));
  EXPECT_EQ(SplitHostPort("h:", "admin-addr").status(),
            absl::InvalidArgumentError("--admin-addr: bad port"));
  EXPECT_EQ(*SplitHostPort("127.0.0.1:8081", "admin-addr"), HostPort("127.0.0.1", 8081));
}

}  // namespace
}  // namespace coffer::config
