// Internal to cli/: what every command implementation shares. Each commands_*.cc adds its
// subcommands to the CLI11 tree; a subcommand's callback stores the Action to run, and Run()
// executes it after parsing succeeded, so commands report errors as absl::Status values.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "cli/app.h"
#include "cli/config.h"
#include "cli/output.h"
#include "cli/session.h"
#include "pkg/status/status.h"

namespace coffer::cli {

using Action = std::function<absl::Status()>;

// State shared by the command tree for one Run: global flags, lazily resolved configuration and
// session, and output helpers.
class CommandContext {
 public:
  explicit CommandContext(RunIo& io) : io_(io) {}

  RunIo& io() { return io_; }
  std::ostream& out() { return io_.out; }
  std::ostream& err() { return io_.err; }
  Terminal& terminal() { return io_.terminal; }

  // Global flags, bound by Run().
  ConfigFlags flags;
  std::string output;  // "" = config default
  double timeout_seconds = 10;
  std::string space_arg;  // --space: a space name or id; "" = personal space

  // Resolved once per Run.
  absl::StatusOr<ClientConfig> Config();
  // The session of this Run, built on first use (the Config() error when there is none).
  absl::StatusOr<Session*> GetSession();
  // The id of the --space space, its name resolved once (ResolveSpaceId); "" = personal space.
  absl::StatusOr<std::string> SpaceId();

  // The output format after flags, env and config file; table when unresolvable.
  OutputFormat Format();
  bool Json() { return Format() == OutputFormat::kJson; }

  // Prints `json` in JSON mode, otherwise `text` (already newline-terminated).
  void Emit(const nlohmann::json& json, const std::string& text);

 private:
  RunIo& io_;
  std::optional<absl::StatusOr<ClientConfig>> config_;
  std::unique_ptr<Session> session_;
  std::optional<absl::StatusOr<std::string>> space_id_;
};

// Each adds one group of subcommands to `app`; the subcommand that parsing chooses stores what it
// runs in `action`, which Run() executes afterwards.
void AddAuthCommands(CLI::App& app, CommandContext& ctx, Action& action);
void AddRecordCommands(CLI::App& app, CommandContext& ctx, Action& action);
void AddSyncCommands(CLI::App& app, CommandContext& ctx, Action& action);
void AddFileCommands(CLI::App& app, CommandContext& ctx, Action& action);
void AddSpaceCommands(CLI::App& app, CommandContext& ctx, Action& action);

// The id of the space `ref` names: a UUID as is, otherwise the one of the caller's spaces
// (ListSpaces, every page) named exactly `ref` (NOT_FOUND when none, INVALID_ARGUMENT listing
// the ids when several). "" stays "" (the personal space).
absl::StatusOr<std::string> ResolveSpaceId(Session& session, const std::string& ref);

// Reads a secret for `what` ("password"): one line from stdin when `from_stdin`, else an
// echo-free prompt (twice when `confirm`) if the terminal is interactive, else nullopt.
absl::StatusOr<std::optional<std::string>> ReadSecret(CommandContext& ctx, const std::string& what,
                                                      bool from_stdin, bool confirm);

}  // namespace coffer::cli
