#include "pkg/restgw/path_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace coffer::restgw {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

PathTemplate MustParse(const std::string& text) {
  absl::StatusOr<PathTemplate> t = PathTemplate::Parse(text);
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
}

TEST(PathTemplateTest, LiteralOnly) {
  PathTemplate t = MustParse("/v1/records");
  std::vector<PathBinding> b;
  EXPECT_TRUE(t.Match("/v1/records", &b));
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(t.Match("/v1/records/", &b));
  EXPECT_FALSE(t.Match("/v1/record", &b));
  EXPECT_FALSE(t.Match("/v1/records/x", &b));
  EXPECT_FALSE(t.Match("v1/records", &b));
  EXPECT_EQ(t.literal_count(), 2);
  EXPECT_EQ(t.verb(), "");
}

TEST(PathTemplateTest, SimpleVariablesArePercentDecoded) {
  PathTemplate t = MustParse("/v1/records/{id}/versions/{version}");
  std::vector<PathBinding> b;
  ASSERT_TRUE(t.Match("/v1/records/a%2Fb%20c/versions/7", &b));
  ASSERT_EQ(b.size(), 2u);
  EXPECT_THAT(b[0].field_path, ElementsAre("id"));
  EXPECT_EQ(b[0].value, "a/b c");
  EXPECT_THAT(b[1].field_path, ElementsAre("version"));
  EXPECT_EQ(b[1].value, "7");
  EXPECT_FALSE(t.Match("/v1/records//versions/7", &b));  // '*' needs a non-empty segment
  EXPECT_FALSE(t.Match("/v1/records/%zz/versions/7", &b));
}

TEST(PathTemplateTest, NestedFieldPath) {
  PathTemplate t = MustParse("/v1/records/{record.id}");
  std::vector<PathBinding> b;
  ASSERT_TRUE(t.Match("/v1/records/r1", &b));
  EXPECT_THAT(b[0].field_path, ElementsAre("record", "id"));
  EXPECT_EQ(b[0].value, "r1");
}

TEST(PathTemplateTest, CustomVerb) {
  PathTemplate search = MustParse("/v1/records:search");
  PathTemplate undelete = MustParse("/v1/records/{id}:undelete");
  EXPECT_EQ(search.verb(), "search");
  EXPECT_EQ(undelete.verb(), "undelete");
  std::vector<PathBinding> b;
  EXPECT_TRUE(search.Match("/v1/records:search", &b));
  EXPECT_FALSE(search.Match("/v1/records", &b));
  EXPECT_FALSE(search.Match("/v1/records:searchx", &b));
  ASSERT_TRUE(undelete.Match("/v1/records/abc:undelete", &b));
  EXPECT_EQ(b[0].value, "abc");
  EXPECT_FALSE(undelete.Match("/v1/records/abc", &b));
  EXPECT_FALSE(undelete.Match("/v1/records/:undelete", &b));
}

TEST(PathTemplateTest, SegmentsInsideVariable) {
  PathTemplate t = MustParse("/v1/{name=spaces/*/members/*}");
  std::vector<PathBinding> b;
  ASSERT_TRUE(t.Match("/v1/spaces/s1/members/u2", &b));
  EXPECT_EQ(b[0].value, "spaces/s1/members/u2");
  EXPECT_FALSE(t.Match("/v1/spaces/s1/users/u2", &b));
  EXPECT_EQ(t.literal_count(), 3);
}

TEST(PathTemplateTest, DoubleWildcardTakesTheRest) {
  PathTemplate t = MustParse("/v1/{name=shelves/*/books/**}:get");
  std::vector<PathBinding> b;
  ASSERT_TRUE(t.Match("/v1/shelves/a/books/x/y/z:get", &b));
  EXPECT_EQ(b[0].value, "shelves/a/books/x/y/z");
  ASSERT_TRUE(t.Match("/v1/shelves/a/books:get", &b));  // "**" matches zero segments
  EXPECT_EQ(b[0].value, "shelves/a/books");
  EXPECT_FALSE(t.Match("/v1/shelves/a/books/x//y:get", &b));
}

TEST(PathTemplateTest, RejectsMalformedTemplates) {
  struct Case {
    std::string text;
    std::string why;
  };
  for (const Case& c : std::vector<Case>{{"v1/records", "must start with '/'"},
                                         {"/v1/{id", "unbalanced '{'"},
                                         {"/v1/id}", "unbalanced '}'"},
                                         {"/v1/{a={b}}", "nested"},
                                         {"/v1//x", "empty segment"},
                                         {"/v1/x/", "empty segment"},
                                         {"/v1/**/x", "'**' must be the last"},
                                         {"/v1/{1id}", "bad field path"},
                                         {"/v1/{a..b}", "bad field path"},
                                         {"/v1/x:", "empty verb"},
                                         {"/v1/{id}x", "expected '/'"}}) {
    absl::StatusOr<PathTemplate> t = PathTemplate::Parse(c.text);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(c.why)) << c.text;
  }
}

TEST(PercentDecodeTest, DecodesAndRejectsBadEscapes) {
  std::string out;
  EXPECT_TRUE(PercentDecode("a%20b%2fc+d", &out));
  EXPECT_EQ(out, "a b/c+d");
  EXPECT_FALSE(PercentDecode("abc%2", &out));
  EXPECT_FALSE(PercentDecode("abc%g0", &out));
}

}  // namespace
}  // namespace coffer::restgw
