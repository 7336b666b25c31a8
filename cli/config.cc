#include "cli/config.h"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace coffer::cli {
namespace {

// First non-empty of flag, env var, config file value, default.
std::string Pick(const std::string& flag, const std::optional<std::string>& env,
                 const nlohmann::json& file, const char* key, const std::string& fallback) {
  if (!flag.empty()) return flag;
  if (env) return *env;
  if (file.contains(key) && file[key].is_string() && !file[key].get<std::string>().empty()) {
    return file[key].get<std::string>();
  }
  return fallback;
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

  nlohmann::json file = nlohmann::json::object();
  const std::string path = config.config_dir + "/config.json";
  std::ifstream in(path);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    file = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (file.is_discarded() || !file.is_object()) {
      return absl::InvalidArgumentError(path + " is not a JSON object; fix or remove it");
    }
  }
  config.identity_addr = Pick(flags.identity_addr, env("COFFER_IDENTITY_ADDR"), file,
                              "identity_addr", kDefaultIdentityAddr);
  config.vault_addr =
      Pick(flags.vault_addr, env("COFFER_VAULT_ADDR"), file, "vault_addr", kDefaultVaultAddr);
  config.ca_file = Pick(flags.ca_file, env("COFFER_CA_FILE"), file, "ca_file", "");
  config.default_output = Pick("", env("COFFER_OUTPUT"), file, "output", "table");
  return config;
}

}  // namespace coffer::cli
