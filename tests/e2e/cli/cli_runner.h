// Shared by the CLI end-to-end tests: starting a server process and running the built CLI.
// The including target defines COFFER_CLI_BIN (see tests/e2e/cli/CMakeLists.txt).
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pkg/testing/process.h"

extern char** environ;

namespace coffer::cli::e2e {

// Starts `argv` with its output in `log_path`; `*grpc_port` is 0 when it does not come up.
inline std::unique_ptr<testing::ChildProcess> StartServer(const std::string& name,
                                                          std::vector<std::string> argv,
                                                          const std::string& log_path,
                                                          int* grpc_port) {
  auto p = std::make_unique<testing::ChildProcess>(
      name, testing::ChildProcess::Options{.argv = std::move(argv), .log_path = log_path});
  *grpc_port = p->Start() ? p->WaitForLogInt("grpc_port") : 0;
  return p;
}

// The command line of a test identity on loopback ports the kernel picks: Argon2 at its
// cheapest and no login or register limits (the tests register many users quickly).
// COFFER_IDENTITY_BIN is defined by the including target.
inline std::vector<std::string> TestIdentityArgv(const std::string& dsn, const std::string& kek) {
  return {COFFER_IDENTITY_BIN,
          "--grpc-addr",
          "127.0.0.1:0",
          "--admin-addr",
          "127.0.0.1:0",
          "--http-addr",
          "127.0.0.1:0",
          "--db-dsn",
          dsn,
          "--kek",
          kek,
          "--argon2-ops-limit",
          "1",
          "--argon2-memory-kib",
          "8192",
          "--login-limit-per-address",
          "0",
          "--login-limit-per-login",
          "0",
          "--register-limit-per-address",
          "0",
          "--register-limit-per-login",
          "0"};
}

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the built CLI with `stdin_text` on stdin (a file, so never a terminal) and only the
// COFFER_* environment in `env` (the test's own COFFER_* variables are not passed on).
inline CliResult RunCli(const std::vector<std::string>& args, const std::string& stdin_text,
                        const std::map<std::string, std::string>& env) {
  char tmpl[] = "/tmp/coffer-cli-e2e-io-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  const std::string in_path = dir + "/in", out_path = dir + "/out", err_path = dir + "/err";
  std::ofstream(in_path, std::ios::binary) << stdin_text;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> argv = {COFFER_CLI_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargs;
  for (auto& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    if (kv.rfind("COFFER_", 0) == 0) continue;  // only what the test sets
    envs.push_back(kv);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> cenv;
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  CliResult result;
  pid_t pid = -1;
  if (posix_spawn(&pid, cargs[0], &actions, nullptr, cargs.data(), cenv.data()) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  posix_spawn_file_actions_destroy(&actions);
  result.out = testing::ReadWholeFile(out_path);
  result.err = testing::ReadWholeFile(err_path);
  std::filesystem::remove_all(dir);
  return result;
}

}  // namespace coffer::cli::e2e
