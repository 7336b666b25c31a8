// The command tree without servers: help, usage errors, secrets-as-arguments, not logged in,
// unreachable servers, and JSON errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/token_store.h"
#include "tests/unit/cli/cli_runner.h"

namespace coffer::cli {
namespace {

using ::testing::HasSubstr;

TEST(AppTest, HelpListsEveryCommandAndExitCodes) {
  CliRunner cli;
  CliResult r = cli.Run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd :
       {"register", "login", "logout",   "whoami", "add",    "get",        "edit", "rm",
        "restore",  "trash", "undelete", "ls",     "search", "history",    "otp",  "conflicts",
        "sync",     "watch", "version",  "health", "space",  "invitations"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string("\n  ") + cmd + " ")) << cmd;
  }
  EXPECT_THAT(r.out, HasSubstr("Exit codes: 0 ok"));
}

TEST(AppTest, EverySubcommandHasHelp) {
  CliRunner cli;
  for (std::vector<std::string> args : {std::vector<std::string>{"add", "credential", "--help"},
                                        {"add", "card", "--help"},
                                        {"add", "otp", "--help"},
                                        {"add", "text", "--help"},
                                        {"add", "instrument", "--help"},
                                        {"add", "file-ref", "--help"},
                                        {"add", "sealed", "--help"},
                                        {"edit", "--help"},
                                        {"ls", "--help"},
                                        {"get", "--help"},
                                        {"login", "--help"},
                                        {"sync", "--help"},
                                        {"watch", "--help"},
                                        {"register", "--help"},
                                        {"logout", "--help"},
                                        {"whoami", "--help"},
                                        {"rm", "--help"},
                                        {"undelete", "--help"},
                                        {"restore", "--help"},
                                        {"trash", "--help"},
                                        {"search", "--help"},
                                        {"history", "--help"},
                                        {"otp", "--help"},
                                        {"conflicts", "--help"},
                                        {"version", "--help"},
                                        {"health", "--help"},
                                        {"space", "--help"},
                                        {"space", "create", "--help"},
                                        {"space", "ls", "--help"},
                                        {"space", "show", "--help"},
                                        {"space", "rename", "--help"},
                                        {"space", "rm", "--help"},
                                        {"space", "invite", "--help"},
                                        {"space", "accept", "--help"},
                                        {"space", "decline", "--help"},
                                        {"space", "revoke", "--help"},
                                        {"space", "members", "--help"},
                                        {"space", "role", "--help"},
                                        {"space", "remove", "--help"},
                                        {"space", "leave", "--help"},
                                        {"space", "transfer", "--help"},
                                        {"invitations", "--help"}}) {
    CliResult r = cli.Run(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_THAT(r.out, HasSubstr("Usage: coffer")) << args[0];
    // Not just a usage line: the command's own description is there.
    EXPECT_GT(r.out.size(), 80u) << args[0];
  }
  EXPECT_THAT(cli.Run({"add", "credential", "--help"}).out, HasSubstr("--password-stdin"));
  EXPECT_THAT(cli.Run({"add", "card", "--help"}).out, HasSubstr("--cvv-stdin"));
  EXPECT_THAT(cli.Run({"add", "otp", "--help"}).out, HasSubstr("--secret-stdin"));
  EXPECT_THAT(cli.Run({"edit", "--help"}).out, HasSubstr("--password-prompt"));
}

TEST(AppTest, NoCommandIsUsageError) {
  CliRunner cli;
  EXPECT_EQ(cli.Run({}).exit_code, 1);
  EXPECT_EQ(cli.Run({"frobnicate"}).exit_code, 1);
  EXPECT_EQ(cli.Run({"ls", "--output", "yaml"}).exit_code, 1);
}

TEST(AppTest, SecretsAreRejectedAsArguments) {
  CliRunner cli;
  for (std::vector<std::string> args :
       {std::vector<std::string>{"add", "credential", "--name", "x", "--password", "hunter2"},
        {"add", "credential", "--name", "x", "--password=hunter2"},
        {"add", "otp", "--name", "x", "--secret", "GEZDGNBV"},
        {"login", "alice", "--password", "pw"}}) {
    CliResult r = cli.Run(args);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("never command-line arguments"));
    EXPECT_THAT(r.err, HasSubstr("-stdin"));
    EXPECT_THAT(r.err, ::testing::Not(HasSubstr("hunter2")));
  }
}

TEST(AppTest, VersionPrintsVersionCommitAndDate) {
  CliRunner cli;
  CliResult text = cli.Run({"version"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_THAT(text.out, HasSubstr("coffer "));
  EXPECT_THAT(text.out, HasSubstr("commit"));
  CliResult json = cli.Run({"version", "-o", "json"});
  auto parsed = nlohmann::json::parse(json.out);
  EXPECT_TRUE(parsed.contains("version"));
  EXPECT_TRUE(parsed.contains("git_commit"));
  EXPECT_TRUE(parsed.contains("build_date"));
}

TEST(AppTest, CommandsNeedALogin) {
  CliRunner cli;
  CliResult r = cli.Run({"ls"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.err, "coffer: not logged in: run `coffer login`\n");
  EXPECT_EQ(r.out, "");
}

TEST(AppTest, JsonErrorsAreMachineReadable) {
  CliRunner cli;
  CliResult r = cli.Run({"-o", "json", "get", "x"});
  EXPECT_EQ(r.exit_code, 5);
  auto error = nlohmann::json::parse(r.err)["error"];
  EXPECT_EQ(error["code"], "UNAUTHENTICATED");
  EXPECT_EQ(error["exit_code"], 5);
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("coffer login"));
}

TEST(AppTest, OutputFormatFromEnvironment) {
  CliRunner cli;
  cli.SetEnv("COFFER_OUTPUT", "json");
  CliResult r = cli.Run({"version"});
  EXPECT_TRUE(nlohmann::json::accept(r.out)) << r.out;
  cli.SetEnv("COFFER_OUTPUT", "xml");
  EXPECT_EQ(cli.Run({"version"}).exit_code, 1);
}

TEST(AppTest, LoginWithoutPasswordInScriptIsUsageError) {
  CliRunner cli;
  CliResult r = cli.Run({"login", "alice"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--password-stdin"));
  EXPECT_EQ(cli.Run({"login", "alice", "--password-stdin"}, "").exit_code, 1);
}

TEST(AppTest, OtpNeedsSecretAndEditNeedsAChange) {
  CliRunner cli;
  CliResult otp = cli.Run({"add", "otp", "--name", "gh"});
  EXPECT_EQ(otp.exit_code, 1);
  EXPECT_THAT(otp.err, HasSubstr("--secret-stdin"));
  CliResult edit = cli.Run({"edit", "some-record"});
  EXPECT_EQ(edit.exit_code, 1);
  EXPECT_THAT(edit.err, HasSubstr("nothing to change"));
  EXPECT_EQ(cli.Run({"add", "card", "--name", "c", "--expiry", "13/2030"}).exit_code, 1);
}

TEST(AppTest, SpaceArgumentsAreCheckedBeforeAnythingIsSent) {
  CliRunner cli;  // not logged in: these fail before the session is needed
  for (std::vector<std::string> args :
       {std::vector<std::string>{"space", "invite", "team", "bob", "--role", "owner"},
        {"space", "invite", "team", "bob", "--role", "writer", "--expires", "0d"},
        {"space", "invite", "team", "bob", "--role", "writer", "--expires", "5w"},
        {"space", "role", "team", "bob", "superuser"},
        {"space", "accept", "not-an-id"},
        {"space", "rm", "team"}}) {
    CliResult r = cli.Run(args);
    EXPECT_EQ(r.exit_code, 1) << args[1] << ": " << r.err;
  }
  EXPECT_THAT(cli.Run({"space", "rm", "team"}).err, HasSubstr("--yes"));
  EXPECT_EQ(cli.Run({"space", "invite", "team", "bob"}).exit_code, 1);  // --role is required
  EXPECT_EQ(cli.Run({"space"}).exit_code, 1);
}

TEST(AppTest, UnreachableVaultIsExitCodeThree) {
  CliRunner cli;
  StoredTokens tokens;
  tokens.access_token = "a";
  tokens.refresh_token = "r";
  tokens.access_expires_at = 1'700'000'000 + 3600;
  ASSERT_TRUE(TokenStore(cli.config_dir()).Save(tokens).ok());
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  CliResult r = cli.Run({"--vault-addr", "127.0.0.1:1", "--timeout", "3", "ls"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("vault service at 127.0.0.1:1 is not reachable"));
}

TEST(AppTest, HealthOfUnreachableServerIsExitCodeThree) {
  CliRunner cli;
  CliResult r = cli.Run({"health", "--addr", "127.0.0.1:1", "--timeout-ms", "500"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("unreachable"));
}

TEST(AppTest, LogoutWhenLoggedOutIsFine) {
  CliRunner cli;
  CliResult r = cli.Run({"logout"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "not logged in\n");
}

}  // namespace
}  // namespace coffer::cli
