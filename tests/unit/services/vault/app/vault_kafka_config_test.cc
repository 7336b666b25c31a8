// The vault's Kafka security flags (services/vault/README.md "Kafka security"): parsed and
// validated with errors naming the flag, turned into the librdkafka properties
// (KafkaSecurityProperties), and accepted by librdkafka itself, with the SASL password only ever
// read from its file and never in an error message or a librdkafka log line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "pkg/kafka/client_internal.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/app/vault_config.h"
#include "tests/unit/pkg/grpcx/test_certs.h"

namespace coffer::vault::app {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::IsOkAndHolds;
using ::coffer::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;

constexpr char kPassword[] = "s3cret-Kafka-pa55word";

class VaultKafkaConfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new grpcx::testutil::TestCerts(grpcx::testutil::MakeTestCerts());
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(certs_->dir);
    delete certs_;
  }

  void SetUp() override {
    password_file_ = certs_->dir + "/kafka-password";
    std::ofstream(password_file_) << kPassword << "\n";
  }

  // Parses `args` (after the program name) with only the required flags added; `env` replaces
  // the process environment.
  absl::Status Parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    config::ConfigParser parser("coffer-vault", "test");
    RegisterVaultConfig(parser, &config_);
    parser.SetEnvironmentForTest(std::move(env));
    std::vector<std::string> all = {"coffer-vault", "--db-dsn=host=h", "--shard-id=a"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (const std::string& a : all) argv.push_back(a.c_str());
    return parser.Parse(static_cast<int>(argv.size()), argv.data());
  }

  // Every TLS and SASL setting, for sasl_ssl.
  VaultConfig SaslSsl() const {
    VaultConfig c;
    c.kafka_security_protocol = "sasl_ssl";
    c.kafka_ssl_ca_file = certs_->ca_cert_file;
    c.kafka_ssl_cert_file = certs_->client_cert_file;
    c.kafka_ssl_key_file = certs_->client_key_file;
    c.kafka_sasl_mechanism = "SCRAM-SHA-512";
    c.kafka_sasl_username = "coffer-shard-a";
    c.kafka_sasl_password_file = password_file_;
    return c;
  }

  static grpcx::testutil::TestCerts* certs_;
  std::string password_file_;
  VaultConfig config_;
};

grpcx::testutil::TestCerts* VaultKafkaConfigTest::certs_ = nullptr;

TEST_F(VaultKafkaConfigTest, FlagsAndEnvironmentAreParsed) {
  ASSERT_THAT(Parse({"--kafka-security-protocol=sasl_ssl", "--kafka-ssl-ca-file=/etc/ca.crt",
                     "--kafka-sasl-mechanism=SCRAM-SHA-256", "--kafka-sasl-username=u"},
                    {{"COFFER_KAFKA_SASL_PASSWORD_FILE", "/etc/kafka/password"},
                     {"COFFER_KAFKA_SSL_CERT_FILE", "/etc/client.crt"},
                     {"COFFER_KAFKA_SSL_KEY_FILE", "/etc/client.key"}}),
              IsOk());
  EXPECT_EQ(config_.kafka_security_protocol, "sasl_ssl");
  EXPECT_EQ(config_.kafka_ssl_ca_file, "/etc/ca.crt");
  EXPECT_EQ(config_.kafka_ssl_cert_file, "/etc/client.crt");
  EXPECT_EQ(config_.kafka_ssl_key_file, "/etc/client.key");
  EXPECT_EQ(config_.kafka_sasl_mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(config_.kafka_sasl_username, "u");
  EXPECT_EQ(config_.kafka_sasl_password_file, "/etc/kafka/password");
}

TEST_F(VaultKafkaConfigTest, UnknownProtocolOrMechanismNamesTheFlag) {
  // librdkafka's names are lowercase; "SSL" and "tls" are not ours.
  EXPECT_THAT(Parse({"--kafka-security-protocol=SSL"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--kafka-security-protocol"),
                             HasSubstr("plaintext,ssl,sasl_plaintext,sasl_ssl"))));
  EXPECT_THAT(Parse({}, {{"COFFER_KAFKA_SECURITY_PROTOCOL", "tls"}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--kafka-security-protocol"),
                             HasSubstr("COFFER_KAFKA_SECURITY_PROTOCOL"))));
  EXPECT_THAT(Parse({"--kafka-sasl-mechanism=GSSAPI"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--kafka-sasl-mechanism"), HasSubstr("SCRAM-SHA-512"))));
  // Mechanism names are case-sensitive in librdkafka.
  EXPECT_THAT(Parse({"--kafka-sasl-mechanism=scram-sha-256"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--kafka-sasl-mechanism")));
  // A config built in code is checked too.
  VaultConfig c;
  c.kafka_security_protocol = "ssl_plaintext";
  EXPECT_THAT(KafkaSecurityProperties(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--kafka-security-protocol")));
  c = SaslSsl();
  c.kafka_sasl_mechanism = "OAUTHBEARER";
  EXPECT_THAT(KafkaSecurityProperties(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--kafka-sasl-mechanism")));
}

TEST_F(VaultKafkaConfigTest, PlaintextHasNoProperties) {
  EXPECT_THAT(KafkaSecurityProperties(VaultConfig{}), IsOkAndHolds(IsEmpty()));
}

TEST_F(VaultKafkaConfigTest, SslWithCaAndClientCertificate) {
  VaultConfig c;
  c.kafka_security_protocol = "ssl";
  c.kafka_ssl_ca_file = certs_->ca_cert_file;
  EXPECT_THAT(KafkaSecurityProperties(c),
              IsOkAndHolds(ElementsAre(Pair("security.protocol", "ssl"),
                                       Pair("ssl.ca.location", certs_->ca_cert_file))));
  c.kafka_ssl_cert_file = certs_->client_cert_file;
  EXPECT_THAT(KafkaSecurityProperties(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--kafka-ssl-cert-file and --kafka-ssl-key-file go together")));
  c.kafka_ssl_key_file = certs_->client_key_file;
  EXPECT_THAT(KafkaSecurityProperties(c),
              IsOkAndHolds(ElementsAre(Pair("security.protocol", "ssl"),
                                       Pair("ssl.ca.location", certs_->ca_cert_file),
                                       Pair("ssl.certificate.location", certs_->client_cert_file),
                                       Pair("ssl.key.location", certs_->client_key_file))));
  // No CA file: librdkafka uses the system's CAs.
  c.kafka_ssl_ca_file.clear();
  EXPECT_THAT(KafkaSecurityProperties(c), IsOk());
  c.kafka_ssl_ca_file = certs_->dir + "/missing.crt";
  EXPECT_THAT(KafkaSecurityProperties(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--kafka-ssl-ca-file")));
}

TEST_F(VaultKafkaConfigTest, SaslSslGivesEveryProperty) {
  EXPECT_THAT(KafkaSecurityProperties(SaslSsl()),
              IsOkAndHolds(ElementsAre(
                  Pair("sasl.mechanism", "SCRAM-SHA-512"), Pair("sasl.password", kPassword),
                  Pair("sasl.username", "coffer-shard-a"), Pair("security.protocol", "sasl_ssl"),
                  Pair("ssl.ca.location", certs_->ca_cert_file),
                  Pair("ssl.certificate.location", certs_->client_cert_file),
                  Pair("ssl.key.location", certs_->client_key_file))));
  VaultConfig c;
  c.kafka_security_protocol = "sasl_plaintext";
  c.kafka_sasl_mechanism = "PLAIN";
  c.kafka_sasl_username = "u";
  c.kafka_sasl_password_file = password_file_;
  EXPECT_THAT(KafkaSecurityProperties(c),
              IsOkAndHolds(ElementsAre(Pair("sasl.mechanism", "PLAIN"),
                                       Pair("sasl.password", kPassword), Pair("sasl.username", "u"),
                                       Pair("security.protocol", "sasl_plaintext"))));
}

TEST_F(VaultKafkaConfigTest, SaslNeedsMechanismUserAndReadablePassword) {
  for (auto clear : {&VaultConfig::kafka_sasl_mechanism, &VaultConfig::kafka_sasl_username,
                     &VaultConfig::kafka_sasl_password_file}) {
    VaultConfig c = SaslSsl();
    (c.*clear).clear();
    EXPECT_THAT(KafkaSecurityProperties(c),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("needs --kafka-sasl-mechanism, --kafka-sasl-username and "
                                   "--kafka-sasl-password-file")));
  }
  VaultConfig c = SaslSsl();
  c.kafka_sasl_password_file = certs_->dir + "/no-such-password";
  EXPECT_THAT(KafkaSecurityProperties(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   HasSubstr("--kafka-sasl-password-file")));
  std::ofstream(password_file_, std::ios::trunc) << "\n";
  EXPECT_THAT(
      KafkaSecurityProperties(SaslSsl()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--kafka-sasl-password-file")));
}

TEST_F(VaultKafkaConfigTest, SettingsTheProtocolIgnoresAreRefused) {
  VaultConfig c = SaslSsl();
  c.kafka_security_protocol = "plaintext";  // e.g. COFFER_KAFKA_SECURITY_PROTOCOL forgotten
  EXPECT_THAT(KafkaSecurityProperties(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   AllOf(HasSubstr("--kafka-ssl-ca-file is set"),
                                                         HasSubstr("does not use TLS"))));
  c.kafka_security_protocol = "sasl_plaintext";
  EXPECT_THAT(KafkaSecurityProperties(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not use TLS")));
  c = SaslSsl();
  c.kafka_security_protocol = "ssl";
  EXPECT_THAT(KafkaSecurityProperties(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   AllOf(HasSubstr("--kafka-sasl-mechanism is set"),
                                                         HasSubstr("does not use SASL"))));
}

TEST_F(VaultKafkaConfigTest, PasswordNeverInAnError) {
  VaultConfig c = SaslSsl();
  c.kafka_ssl_key_file.clear();
  absl::Status status = KafkaSecurityProperties(c).status();
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr(kPassword)));
  // librdkafka refusing a property: the error names the property, never its value.
  kafka::ClientConfig client;
  client.properties = {{"sasl.password", kPassword}, {"security.protocol", "tls"}};
  kafka::internal::CallbackContext context;
  absl::Status refused = kafka::internal::BuildConf(client, {}, &context).status();
  EXPECT_THAT(refused,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"security.protocol\"")));
  EXPECT_THAT(std::string(refused.message()), Not(HasSubstr("tls")));
  // librdkafka refusing the client (a mechanism it does not know): no password either.
  client.properties = {{"security.protocol", "sasl_plaintext"},
                       {"sasl.mechanism", "NOT-A-MECHANISM"},
                       {"sasl.username", "u"},
                       {"sasl.password", kPassword}};
  kafka::internal::CallbackContext context2;
  COFFER_ASSERT_OK_AND_ASSIGN(kafka::internal::ConfHandle conf,
                              kafka::internal::BuildConf(client, {}, &context2));
  absl::Status created = kafka::internal::NewClient(RD_KAFKA_PRODUCER, std::move(conf)).status();
  EXPECT_THAT(created, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NOT-A-MECHANISM")));
  EXPECT_THAT(std::string(created.message()), Not(HasSubstr(kPassword)));
}

// The properties reach librdkafka's configuration as given, and librdkafka accepts them (it
// loads the CA, the client certificate and its key when the client is created).
TEST_F(VaultKafkaConfigTest, LibrdkafkaGetsAndAcceptsTheProperties) {
  COFFER_ASSERT_OK_AND_ASSIGN(auto properties, KafkaSecurityProperties(SaslSsl()));
  kafka::ClientConfig client;
  client.bootstrap_servers = "127.0.0.1:1";  // never reached: nothing is produced
  client.properties = properties;
  client.properties["debug"] = "conf,security";
  client.log_level = kafka::kLogDebug;
  std::mutex mu;
  std::string logs;
  client.log_sink = [&](int, const std::string& facility, const std::string& message) {
    std::lock_guard<std::mutex> lock(mu);
    logs += facility + ": " + message + "\n";
  };
  kafka::internal::CallbackContext context;
  COFFER_ASSERT_OK_AND_ASSIGN(kafka::internal::ConfHandle conf,
                              kafka::internal::BuildConf(client, {}, &context));
  auto get = [&](const char* name) {
    char value[1024] = {};
    size_t size = sizeof(value);
    EXPECT_EQ(rd_kafka_conf_get(conf.get(), name, value, &size), RD_KAFKA_CONF_OK) << name;
    return std::string(value);
  };
  EXPECT_EQ(get("security.protocol"), "sasl_ssl");
  EXPECT_EQ(get("ssl.ca.location"), certs_->ca_cert_file);
  EXPECT_EQ(get("ssl.certificate.location"), certs_->client_cert_file);
  EXPECT_EQ(get("ssl.key.location"), certs_->client_key_file);
  EXPECT_EQ(get("sasl.mechanisms"), "SCRAM-SHA-512");
  EXPECT_EQ(get("sasl.username"), "coffer-shard-a");
  EXPECT_EQ(get("sasl.password"), kPassword);

  COFFER_ASSERT_OK_AND_ASSIGN(kafka::internal::KafkaHandle rk,
                              kafka::internal::NewClient(RD_KAFKA_PRODUCER, std::move(conf)));
  rk.reset();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(logs, Not(IsEmpty()));  // the debug contexts did log
  EXPECT_THAT(logs, Not(HasSubstr(kPassword)));
}

}  // namespace
}  // namespace coffer::vault::app
