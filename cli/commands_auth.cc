// `coffer register | login | logout | whoami`.
#include <ctime>

#include "cli/commands.h"
#include "cli/token_manager.h"

namespace coffer::cli {

namespace idv1 = ::coffer::identity::v1;

absl::StatusOr<std::optional<std::string>> ReadSecret(CommandContext& ctx, const std::string& what,
                                                      bool from_stdin, bool confirm) {
  Terminal& term = ctx.terminal();
  if (from_stdin) {
    auto line = term.ReadStdinLine();
    if (!line.ok()) {
      return absl::InvalidArgumentError("expected the " + what + " as one line on stdin");
    }
    return std::optional<std::string>(*line);
  }
  if (!term.Interactive()) return std::optional<std::string>();
  std::string label = what;
  if (!label.empty()) label[0] = static_cast<char>(std::toupper(label[0]));
  auto first = term.PromptSecret(label + ": ");
  if (!first.ok()) return first.status();
  if (confirm) {
    auto second = term.PromptSecret("Repeat " + what + ": ");
    if (!second.ok()) return second.status();
    if (*first != *second) return absl::InvalidArgumentError("the " + what + "s do not match");
  }
  return std::optional<std::string>(*first);
}

namespace {

struct Credentials {
  std::string login;
  bool password_stdin = false;
};

absl::StatusOr<std::pair<std::string, std::string>> LoginAndPassword(CommandContext& ctx,
                                                                     const Credentials& creds,
                                                                     bool confirm) {
  std::string login = creds.login;
  if (login.empty()) {
    if (!ctx.terminal().Interactive() || creds.password_stdin) {
      return absl::InvalidArgumentError("give the login as an argument, e.g. `coffer login alice`");
    }
    auto line = ctx.terminal().PromptLine("Login: ");
    if (!line.ok()) return line.status();
    login = *line;
  }
  auto password = ReadSecret(ctx, "password", creds.password_stdin, confirm);
  if (!password.ok()) return password.status();
  if (!password->has_value()) {
    return absl::InvalidArgumentError(
        "no password: pipe it with `--password-stdin` or run in a terminal to be prompted");
  }
  return std::make_pair(login, **password);
}

std::string FormatUnix(int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void AddPasswordFlags(CLI::App* cmd, Credentials& creds) {
  cmd->add_option("login", creds.login, "Login name (prompted when omitted in a terminal)");
  cmd->add_flag("--password-stdin", creds.password_stdin,
                "Read the password as one line from stdin (for scripts); otherwise prompted "
                "without echo");
}

}  // namespace

void AddAuthCommands(CLI::App& app, CommandContext& ctx, Action& action) {
  auto reg = std::make_shared<Credentials>();
  auto* register_cmd = app.add_subcommand("register", "Create a user account");
  AddPasswordFlags(register_cmd, *reg);
  register_cmd->callback([&ctx, &action, reg] {
    action = [&ctx, reg]() -> absl::Status {
      auto creds = LoginAndPassword(ctx, *reg, /*confirm=*/true);
      if (!creds.ok()) return creds.status();
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Identity());
      idv1::RegisterRequest request;
      request.set_login(creds->first);
      request.set_password(creds->second);
      idv1::RegisterResponse response;
      absl::Status st = session->CallIdentityPublic(
          [&](grpc::ClientContext& c) { return stub->Register(&c, request, &response); });
      if (st.code() == absl::StatusCode::kAlreadyExists) {
        return absl::AlreadyExistsError(
            "login \"" + creds->first +
            "\" is taken: choose another, or `coffer login` if it is yours");
      }
      if (!st.ok()) return st;
      ctx.Emit(nlohmann::json{{"login", creds->first}, {"user_id", response.user_id()}},
               "registered " + creds->first + " (user id " + response.user_id() +
                   "); now run `coffer login " + creds->first + "`\n");
      return absl::OkStatus();
    };
  });

  auto login = std::make_shared<Credentials>();
  auto* login_cmd = app.add_subcommand(
      "login", "Log in and store the session (tokens.json, mode 0600, in the config directory)");
  AddPasswordFlags(login_cmd, *login);
  login_cmd->callback([&ctx, &action, login] {
    action = [&ctx, login]() -> absl::Status {
      auto creds = LoginAndPassword(ctx, *login, /*confirm=*/false);
      if (!creds.ok()) return creds.status();
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Identity());
      idv1::LoginRequest request;
      request.set_login(creds->first);
      request.set_password(creds->second);
      idv1::LoginResponse response;
      absl::Status st = session->CallIdentityPublic(
          [&](grpc::ClientContext& c) { return stub->Login(&c, request, &response); });
      if (st.code() == absl::StatusCode::kUnauthenticated) {
        return absl::UnauthenticatedError("wrong login or password");
      }
      if (!st.ok()) return st;
      StoredTokens tokens = TokenManager::FromPair(response.tokens(), session->Now(), creds->first,
                                                   session->config().identity_addr);
      COFFER_RETURN_IF_ERROR(TokenStore(session->config().config_dir).Save(tokens));
      ctx.Emit(nlohmann::json{{"login", creds->first},
                              {"access_expires_at", FormatUnix(tokens.access_expires_at)},
                              {"scope", tokens.scope}},
               "logged in as " + creds->first + " (session stored in " +
                   session->config().config_dir + "/tokens.json)\n");
      return absl::OkStatus();
    };
  });

  auto* logout_cmd =
      app.add_subcommand("logout", "Revoke the session on the server and forget it locally");
  logout_cmd->callback([&ctx, &action] {
    action = [&ctx]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      TokenStore store(session->config().config_dir);
      COFFER_ASSIGN_OR_RETURN(auto stored, store.Load());
      if (!stored) {
        ctx.Emit(nlohmann::json{{"logged_out", false}}, "not logged in\n");
        return absl::OkStatus();
      }
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Identity());
      idv1::LogoutRequest request;
      request.set_refresh_token(stored->refresh_token);
      idv1::LogoutResponse response;
      absl::Status st = session->CallIdentityPublic([&](grpc::ClientContext& c) {
        c.AddMetadata("authorization", "Bearer " + stored->access_token);
        return stub->Logout(&c, request, &response);
      });
      COFFER_RETURN_IF_ERROR(store.Clear());
      if (!st.ok()) {
        return absl::Status(st.code(),
                            "forgot the local session, but could not revoke it on the "
                            "server: " +
                                std::string(st.message()));
      }
      ctx.Emit(nlohmann::json{{"logged_out", true}, {"login", stored->login}},
               "logged out " + stored->login + "\n");
      return absl::OkStatus();
    };
  });

  auto* whoami_cmd = app.add_subcommand("whoami", "Show who the stored session belongs to");
  whoami_cmd->callback([&ctx, &action] {
    action = [&ctx]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Identity());
      idv1::WhoAmIRequest request;
      idv1::WhoAmIResponse response;
      COFFER_RETURN_IF_ERROR(session->CallIdentity(
          [&](grpc::ClientContext& c) { return stub->WhoAmI(&c, request, &response); }));
      COFFER_ASSIGN_OR_RETURN(StoredTokens stored, session->tokens().Session());
      std::vector<std::string> scopes(response.scopes().begin(), response.scopes().end());
      std::string scope_text;
      for (const auto& s : scopes) scope_text += (scope_text.empty() ? "" : " ") + s;
      KeyValueList list;
      list.Add("login", response.login());
      list.Add("user id", response.sub());
      list.Add("scopes", scope_text);
      list.Add("service account", response.is_service_account() ? "yes" : "no");
      list.Add("identity", session->config().identity_addr);
      list.Add("vault", session->config().vault_addr);
      list.Add("token expires", FormatUnix(stored.access_expires_at));
      ctx.Emit(nlohmann::json{{"login", response.login()},
                              {"sub", response.sub()},
                              {"scopes", scopes},
                              {"is_service_account", response.is_service_account()},
                              {"identity_addr", session->config().identity_addr},
                              {"vault_addr", session->config().vault_addr},
                              {"access_expires_at", FormatUnix(stored.access_expires_at)}},
               list.Render());
      return absl::OkStatus();
    };
  });
}

}  // namespace coffer::cli
