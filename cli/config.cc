#include "cli/config.h"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace coffer::cli {
namespace {

// First non-empty of flag, env var, config file value, default.
std::string Pick(const std::string& flag, const std::optional<std::string>& env,
                 const std::string& file, const std::string& fallback) {
  if (!flag.empty()) return flag;
  if (env) return *env;
  if (!file.empty()) return file;
  return fallback;
}

// A string member of config.json, or "" when absent or of another type.
std::string StringMember(const nlohmann::json& file, const char* key) {
  auto it = file.find(key);
  return it != file.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

absl::StatusOr<std::string> ResolveConfigDir(const std::string& flag, const EnvLookup& env) {
  if (!flag.empty()) return flag;
  if (auto dir = env("COFFER_CONFIG_DIR")) return *dir;
  if (auto xdg = env("XDG_CONFIG_HOME")) return *xdg + "/coffer";
  if (auto home = env("HOME")) return *home + "/.config/coffer";
  return absl::InvalidArgumentError(
      "cannot find a config directory: set HOME, XDG_CONFIG_HOME or use --config-dir");
}

absl::StatusOr<ClientConfig> ResolveConfig(const ConfigFlags& flags, const EnvLookup& env) {
  ClientConfig config;
  auto dir = ResolveConfigDir(flags.config_dir, env);
  if (!dir.ok()) return dir.status();
  config.config_dir = *dir;

  ConfigFile file;
  const std::string path = config.config_dir + "/config.json";
  std::ifstream in(path);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<ConfigFile> parsed = ParseConfigFile(text.str(), path);
    if (!parsed.ok()) return parsed.status();
    file = *std::move(parsed);
  }
  config.identity_addr = Pick(flags.identity_addr, env("COFFER_IDENTITY_ADDR"), file.identity_addr,
                              kDefaultIdentityAddr);
  config.vault_addr =
      Pick(flags.vault_addr, env("COFFER_VAULT_ADDR"), file.vault_addr, kDefaultVaultAddr);
  config.ca_file = Pick(flags.ca_file, env("COFFER_CA_FILE"), file.ca_file, "");
  config.cert_file = Pick(flags.cert_file, env("COFFER_CERT_FILE"), file.cert_file, "");
  config.key_file = Pick(flags.key_file, env("COFFER_KEY_FILE"), file.key_file, "");
  if (config.cert_file.empty() != config.key_file.empty()) {
    return absl::InvalidArgumentError(
        "cert_file and key_file go together (--cert-file/--key-file, COFFER_CERT_FILE/"
        "COFFER_KEY_FILE or config.json): set both or neither");
  }
  config.default_output = Pick("", env("COFFER_OUTPUT"), file.output, "table");
  return config;
}

absl::StatusOr<ConfigFile> ParseConfigFile(std::string_view text, const std::string& path) {
  const nlohmann::json file = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (file.is_discarded() || !file.is_object()) {
    return absl::InvalidArgumentError(path + " is not a JSON object; fix or remove it");
  }
  return ConfigFile{StringMember(file, "identity_addr"), StringMember(file, "vault_addr"),
                    StringMember(file, "ca_file"),       StringMember(file, "output"),
                    StringMember(file, "cert_file"),     StringMember(file, "key_file")};
}

grpcx::ChannelTlsOptions ChannelTls(const std::string& ca_file, const std::string& cert_file,
                                    const std::string& key_file) {
  grpcx::ChannelTlsOptions tls;
  tls.use_tls = !ca_file.empty() || !cert_file.empty();
  tls.ca_file = ca_file;
  tls.cert_file = cert_file;
  tls.key_file = key_file;
  return tls;
}

}  // namespace coffer::cli
