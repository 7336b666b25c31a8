// ChildProcess: a server binary started by a test (posix_spawn), its stdout and stderr appended
// to a log file, optionally with a pipe on stdin for line commands. Used by the end-to-end tests
// that run real coffer processes (CLI e2e, shard convergence under faults).
//
// Threading: one owner thread; Signal() may be called from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace coffer::testing {

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is the binary's path
    std::string log_path;           // stdout + stderr, appended
    // Extra environment entries "KEY=value" on top of this process's environment.
    std::vector<std::string> env;
    bool stdin_pipe = false;  // else stdin is /dev/null
  };

  explicit ChildProcess(std::string name, Options options);
  ~ChildProcess();  // Stop()
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Spawns the process (again, after it exited: a restart). False when posix_spawn failed.
  bool Start();
  // Replaces the argv used by the next Start(), e.g. to pin a port picked on the first start.
  void set_argv(std::vector<std::string> argv) { options_.argv = std::move(argv); }

  // Waits for the JSON log line carrying `field` (an integer, e.g. "grpc_port") written since the
  // last Start() and returns it, or 0 when the process exited or `timeout` passed.
  int WaitForLogInt(const std::string& field,
                    std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Waits for a log line, written since the last Start(), that contains `text`.
  bool WaitForLogText(const std::string& text,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // Sends `signal` (SIGSTOP, SIGCONT, SIGKILL...) to the running process; false when not running.
  bool Signal(int signal);
  // Writes a line (a '\n' is added) to the stdin pipe; false without a pipe or when it broke.
  bool WriteLine(const std::string& line);
  // Reaps the process if it exited; true while it runs.
  bool Running();
  // Waits up to `timeout` for the process to exit; its wait status, or nullopt on timeout.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  // SIGTERM (SIGCONT first, in case it is paused), SIGKILL after `grace`, reaps it.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // SIGKILL and reap.
  void Kill();

  // The whole log file, and the part written since the last Start().
  std::string Log() const;
  std::string LogSinceStart() const;
  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }

 private:
  std::string name_;
  Options options_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  size_t log_offset_ = 0;  // log size at the last Start()
};

// Reads a whole file; empty when it cannot be read.
std::string ReadWholeFile(const std::string& path);

}  // namespace coffer::testing
