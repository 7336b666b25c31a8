#include "cli/output.h"

#include <gtest/gtest.h>

#include <sstream>

namespace coffer::cli {
namespace {

TEST(OutputTest, ParsesFormats) {
  EXPECT_EQ(ParseOutputFormat("table"), OutputFormat::kTable);
  EXPECT_EQ(ParseOutputFormat("json"), OutputFormat::kJson);
  EXPECT_EQ(ParseOutputFormat("JSON"), std::nullopt);
  EXPECT_EQ(ParseOutputFormat(""), std::nullopt);
}

TEST(OutputTest, TableAlignsColumnsAndTrimsTrailingSpaces) {
  Table table({"ID", "NAME", "X"});
  table.AddRow({"1", "short"});
  table.AddRow({"1234", "a longer name", "y"});
  EXPECT_EQ(table.Render(),
            "ID    NAME           X\n"
            "1     short\n"
            "1234  a longer name  y\n");
  EXPECT_EQ(table.rows(), 2u);
}

TEST(OutputTest, TableCountsUtf8CharactersNotBytes) {
  Table table({"A", "B"});
  table.AddRow({"ключ", "1"});
  table.AddRow({"abcdef", "2"});
  EXPECT_EQ(table.Render(),
            "A       B\n"
            "ключ    1\n"
            "abcdef  2\n");
  EXPECT_EQ(DisplayWidth("ключ"), 4u);
}

TEST(OutputTest, TableKeepsEachRowOnOneLine) {
  Table table({"NOTE"});
  table.AddRow({"line1\nline2\tend"});
  EXPECT_EQ(table.Render(), "NOTE\nline1\\nline2 end\n");
}

TEST(OutputTest, EmptyTablePrintsHeaderOnly) {
  EXPECT_EQ(Table({"ID", "NAME"}).Render(), "ID  NAME\n");
}

TEST(OutputTest, KeyValueListAligns) {
  KeyValueList list;
  list.Add("id", "abc");
  list.Add("password", "********");
  list.Add("url", "");
  EXPECT_EQ(list.Render(),
            "id:        abc\n"
            "password:  ********\n"
            "url:\n");
}

TEST(OutputTest, JsonIsSortedAndStable) {
  std::ostringstream out;
  WriteJson(out, nlohmann::json{{"b", 1}, {"a", "x"}});
  EXPECT_EQ(out.str(), "{\n  \"a\": \"x\",\n  \"b\": 1\n}\n");
}

}  // namespace
}  // namespace coffer::cli
