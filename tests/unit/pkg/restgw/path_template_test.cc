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

// Found by tests/fuzz/path_template (regress-multi-segment-encoded-slash): google.api.http
// leaves "%2F" as sent in a variable of several segments, so its '/'s are the path's own
// ("spaces/s%2F1/members/u2" must not read as "spaces/s/1/members/u2"); a single-segment
// variable decodes it.
TEST(PathTemplateTest, MultiSegmentVariableKeepsEncodedSlash) {
  PathTemplate members = MustParse("/v1/{name=spaces/*/members/*}");
  std::vector<PathBinding> b;
  ASSERT_TRUE(members.Match("/v1/spaces/s%2F1/members/u%2f2%20x", &b));
  EXPECT_EQ(b[0].value, "spaces/s%2F1/members/u%2f2 x");
  PathTemplate rest = MustParse("/files/{path=**}");
  ASSERT_TRUE(rest.Match("/files/a/b%2Fc/%252F", &b));
  EXPECT_EQ(b[0].value, "a/b%2Fc/%2F");
  PathTemplate single = MustParse("/v1/records/{id}");
  ASSERT_TRUE(single.Match("/v1/records/a%2Fb", &b));
  EXPECT_EQ(b[0].value, "a/b");
  EXPECT_FALSE(members.Match("/v1/spaces/s%2/members/u", &b));
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

TEST(PercentEncodeTest, EncodesAllButUnreservedAndRoundTrips) {
  EXPECT_EQ(http::PercentEncode("aZ09-._~ /%:?\xff"), "aZ09-._~%20%2F%25%3A%3F%FF");
  EXPECT_EQ(http::PercentEncode("a/b c", "/"), "a/b%20c");
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string out;
  ASSERT_TRUE(PercentDecode(http::PercentEncode(all), &out));
  EXPECT_EQ(out, all);
}

}  // namespace
}  // namespace coffer::restgw
