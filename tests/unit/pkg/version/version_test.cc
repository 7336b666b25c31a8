#include "pkg/version/version.h"

#include <gtest/gtest.h>

#include <regex>

namespace coffer::version {
namespace {

TEST(Version, LineNamesProgramVersionCommitAndDate) {
  std::string line = VersionLine("coffer");
  EXPECT_TRUE(std::regex_match(
      line,
      std::regex(
          R"(coffer \d+\.\d+\.\d+ \(commit (?:[0-9a-f]{7,}|unknown), built \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\))")))
      << line;
  EXPECT_TRUE(
      std::regex_match(std::string(BuildDate()), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
}

}  // namespace
}  // namespace coffer::version
