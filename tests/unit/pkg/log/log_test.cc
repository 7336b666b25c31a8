#include "pkg/log/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

namespace coffer::log {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Captures every line the process-wide logger writes during one test.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Init({.service = "vault", .level = Level::kDebug},
         std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
  }
  void TearDown() override { Init({}); }

  // Every captured line parsed as JSON (fails the test on a line that is not).
  std::vector<nlohmann::json> Lines() {
    std::vector<nlohmann::json> lines;
    std::istringstream in(out_.str());
    std::string line;
    while (std::getline(in, line)) {
      auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << line;
      lines.push_back(parsed);
    }
    return lines;
  }

  std::ostringstream out_;
};

TEST_F(LogTest, EachLineIsOneJsonObjectWithEnvelopeAndFields) {
  Logger logger("records");
  logger.Info("record written", {{"space_id", "s-1"},
                                 {"version", 7},
                                 {"bytes", size_t{12}},
                                 {"merged", true},
                                 {"ratio", 0.5}});
  logger.Warn("quote \" and newline \n and bad utf8 \xff", {{"error", absl::NotFoundError("x")}});
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  const nlohmann::json& l = lines[0];
  EXPECT_EQ(l["level"], "info");
  EXPECT_EQ(l["service"], "vault");
  EXPECT_EQ(l["logger"], "records");
  EXPECT_EQ(l["msg"], "record written");
  EXPECT_EQ(l["space_id"], "s-1");
  EXPECT_EQ(l["version"], 7);
  EXPECT_EQ(l["bytes"], 12);
  EXPECT_EQ(l["merged"], true);
  EXPECT_EQ(l["ratio"], 0.5);
  EXPECT_TRUE(std::regex_match(l["ts"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << l["ts"];
  EXPECT_FALSE(l.contains("request_id"));
  EXPECT_EQ(lines[1]["level"], "warn");
  EXPECT_EQ(lines[1]["error"], "NOT_FOUND: x");
  EXPECT_THAT(lines[1]["msg"].get<std::string>(), HasSubstr("quote \" and newline \n"));
}

TEST_F(LogTest, LevelFiltersLines) {
  SetLevel(Level::kWarn);
  Info("hidden");
  Debug("hidden");
  Error("shown");
  EXPECT_FALSE(Logger().Enabled(Level::kInfo));
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["msg"], "shown");
  EXPECT_EQ(lines[0]["level"], "error");
}

TEST_F(LogTest, FieldsCannotOverwriteEnvelope) {
  Info("real", {{"msg", "fake"}, {"level", "fake"}});
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["msg"], "real");
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["field.msg"], "fake");
}

TEST_F(LogTest, RequestIdCarriedInsideScopeAndRestoredAfter) {
  Info("before");
  {
    ScopedRequestId outer("req-outer");
    Info("in outer");
    {
      ScopedRequestId inner;  // none sent by the caller: generated
      EXPECT_TRUE(std::regex_match(inner.id(), std::regex("[0-9a-f]{32}"))) << inner.id();
      EXPECT_EQ(CurrentRequestId(), inner.id());
      Info("in inner");
    }
    // Another thread has its own context.
    std::thread([] { Info("other thread"); }).join();
    Info("back in outer");
  }
  Info("after");
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_FALSE(lines[0].contains("request_id"));
  EXPECT_EQ(lines[1]["request_id"], "req-outer");
  EXPECT_EQ(lines[2]["request_id"].get<std::string>().size(), 32u);
  EXPECT_FALSE(lines[3].contains("request_id"));
  EXPECT_EQ(lines[4]["request_id"], "req-outer");
  EXPECT_FALSE(lines[5].contains("request_id"));
  EXPECT_EQ(CurrentRequestId(), "");
}

TEST(RequestId, GeneratedIdsDiffer) { EXPECT_NE(NewRequestId(), NewRequestId()); }

TEST_F(LogTest, SecretLookingKeysAreRedacted) {
  Info("login", {{"user", "alice"},
                 {"password", "hunter2"},
                 {"Access_Token", "eyJhbGci"},
                 {"db_dsn", "host=db password=pw"},
                 {"api_key", "k-123"},
                 {"key_id", "kek-2024"},
                 {"attempts", 3}});
  std::string raw = out_.str();
  for (const char* secret : {"hunter2", "eyJhbGci", "password=pw", "k-123"}) {
    EXPECT_THAT(raw, Not(HasSubstr(secret)));
  }
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["user"], "alice");
  EXPECT_EQ(lines[0]["password"], "[redacted]");
  EXPECT_EQ(lines[0]["Access_Token"], "[redacted]");
  EXPECT_EQ(lines[0]["db_dsn"], "[redacted]");
  EXPECT_EQ(lines[0]["api_key"], "[redacted]");
  EXPECT_EQ(lines[0]["key_id"], "kek-2024");
  EXPECT_EQ(lines[0]["attempts"], 3);
}

TEST(Redact, HelperMatchesKeyRules) {
  EXPECT_EQ(Redact("client_secret", "abc"), "[redacted]");
  EXPECT_EQ(Redact("refresh_token", "abc"), "[redacted]");
  EXPECT_EQ(Redact("pin", "1234"), "[redacted]");
  EXPECT_EQ(Redact("record_id", "r-1"), "r-1");
  EXPECT_EQ(Redact("kid", "k1"), "k1");
  EXPECT_FALSE(IsSecretKey("method"));
  EXPECT_TRUE(IsSecretKey("Authorization"));
}

TEST(ParseLevel, AcceptsNamesAndRejectsOthers) {
  EXPECT_EQ(*ParseLevel("DEBUG"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("warning"), Level::kWarn);
  EXPECT_EQ(ParseLevel("loud").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LevelName(Level::kError), "error");
}

}  // namespace
}  // namespace coffer::log
