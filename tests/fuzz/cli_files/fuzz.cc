// Fuzzes the files the `coffer` CLI reads back from its config directory: the session store
// tokens.json (cli/token_store.h: ParseTokens, TokenStore::Load/Save) and config.json
// (cli/config.h: ParseConfigFile, ResolveConfig).
//
// Input: one mode byte, then the file's contents (any bytes).
//   even mode: tokens.json. Properties: ParseTokens never throws and either succeeds or fails
//     with INVALID_ARGUMENT whose message is one of the store's shapes — the file's path and at
//     most the name of the field at fault, never a value (tokens are credentials); a session
//     that parses serializes (SerializeTokens, what Save writes) and parses back to an equal
//     session, and serializing that gives the same text; through the file system (a private
//     file in a private temporary directory) Load() agrees with ParseTokens, and Save() then
//     Load() gives the session back.
//   odd mode: config.json. Properties: ParseConfigFile succeeds exactly for a JSON object, else
//     INVALID_ARGUMENT naming the file only; ResolveConfig on a directory holding that file (no
//     flags, empty environment) agrees: each address is the file's string value or the default.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "cli/config.h"
#include "cli/token_store.h"
#include "tests/fuzz/fuzz_check.h"

namespace coffer::fuzz {
namespace {

using cli::StoredTokens;

// A private scratch directory (tmpfs when there is one: Save() fsyncs), removed at exit.
struct Fixture {
  Fixture() {
    std::string tmpl = (::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    tmpl += "/coffer-fuzz-cli-XXXXXX";
    FUZZ_CHECK(::mkdtemp(tmpl.data()) != nullptr);
    root = tmpl;
    std::atexit([] { std::filesystem::remove_all(Get().root); });
  }
  static Fixture& Get() {
    static auto* fixture = new Fixture();
    return *fixture;
  }
  std::string root;
};

const char* const kFields[] = {
    "identity_addr",      "login", "access_token", "refresh_token", "access_expires_at",
    "refresh_expires_at", "scope"};

// The messages a corrupt tokens.json may get: the path, a field name, fixed words.
bool IsTokenFileError(const std::string& message, const std::string& file) {
  const std::string again = "; run `coffer login` again";
  if (message == file + " is corrupt" + again) return true;
  for (const char* field : kFields) {
    const std::string named = file + ": \"" + field + "\" is not ";
    if (message == named + "a string" + again || message == named + "an integer" + again) {
      return true;
    }
  }
  return false;
}

void CheckTokens(const std::string& root, const std::string& text) {
  const std::string dir = root + "/tokens";
  cli::TokenStore store(dir);
  absl::StatusOr<StoredTokens> parsed = cli::ParseTokens(text, store.path());
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(IsTokenFileError(std::string(parsed.status().message()), store.path()));
  } else {
    const std::string saved = cli::SerializeTokens(*parsed);
    absl::StatusOr<StoredTokens> again = cli::ParseTokens(saved, store.path());
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(*again == *parsed);
    FUZZ_CHECK(cli::SerializeTokens(*again) == saved);
  }

  // The same through the file system.
  FUZZ_CHECK(cli::EnsurePrivateDir(dir).ok());
  FUZZ_CHECK(cli::WritePrivateFile(store.path(), text).ok());
  absl::StatusOr<std::optional<StoredTokens>> loaded = store.Load();
  FUZZ_CHECK(loaded.ok() == parsed.ok());
  if (!parsed.ok()) {
    FUZZ_CHECK(loaded.status() == parsed.status());
    return;
  }
  FUZZ_CHECK(loaded->has_value() && **loaded == *parsed);
  FUZZ_CHECK(store.Save(*parsed).ok());
  loaded = store.Load();
  FUZZ_CHECK(loaded.ok() && loaded->has_value() && **loaded == *parsed);
}

void CheckConfig(const std::string& root, const std::string& text) {
  const std::string dir = root + "/config";
  const std::string path = dir + "/config.json";
  absl::StatusOr<cli::ConfigFile> parsed = cli::ParseConfigFile(text, path);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(parsed.status().message() == path + " is not a JSON object; fix or remove it");
  }
  FUZZ_CHECK(cli::EnsurePrivateDir(dir).ok());
  FUZZ_CHECK(cli::WritePrivateFile(path, text).ok());
  absl::StatusOr<cli::ClientConfig> config = cli::ResolveConfig(
      {.config_dir = dir}, [](const std::string&) -> std::optional<std::string> { return {}; });
  FUZZ_CHECK(config.ok() == parsed.ok());
  if (!parsed.ok()) {
    FUZZ_CHECK(config.status() == parsed.status());
    return;
  }
  auto or_default = [](const std::string& v, const std::string& d) { return v.empty() ? d : v; };
  FUZZ_CHECK(config->config_dir == dir);
  FUZZ_CHECK(config->identity_addr == or_default(parsed->identity_addr, cli::kDefaultIdentityAddr));
  FUZZ_CHECK(config->vault_addr == or_default(parsed->vault_addr, cli::kDefaultVaultAddr));
  FUZZ_CHECK(config->ca_file == parsed->ca_file);
  FUZZ_CHECK(config->default_output == or_default(parsed->output, "table"));
}

}  // namespace
}  // namespace coffer::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& root = coffer::fuzz::Fixture::Get().root;
  std::string_view in = coffer::fuzz::Bytes(data, size);
  if (in.empty()) return 0;
  const auto mode = static_cast<unsigned char>(in.front());
  in.remove_prefix(1);
  if (mode % 2 == 0) {
    coffer::fuzz::CheckTokens(root, std::string(in));
  } else {
    coffer::fuzz::CheckConfig(root, std::string(in));
  }
  return 0;
}
