// ReadPositions (cli/read_positions.h): the last session token per space, on disk, bounded, and
// never a reason for a command to fail.
#include "cli/read_positions.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace coffer::cli {
namespace {

class ReadPositionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/coffer-positions-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void WriteFile(const std::string& text) { std::ofstream(dir_ + "/positions.json") << text; }

  std::string dir_;
};

TEST_F(ReadPositionsTest, RemembersTheLastTokenPerSpaceUnderBothNames) {
  ReadPositions positions(dir_);
  EXPECT_EQ(positions.For(""), "");
  positions.Remember("", "space-1", "s1.5.space-1.a");
  positions.Remember("space-2", "space-2", "s1.6.space-2.a");
  positions.Remember("", "space-1", "s1.7.space-1.a");
  positions.Remember("", "space-1", "");  // a write without a token changes nothing
  EXPECT_EQ(positions.For(""), "s1.7.space-1.a");
  EXPECT_EQ(positions.For("space-1"), "s1.7.space-1.a");
  EXPECT_EQ(positions.For("space-2"), "s1.6.space-2.a");
  struct stat st {};
  ASSERT_EQ(::stat(positions.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ReadPositionsTest, KeepsTheNewestSpacesOnly) {
  ReadPositions positions(dir_);
  for (int i = 0; i < 100; ++i) {
    const std::string space = "space-" + std::to_string(i);
    positions.Remember(space, space, "s1." + std::to_string(i + 1) + "." + space + ".a");
  }
  EXPECT_EQ(positions.For("space-0"), "");
  EXPECT_EQ(positions.For("space-35"), "");
  EXPECT_EQ(positions.For("space-36"), "s1.37.space-36.a");
  EXPECT_EQ(positions.For("space-99"), "s1.100.space-99.a");
}

TEST_F(ReadPositionsTest, ADamagedFileIsIgnoredAndReplaced) {
  ReadPositions positions(dir_);
  for (const std::string& damaged :
       {std::string("{not json"), std::string("[]"), std::string(R"({"spaces":[]})"),
        std::string(R"({"spaces":{"a":{"token":7}},"counter":"x"})"),
        std::string(R"({"spaces":{"a":5,"b":"x"},"counter":1})")}) {
    WriteFile(damaged);
    EXPECT_EQ(positions.For("a"), "") << damaged;
    positions.Remember("a", "a", "s1.1.a.a");
    EXPECT_EQ(positions.For("a"), "s1.1.a.a") << damaged;
  }
  // Entries that are not objects do not break the bound either.
  std::string many = R"({"counter":1,"spaces":{)";
  for (int i = 0; i < 70; ++i)
    many += (i ? "," : "") + std::string("\"x") + std::to_string(i) + "\":1";
  WriteFile(many + "}}");
  positions.Remember("b", "b", "s1.2.b.a");
  EXPECT_EQ(positions.For("b"), "s1.2.b.a");
}

}  // namespace
}  // namespace coffer::cli
