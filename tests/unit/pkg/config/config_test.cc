#include "pkg/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "pkg/version/version.h"

namespace coffer::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A typical service configuration, declared the way main.cc does it.
struct TestConfig {
  std::string grpc_address = "0.0.0.0:50051";
  std::string db_dsn;
  int admin_port = 9090;
  bool tls = false;
  absl::Duration grace = absl::Seconds(10);
  std::chrono::milliseconds poll{250};
  std::vector<std::string> brokers;
  std::string level = "info";
};

class ConfigParserTest : public ::testing::Test {
 protected:
  ConfigParserTest() : parser_("coffer-test", "test service") {
    parser_.Add("grpc-address", &cfg_.grpc_address, "gRPC listen address (host:port)");
    parser_.Add("db-dsn", &cfg_.db_dsn, "PostgreSQL connection string").Required().Secret();
    parser_.Add("admin-port", &cfg_.admin_port, "Admin HTTP port").Validate(InRange(0, 65535));
    parser_.Add("tls", &cfg_.tls, "Serve TLS");
    parser_.Add("shutdown-grace", &cfg_.grace, "Drain time on shutdown");
    parser_.Add("poll-interval", &cfg_.poll, "Poll interval");
    parser_.Add("kafka-brokers", &cfg_.brokers, "Kafka bootstrap servers | comma separated");
    parser_.Add("log-level", &cfg_.level, "Log level").Validate(OneOf({"debug", "info"}));
  }

  absl::Status Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "coffer-test");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    return parser_.Parse(static_cast<int>(argv.size()), argv.data(), out_);
  }

  TestConfig cfg_;
  ConfigParser parser_;
  std::ostringstream out_;
};

TEST(EnvName, DerivedFromFlagName) {
  EXPECT_EQ(EnvName("db-dsn"), "COFFER_DB_DSN");
  EXPECT_EQ(EnvName("--grpc-address"), "COFFER_GRPC_ADDRESS");
}

TEST_F(ConfigParserTest, DefaultsKeptWhenNothingSet) {
  parser_.SetEnvironmentForTest({{"COFFER_DB_DSN", "host=db"}});
  ASSERT_TRUE(Parse({}).ok());
  EXPECT_EQ(cfg_.grpc_address, "0.0.0.0:50051");
  EXPECT_EQ(cfg_.admin_port, 9090);
  EXPECT_EQ(cfg_.grace, absl::Seconds(10));
  EXPECT_FALSE(parser_.exit_requested());
}

TEST_F(ConfigParserTest, EnvironmentFillsOptionsNotGivenAsFlags) {
  parser_.SetEnvironmentForTest({{"COFFER_DB_DSN", "host=db password=pw"},
                                 {"COFFER_ADMIN_PORT", "9191"},
                                 {"COFFER_TLS", "yes"},
                                 {"COFFER_SHUTDOWN_GRACE", "1m30s"},
                                 {"COFFER_POLL_INTERVAL", "2s"},
                                 {"COFFER_KAFKA_BROKERS", "a:9092, b:9092"}});
  absl::Status status = Parse({});
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(cfg_.db_dsn, "host=db password=pw");
  EXPECT_EQ(cfg_.admin_port, 9191);
  EXPECT_TRUE(cfg_.tls);
  EXPECT_EQ(cfg_.grace, absl::Seconds(90));
  EXPECT_EQ(cfg_.poll, std::chrono::milliseconds(2000));
  EXPECT_EQ(cfg_.brokers, (std::vector<std::string>{"a:9092", "b:9092"}));
}

TEST_F(ConfigParserTest, FlagBeatsEnvironment) {
  parser_.SetEnvironmentForTest({{"COFFER_DB_DSN", "host=env"}, {"COFFER_ADMIN_PORT", "9191"}});
  absl::Status status = Parse({"--db-dsn", "host=flag", "--admin-port=7000", "--tls"});
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(cfg_.db_dsn, "host=flag");
  EXPECT_EQ(cfg_.admin_port, 7000);
  EXPECT_TRUE(cfg_.tls);
  std::vector<EffectiveValue> values = parser_.EffectiveValues();
  ASSERT_EQ(values.size(), 8u);
  EXPECT_EQ(values[1].name, "db-dsn");
  EXPECT_EQ(values[1].source, "flag");
  EXPECT_EQ(values[2].value, "7000");
  EXPECT_EQ(values[0].source, "default");
}

TEST_F(ConfigParserTest, BadEnvValueNamesEnvAndFlag) {
  parser_.SetEnvironmentForTest({{"COFFER_DB_DSN", "x"}, {"COFFER_ADMIN_PORT", "http"}});
  absl::Status status = Parse({});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("env COFFER_ADMIN_PORT (--admin-port): invalid value \"http\": "
                        "expected an integer"));
}

TEST_F(ConfigParserTest, ValidationErrorNamesFlag) {
  parser_.SetEnvironmentForTest({{"COFFER_DB_DSN", "x"}});
  absl::Status status = Parse({"--admin-port", "70000", "--log-level", "loud"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("--admin-port: must be between 0 and 65535"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("--log-level: must be one of: debug,info"));
}

TEST_F(ConfigParserTest, BadDurationIsRejected) {
  parser_.SetEnvironmentForTest({{"COFFER_DB_DSN", "x"}});
  absl::Status status = Parse({"--shutdown-grace", "10"});
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("--shutdown-grace: invalid value \"10\": expected a duration"));
}

TEST_F(ConfigParserTest, MissingRequiredOptionNamesFlagAndEnv) {
  parser_.SetEnvironmentForTest({});
  absl::Status status = Parse({});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("missing required option --db-dsn (or env COFFER_DB_DSN)"));
}

TEST_F(ConfigParserTest, UnknownFlagIsAnError) {
  parser_.SetEnvironmentForTest({{"COFFER_DB_DSN", "x"}});
  absl::Status status = Parse({"--no-such-flag", "1"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("--no-such-flag"));
}

TEST_F(ConfigParserTest, VersionPrintsVersionLineAndRequestsExit) {
  ASSERT_TRUE(Parse({"--version"}).ok());
  EXPECT_TRUE(parser_.exit_requested());
  EXPECT_EQ(out_.str(), coffer::version::VersionLine("coffer-test") + "\n");
}

TEST_F(ConfigParserTest, ReferenceHasOneRowPerOption) {
  ASSERT_TRUE(Parse({"--print-config-reference"}).ok());
  EXPECT_TRUE(parser_.exit_requested());
  std::string ref = out_.str();
  EXPECT_THAT(ref, HasSubstr("| Flag | Environment | Default | Description |"));
  EXPECT_THAT(ref, HasSubstr("| `--grpc-address` | `COFFER_GRPC_ADDRESS` | `0.0.0.0:50051` | "
                             "gRPC listen address (host:port) |"));
  EXPECT_THAT(ref,
              HasSubstr("| `--admin-port` | `COFFER_ADMIN_PORT` | `9090` | Admin HTTP port |"));
  EXPECT_THAT(ref, HasSubstr("| `--shutdown-grace` | `COFFER_SHUTDOWN_GRACE` | `10s` |"));
  EXPECT_THAT(ref, HasSubstr("Kafka bootstrap servers \\| comma separated"));
  EXPECT_THAT(ref, HasSubstr("| `--db-dsn` | `COFFER_DB_DSN` | (secret) |"));
  EXPECT_EQ(std::count(ref.begin(), ref.end(), '\n'), 2 + 8);
}

TEST_F(ConfigParserTest, SecretNeverPrinted) {
  const std::string kSecretDefault = "host=db password=hunter2";
  std::string dsn = kSecretDefault;
  std::string api_token = "tok-123";
  ConfigParser parser("svc", "svc");
  parser.Add("dsn", &dsn, "DSN").Secret();
  parser.Add("api-token", &api_token, "token")
      .Secret()
      .Validate([](const std::string& v) -> absl::Status {
        return v.size() >= 10 ? absl::OkStatus() : absl::InvalidArgumentError("too short");
      });
  parser.SetEnvironmentForTest({{"COFFER_API_TOKEN", "short-tok"}});
  const char* argv[] = {"svc"};
  absl::Status status = parser.Parse(1, argv, out_);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("env COFFER_API_TOKEN (--api-token): too short"));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("short-tok")));

  EXPECT_THAT(parser.Reference(), Not(HasSubstr("hunter2")));
  EXPECT_THAT(parser.Reference(), Not(HasSubstr("tok-123")));
  for (const EffectiveValue& v : parser.EffectiveValues()) {
    EXPECT_EQ(v.value, "[redacted]") << v.name;
  }

  std::ostringstream help;
  const char* help_argv[] = {"svc", "--help"};
  ASSERT_TRUE(parser.Parse(2, help_argv, help).ok());
  EXPECT_THAT(help.str(), HasSubstr("COFFER_DSN"));
  EXPECT_THAT(help.str(), Not(HasSubstr("hunter2")));
}

TEST(ConfigParser, IntegerRangeOfTargetTypeIsEnforced) {
  uint16_t port = 1;
  ConfigParser parser("svc", "svc");
  parser.Add("port", &port, "port");
  parser.SetEnvironmentForTest({{"COFFER_PORT", "-1"}});
  const char* argv[] = {"svc"};
  std::ostringstream out;
  EXPECT_FALSE(parser.Parse(1, argv, out).ok());
  parser.SetEnvironmentForTest({{"COFFER_PORT", "65536"}});
  EXPECT_THAT(std::string(parser.Parse(1, argv, out).message()),
              HasSubstr("expected an integer between 0 and 65535"));
  parser.SetEnvironmentForTest({{"COFFER_PORT", "65535"}});
  EXPECT_TRUE(parser.Parse(1, argv, out).ok());
  EXPECT_EQ(port, 65535);
}

TEST(ConfigParser, BoolFlagAcceptsExplicitFalse) {
  bool tls = true;
  ConfigParser parser("svc", "svc");
  parser.Add("tls", &tls, "tls");
  parser.SetEnvironmentForTest({{"COFFER_TLS", "true"}});
  const char* argv[] = {"svc", "--tls=false"};
  std::ostringstream out;
  absl::Status status = parser.Parse(2, argv, out);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_FALSE(tls);
}

}  // namespace
}  // namespace coffer::config
