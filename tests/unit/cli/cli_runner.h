// Test helper: runs coffer::cli::Run in-process with string streams, a scripted stdin and a
// fake environment whose COFFER_CONFIG_DIR is a fresh temporary directory.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/app.h"

namespace coffer::cli {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class CliRunner {
 public:
  CliRunner() {
    char tmpl[] = "/tmp/coffer-cli-run-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    env_["COFFER_CONFIG_DIR"] = dir_;
  }
  ~CliRunner() { std::filesystem::remove_all(dir_); }

  const std::string& config_dir() const { return dir_; }
  void SetEnv(const std::string& name, const std::string& value) { env_[name] = value; }
  void set_now(int64_t now) { now_ = now; }

  CliResult Run(std::vector<std::string> args, const std::string& stdin_text = "",
                bool interactive = false) {
    std::istringstream in(stdin_text);
    std::ostringstream out;
    std::ostringstream err;
    auto terminal = MakeStreamTerminal(in, err, interactive);
    auto env = env_;
    RunIo io{out, err, *terminal,
             [env](const std::string& name) -> std::optional<std::string> {
               auto it = env.find(name);
               if (it == env.end()) return std::nullopt;
               return it->second;
             },
             [this] { return now_; }};
    args.insert(args.begin(), "coffer");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    CliResult result;
    result.exit_code = coffer::cli::Run(static_cast<int>(argv.size()), argv.data(), io);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

 private:
  std::string dir_;
  std::map<std::string, std::string> env_;
  int64_t now_ = 1'700'000'000;
};

}  // namespace coffer::cli
