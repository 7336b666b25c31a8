// WithSessionSettings: keepalives and server settings are added to both DSN forms, and whatever
// the DSN (or PGOPTIONS) already says wins. Checked through libpq's own parser.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <map>
#include <string>

#include "pkg/postgres/dsn.h"

namespace coffer::postgres {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// The parameters libpq reads from `dsn`.
std::map<std::string, std::string> Parsed(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  EXPECT_NE(options, nullptr) << (error != nullptr ? error : "") << " in " << dsn;
  std::map<std::string, std::string> out;
  if (options == nullptr) {
    if (error != nullptr) PQfreemem(error);
    return out;
  }
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) out[o->keyword] = o->val;
  }
  PQconninfoFree(options);
  return out;
}

class SessionSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* env = std::getenv("PGOPTIONS"); env != nullptr) saved_ = env;
    unsetenv("PGOPTIONS");
  }
  void TearDown() override {
    if (saved_.empty()) {
      unsetenv("PGOPTIONS");
    } else {
      setenv("PGOPTIONS", saved_.c_str(), 1);
    }
  }
  std::string saved_;
};

TEST_F(SessionSettingsTest, DefaultsGoIntoAKeywordDsn) {
  auto p = Parsed(WithSessionSettings("host=h dbname=d", SessionSettings{}));
  EXPECT_EQ(p["host"], "h");
  EXPECT_EQ(p["dbname"], "d");
  EXPECT_EQ(p["keepalives"], "1");
  EXPECT_EQ(p["keepalives_idle"], "30");
  EXPECT_EQ(p["keepalives_interval"], "10");
  EXPECT_EQ(p["keepalives_count"], "3");
  EXPECT_EQ(p["tcp_user_timeout"], "30000");
  EXPECT_EQ(p["options"],
            "-c statement_timeout=30000 -c idle_in_transaction_session_timeout=60000");
}

TEST_F(SessionSettingsTest, DefaultsGoIntoAUriDsn) {
  const std::string dsn =
      WithSessionSettings("postgresql://u:pw@h:5433/d?sslmode=disable", SessionSettings{});
  EXPECT_EQ(dsn.rfind("postgresql://u:pw@h:5433/d?sslmode=disable&", 0), 0u) << dsn;
  auto p = Parsed(dsn);
  EXPECT_EQ(p["port"], "5433");
  EXPECT_EQ(p["password"], "pw");
  EXPECT_EQ(p["sslmode"], "disable");
  EXPECT_EQ(p["keepalives_idle"], "30");
  EXPECT_EQ(p["options"],
            "-c statement_timeout=30000 -c idle_in_transaction_session_timeout=60000");
}

TEST_F(SessionSettingsTest, ValuesTheDsnSetsWin) {
  auto p = Parsed(WithSessionSettings(
      "host=h keepalives_idle=5 tcp_user_timeout=1000 options='-c statement_timeout=5s'",
      SessionSettings{}));
  EXPECT_EQ(p["keepalives_idle"], "5");
  EXPECT_EQ(p["tcp_user_timeout"], "1000");
  EXPECT_EQ(p["keepalives_interval"], "10");
  // The DSN's statement_timeout stays; the setting it does not name is merged in.
  EXPECT_EQ(p["options"], "-c statement_timeout=5s -c idle_in_transaction_session_timeout=60000");

  auto u = Parsed(WithSessionSettings(
      "postgres://h/d?options=-c%20idle_in_transaction_session_timeout%3D1", SessionSettings{}));
  EXPECT_EQ(u["options"], "-c idle_in_transaction_session_timeout=1 -c statement_timeout=30000");
  EXPECT_EQ(u["dbname"], "d");
}

TEST_F(SessionSettingsTest, OtherOptionsAndQuotedValuesSurviveTheMerge) {
  auto p = Parsed(WithSessionSettings(
      "host=h password='it\\'s a secret' options='-c search_path=vault'", SessionSettings{}));
  EXPECT_EQ(p["password"], "it's a secret");
  EXPECT_EQ(p["options"],
            "-c search_path=vault -c statement_timeout=30000 "
            "-c idle_in_transaction_session_timeout=60000");
}

TEST_F(SessionSettingsTest, PgOptionsFromTheEnvironmentAreKept) {
  setenv("PGOPTIONS", "-c statement_timeout=7000", 1);
  auto p = Parsed(WithSessionSettings("host=h", SessionSettings{}));
  EXPECT_EQ(p["options"], "-c statement_timeout=7000 -c idle_in_transaction_session_timeout=60000");
}

TEST_F(SessionSettingsTest, ZeroLeavesTheServersSetting) {
  SessionSettings none;
  none.keepalives_idle = 0s;
  none.keepalives_interval = 0s;
  none.keepalives_count = 0;
  none.tcp_user_timeout = 0ms;
  none.statement_timeout = 0ms;
  none.idle_in_transaction_timeout = 0ms;
  EXPECT_EQ(WithSessionSettings("host=h", none), "host=h keepalives=1");
  SessionSettings only_statement = none;
  only_statement.statement_timeout = 1500ms;
  EXPECT_THAT(WithSessionSettings("host=h", only_statement), Not(HasSubstr("idle_in_transaction")));
  EXPECT_EQ(Parsed(WithSessionSettings("host=h", only_statement))["options"],
            "-c statement_timeout=1500");
}

TEST_F(SessionSettingsTest, UnparsableDsnGetsKeepalivesOnlyAndConnectingReportsIt) {
  const std::string broken = "host='unterminated";
  EXPECT_THAT(WithSessionSettings(broken, SessionSettings{}), Not(HasSubstr("options")));
}

}  // namespace
}  // namespace coffer::postgres
