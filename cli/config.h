// Where the CLI keeps its state and which servers it talks to.
//
// Config directory, first match wins: --config-dir, $COFFER_CONFIG_DIR,
// $XDG_CONFIG_HOME/coffer, $HOME/.config/coffer.
// Server addresses, first match wins: flag (--identity-addr / --vault-addr), environment
// (COFFER_IDENTITY_ADDR / COFFER_VAULT_ADDR), "identity_addr" / "vault_addr" in
// <config dir>/config.json, then the dev-up defaults 127.0.0.1:7000 and 127.0.0.1:7100.
//
// The environment is passed in as a lookup function so tests never touch the real one.
// Pure functions apart from reading config.json; thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "pkg/grpcx/channel.h"

namespace coffer::cli {

// Returns the value of an environment variable, nullopt when unset or empty.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment (std::getenv).
EnvLookup ProcessEnv();

inline constexpr char kDefaultIdentityAddr[] = "127.0.0.1:7000";
inline constexpr char kDefaultVaultAddr[] = "127.0.0.1:7100";

// What the user gave on the command line (empty = not given).
struct ConfigFlags {
  std::string config_dir;
  std::string identity_addr;
  std::string vault_addr;
  std::string ca_file;    // PEM CA bundle: use TLS to both servers
  std::string cert_file;  // PEM client certificate for mutual TLS (with key_file)
  std::string key_file;
};

// The resolved client configuration.
struct ClientConfig {
  std::string config_dir;
  std::string identity_addr;
  std::string vault_addr;
  std::string ca_file;    // empty = plaintext (unless cert_file is set)
  std::string cert_file;  // client certificate for servers that require one; with key_file
  std::string key_file;
  std::string default_output;  // "table" unless config.json says "output": "json"
};

// The TLS options of every channel the CLI opens: TLS when a CA or a client certificate is set.
grpcx::ChannelTlsOptions ChannelTls(const std::string& ca_file, const std::string& cert_file,
                                    const std::string& key_file);

// What <config dir>/config.json sets: its string members "identity_addr", "vault_addr",
// "ca_file", "cert_file", "key_file" and "output" ("" = not set; other members and other types
// are ignored).
struct ConfigFile {
  std::string identity_addr;
  std::string vault_addr;
  std::string ca_file;
  std::string output;
  std::string cert_file;
  std::string key_file;

  bool operator==(const ConfigFile&) const = default;
};

// Parses config.json's text (extracted from ResolveConfig for tests and fuzzing); `path` names the
// file in errors. INVALID_ARGUMENT when it is not a JSON object.
absl::StatusOr<ConfigFile> ParseConfigFile(std::string_view text, const std::string& path);

// The config directory per the precedence above; INVALID_ARGUMENT when none can be determined
// (no HOME).
absl::StatusOr<std::string> ResolveConfigDir(const std::string& flag, const EnvLookup& env);

// Resolves everything. A missing config.json is fine; an unreadable or malformed one is
// INVALID_ARGUMENT naming the file, and so is a client certificate without its key (or a key
// without its certificate).
absl::StatusOr<ClientConfig> ResolveConfig(const ConfigFlags& flags, const EnvLookup& env);

}  // namespace coffer::cli
