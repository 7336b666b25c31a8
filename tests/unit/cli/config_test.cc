#include "cli/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace coffer::cli {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/coffer-cli-config-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void WriteConfig(const std::string& text) { std::ofstream(dir_ + "/config.json") << text; }

  std::string dir_;
};

TEST_F(ConfigTest, ConfigDirPrecedence) {
  auto env = FakeEnv({{"COFFER_CONFIG_DIR", "/c"}, {"XDG_CONFIG_HOME", "/x"}, {"HOME", "/h"}});
  EXPECT_EQ(*ResolveConfigDir("/flag", env), "/flag");
  EXPECT_EQ(*ResolveConfigDir("", env), "/c");
  EXPECT_EQ(*ResolveConfigDir("", FakeEnv({{"XDG_CONFIG_HOME", "/x"}, {"HOME", "/h"}})),
            "/x/coffer");
  EXPECT_EQ(*ResolveConfigDir("", FakeEnv({{"HOME", "/h"}})), "/h/.config/coffer");
  EXPECT_EQ(ResolveConfigDir("", FakeEnv({})).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ConfigTest, DefaultsWithoutConfigFile) {
  auto config = ResolveConfig({.config_dir = dir_}, FakeEnv({}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->config_dir, dir_);
  EXPECT_EQ(config->identity_addr, kDefaultIdentityAddr);
  EXPECT_EQ(config->vault_addr, kDefaultVaultAddr);
  EXPECT_EQ(config->ca_file, "");
  EXPECT_EQ(config->default_output, "table");
}

TEST_F(ConfigTest, FlagBeatsEnvBeatsFileBeatsDefault) {
  WriteConfig(R"({"identity_addr": "file:1", "vault_addr": "file:2", "output": "json"})");
  auto from_file = ResolveConfig({.config_dir = dir_}, FakeEnv({}));
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(from_file->identity_addr, "file:1");
  EXPECT_EQ(from_file->vault_addr, "file:2");
  EXPECT_EQ(from_file->default_output, "json");

  auto env = FakeEnv({{"COFFER_IDENTITY_ADDR", "env:1"}, {"COFFER_VAULT_ADDR", "env:2"}});
  auto from_env = ResolveConfig({.config_dir = dir_}, env);
  EXPECT_EQ(from_env->identity_addr, "env:1");
  EXPECT_EQ(from_env->vault_addr, "env:2");

  auto from_flags =
      ResolveConfig({.config_dir = dir_, .identity_addr = "flag:1", .vault_addr = "flag:2"}, env);
  EXPECT_EQ(from_flags->identity_addr, "flag:1");
  EXPECT_EQ(from_flags->vault_addr, "flag:2");
}

TEST_F(ConfigTest, ConfigDirFromEnvironmentIsUsedForTheFile) {
  WriteConfig(R"({"vault_addr": "file:9"})");
  auto config = ResolveConfig({}, FakeEnv({{"COFFER_CONFIG_DIR", dir_}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->vault_addr, "file:9");
}

TEST_F(ConfigTest, MalformedConfigFileIsAnError) {
  WriteConfig("{not json");
  auto config = ResolveConfig({.config_dir = dir_}, FakeEnv({}));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(config.status().message()).find("config.json"), std::string::npos);
}

TEST(ParseConfigFileTest, KeepsStringMembersAndNamesTheFileOnError) {
  auto file = ParseConfigFile(
      R"({"identity_addr":"id:1","vault_addr":7100,"output":null,"ca_file":"","x":{}})",
      "/c/config.json");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(*file, (ConfigFile{.identity_addr = "id:1"}));
  for (const std::string text : {"[]", "{", "", "\xff"}) {
    auto bad = ParseConfigFile(text, "/c/config.json");
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(bad.status().message(), "/c/config.json is not a JSON object; fix or remove it");
  }
}

// A client certificate for mutual TLS comes from a flag, the environment or config.json, always
// with its key; TLS is on whenever a CA or a certificate is set.
TEST_F(ConfigTest, ClientCertificateAndKeyResolveTogether) {
  WriteConfig(R"({"cert_file": "/file/cert.pem", "key_file": "/file/key.pem"})");
  auto from_file = ResolveConfig({.config_dir = dir_}, FakeEnv({}));
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->cert_file, "/file/cert.pem");
  EXPECT_EQ(from_file->key_file, "/file/key.pem");
  auto from_env = ResolveConfig(
      {.config_dir = dir_},
      FakeEnv({{"COFFER_CERT_FILE", "/env/cert.pem"}, {"COFFER_KEY_FILE", "/env/key.pem"}}));
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->cert_file, "/env/cert.pem");
  auto from_flag =
      ResolveConfig({.config_dir = dir_, .cert_file = "/f/c.pem", .key_file = "/f/k.pem"},
                    FakeEnv({{"COFFER_CERT_FILE", "/env/cert.pem"}}));
  ASSERT_TRUE(from_flag.ok());
  EXPECT_EQ(from_flag->cert_file, "/f/c.pem");
  EXPECT_EQ(from_flag->key_file, "/f/k.pem");

  WriteConfig(R"({"cert_file": "/file/cert.pem"})");
  auto half = ResolveConfig({.config_dir = dir_}, FakeEnv({}));
  EXPECT_EQ(half.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(half.status().message()).find("key_file"), std::string::npos);

  EXPECT_FALSE(ChannelTls("", "", "").use_tls);
  EXPECT_TRUE(ChannelTls("/ca.pem", "", "").use_tls);
  EXPECT_TRUE(ChannelTls("", "/c.pem", "/k.pem").use_tls);
}

}  // namespace
}  // namespace coffer::cli
