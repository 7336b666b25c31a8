#include "pkg/testing/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

extern char** environ;

namespace coffer::testing {

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ChildProcess::ChildProcess(std::string name, Options options)
    : name_(std::move(name)), options_(std::move(options)) {}

ChildProcess::~ChildProcess() { Stop(); }

bool ChildProcess::Start() {
  if (pid_ > 0) return false;
  log_offset_ = ReadWholeFile(options_.log_path).size();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  int pipe_fds[2] = {-1, -1};
  if (options_.stdin_pipe) {
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) return false;
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, options_.log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<std::string> argv = options_.argv;
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
  envs.insert(envs.end(), options_.env.begin(), options_.env.end());
  std::vector<char*> cenv;
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  if (options_.stdin_pipe) {
    close(pipe_fds[0]);
    stdin_fd_ = pipe_fds[1];
  }
  if (rc != 0) {
    pid_ = -1;
    if (stdin_fd_ >= 0) close(stdin_fd_);
    stdin_fd_ = -1;
    return false;
  }
  return true;
}

std::string ChildProcess::Log() const { return ReadWholeFile(options_.log_path); }

std::string ChildProcess::LogSinceStart() const {
  std::string log = Log();
  return log.size() > log_offset_ ? log.substr(log_offset_) : std::string();
}

int ChildProcess::WaitForLogInt(const std::string& field, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::istringstream lines(LogSinceStart());
    std::string line;
    while (std::getline(lines, line)) {
      if (line.find(field) == std::string::npos) continue;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains(field) && j[field].is_number_integer()) {
        return j[field].get<int>();
      }
    }
    if (!Running()) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return 0;
}

bool ChildProcess::WaitForLogText(const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (LogSinceStart().find(text) != std::string::npos) return true;
    if (!Running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool ChildProcess::Signal(int signal) {
  pid_t pid = pid_;
  return pid > 0 && kill(pid, signal) == 0;
}

bool ChildProcess::WriteLine(const std::string& line) {
  if (stdin_fd_ < 0) return false;
  std::string data = line + "\n";
  // A dead reader must fail the write, not kill the test with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  return write(stdin_fd_, data.data(), data.size()) == static_cast<ssize_t>(data.size());
}

bool ChildProcess::Running() { return !WaitExit(std::chrono::milliseconds(0)).has_value(); }

std::optional<int> ChildProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (stdin_fd_ >= 0) close(stdin_fd_);
      stdin_fd_ = -1;
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return;
  kill(pid_, SIGCONT);
  kill(pid_, SIGTERM);
  if (WaitExit(grace)) return;
  Kill();
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  WaitExit(std::chrono::hours(1));
}

}  // namespace coffer::testing
