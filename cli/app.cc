#include "cli/app.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/health.h"
#include "pkg/version/version.h"

namespace coffer::cli {

absl::StatusOr<ClientConfig> CommandContext::Config() {
  if (!config_) config_ = ResolveConfig(flags, io_.env);
  return *config_;
}

absl::StatusOr<Session*> CommandContext::GetSession() {
  if (!session_) {
    auto config = Config();
    if (!config.ok()) return config.status();
    if (timeout_seconds <= 0) return absl::InvalidArgumentError("--timeout must be positive");
    session_ = std::make_unique<Session>(
        *config, std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000)),
        io_.clock);
  }
  return session_.get();
}

absl::StatusOr<std::string> CommandContext::SpaceId() {
  if (!space_id_) {
    if (space_arg.empty()) {
      space_id_ = std::string();
    } else if (auto session = GetSession(); !session.ok()) {
      space_id_ = session.status();
    } else {
      space_id_ = ResolveSpaceId(**session, space_arg);
    }
  }
  return *space_id_;
}

OutputFormat CommandContext::Format() {
  std::string name = output;
  if (name.empty()) {
    auto config = Config();
    name = config.ok() ? config->default_output : "table";
  }
  return ParseOutputFormat(name).value_or(OutputFormat::kTable);
}

void CommandContext::Emit(const nlohmann::json& json, const std::string& text) {
  if (Json()) {
    WriteJson(out(), json);
  } else {
    out() << text;
  }
}

namespace {

void AddVersionCommand(CLI::App& app, CommandContext& ctx, Action& action) {
  app.add_subcommand("version", "Print version, git commit and build date")->callback([&] {
    action = [&] {
      ctx.Emit(nlohmann::json{{"version", std::string(version::Version())},
                              {"git_commit", std::string(version::GitCommit())},
                              {"build_date", std::string(version::BuildDate())}},
               version::VersionLine("coffer") + "\n");
      return absl::OkStatus();
    };
  });
}

void AddHealthCommand(CLI::App& app, CommandContext& ctx, Action& action) {
  struct Opts {
    std::string addr = kDefaultVaultAddr;
    std::string service;
    int timeout_ms = 2000;
  };
  auto opts = std::make_shared<Opts>();
  auto* health = app.add_subcommand(
      "health",
      "Check a server's grpc.health.v1 status; exit 0 when SERVING, 3 unreachable, 4 not serving");
  health->add_option("--addr", opts->addr, "gRPC address host:port")
      ->envname("COFFER_ADDR")
      ->capture_default_str();
  health->add_option("--service", opts->service, "Service name (empty = whole server)");
  health->add_option("--timeout-ms", opts->timeout_ms, "Deadline in milliseconds")
      ->capture_default_str();
  health->callback([&ctx, &action, opts] {
    action = [&ctx, opts]() -> absl::Status {
      // TLS as every other command (--ca-file/--cert-file/--key-file or their environment
      // variables), without config.json: health checks run where no config directory exists.
      const EnvLookup env = ProcessEnv();
      auto pick = [&env](const std::string& flag, const char* name) {
        return flag.empty() ? env(name).value_or("") : flag;
      };
      const grpcx::ChannelTlsOptions tls = ChannelTls(pick(ctx.flags.ca_file, "COFFER_CA_FILE"),
                                                      pick(ctx.flags.cert_file, "COFFER_CERT_FILE"),
                                                      pick(ctx.flags.key_file, "COFFER_KEY_FILE"));
      auto st =
          CheckHealth(opts->addr, opts->service, std::chrono::milliseconds(opts->timeout_ms), tls);
      if (st.status().code() == absl::StatusCode::kInvalidArgument ||
          st.status().code() == absl::StatusCode::kNotFound ||
          st.status().code() == absl::StatusCode::kPermissionDenied) {
        return st.status();  // our own TLS files, not the server
      }
      if (!st.ok()) {
        return absl::UnavailableError(opts->addr +
                                      " unreachable: " + std::string(st.status().message()) +
                                      " (is the server running?)");
      }
      ctx.Emit(nlohmann::json{{"addr", opts->addr}, {"status", *st}}, *st + "\n");
      if (*st != "SERVING") {
        return absl::FailedPreconditionError(opts->addr + " is " + *st + ", not SERVING");
      }
      return absl::OkStatus();
    };
  });
}

std::string CodeName(absl::StatusCode code) {
  std::string name = absl::StatusCodeToString(code);
  for (auto& c : name) c = c == ' ' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

// "--password" when the user tried to pass a secret as an argument ("--password=x" too).
std::string SecretArgument(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    arg = arg.substr(0, arg.find('='));
    for (const char* secret : {"--password", "--secret", "--cvv", "--number"}) {
      if (arg == secret) return arg;
    }
  }
  return "";
}

constexpr char kFooter[] = R"(
Exit codes: 0 ok, 1 usage or invalid argument, 2 not found, 3 server unreachable,
4 conflict or failed precondition, 5 not logged in or not allowed, 6 rate limited,
7 not supported by the server, 8 internal error, 130 interrupted.
Environment: COFFER_CONFIG_DIR, COFFER_IDENTITY_ADDR, COFFER_VAULT_ADDR, COFFER_CA_FILE,
COFFER_OUTPUT. See cli/README.md.)";

}  // namespace

int Run(int argc, const char* const* argv, RunIo& io) {
  CommandContext ctx(io);
  Action action;

  CLI::App app{
      "coffer: the command-line client of Coffer, private records kept in sync across shards",
      "coffer"};
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too
  app.footer(kFooter);
  app.set_version_flag("--version", version::VersionLine("coffer"));

  app.add_option("--config-dir", ctx.flags.config_dir,
                 "Where tokens.json and config.json live (env COFFER_CONFIG_DIR; default "
                 "$XDG_CONFIG_HOME/coffer or ~/.config/coffer)");
  app.add_option(
      "--identity-addr", ctx.flags.identity_addr,
      "Identity service gRPC address (env COFFER_IDENTITY_ADDR; default 127.0.0.1:7000)");
  app.add_option("--vault-addr", ctx.flags.vault_addr,
                 "Vault shard gRPC address (env COFFER_VAULT_ADDR; default 127.0.0.1:7100)");
  app.add_option(
      "--ca-file", ctx.flags.ca_file,
      "PEM CA bundle: connect with TLS, verifying servers against it (env COFFER_CA_FILE)");
  app.add_option("--cert-file", ctx.flags.cert_file,
                 "PEM client certificate for servers that require one (mutual TLS; with "
                 "--key-file; env COFFER_CERT_FILE)");
  app.add_option("--key-file", ctx.flags.key_file,
                 "PEM private key of --cert-file (env COFFER_KEY_FILE)");
  app.add_option("-o,--output", ctx.output,
                 "Output format: table (default) or json (env COFFER_OUTPUT)")
      ->check(CLI::IsMember({"table", "json"}));
  app.add_option("--timeout", ctx.timeout_seconds, "Deadline of each call, in seconds")
      ->capture_default_str();
  app.add_option("--space", ctx.space_arg,
                 "Space of record, file, sync and watch commands: its name or id (default: your "
                 "personal space; see `coffer space ls`)");

  AddVersionCommand(app, ctx, action);
  AddHealthCommand(app, ctx, action);
  AddAuthCommands(app, ctx, action);
  AddRecordCommands(app, ctx, action);
  AddSyncCommands(app, ctx, action);
  AddFileCommands(app, ctx, action);
  AddSpaceCommands(app, ctx, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    app.exit(e, io.out, io.err);
    return static_cast<int>(ExitCode::kOk);
  } catch (const CLI::CallForAllHelp& e) {
    app.exit(e, io.out, io.err);
    return static_cast<int>(ExitCode::kOk);
  } catch (const CLI::CallForVersion& e) {
    app.exit(e, io.out, io.err);
    return static_cast<int>(ExitCode::kOk);
  } catch (const CLI::ParseError& e) {
    if (std::string flag = SecretArgument(argc, argv); !flag.empty()) {
      io.err << "coffer: secrets are never command-line arguments (shell history, `ps`): use "
             << flag << "-stdin, or omit it to be prompted without echo\n";
      return static_cast<int>(ExitCode::kUsage);
    }
    io.err << "coffer: " << e.what() << "; see `coffer --help`\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  if (!action) {
    io.err << "coffer: no command given; see `coffer --help`\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  if (ctx.output.empty()) {
    if (auto config = ctx.Config(); config.ok() && !ParseOutputFormat(config->default_output)) {
      io.err << "coffer: output format \"" << config->default_output
             << "\" (COFFER_OUTPUT or config.json) must be table or json\n";
      return static_cast<int>(ExitCode::kUsage);
    }
  }

  absl::Status status = action();
  if (status.ok()) return static_cast<int>(ExitCode::kOk);
  ExitCode code = ExitCodeFor(status);
  if (ctx.Json()) {
    nlohmann::json error{{"error",
                          {{"code", CodeName(status.code())},
                           {"message", ErrorLine(status)},
                           {"exit_code", static_cast<int>(code)}}}};
    io.err << error.dump() << "\n";
  } else {
    io.err << "coffer: " << ErrorLine(status) << "\n";
  }
  return static_cast<int>(code);
}

}  // namespace coffer::cli
