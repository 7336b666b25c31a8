// The CLI's view of the user's terminal: prompts (secrets with echo off via termios) and stdin.
//
// Why an interface: commands ask for passwords and read `--password-stdin` through it, so unit
// tests drive them with a scripted FakeTerminal and never need a TTY.
// Not thread-safe; one command uses it at a time.
#pragma once

#include <istream>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"

namespace coffer::cli {

class Terminal {
 public:
  virtual ~Terminal() = default;

  // True when stdin is a terminal, so prompting makes sense.
  virtual bool Interactive() const = 0;

  // Prints `prompt` on stderr and reads one line from the terminal with echo off. CANCELLED on
  // end of input.
  virtual absl::StatusOr<std::string> PromptSecret(const std::string& prompt) = 0;

  // Prints `prompt` on stderr and reads one line (echoed).
  virtual absl::StatusOr<std::string> PromptLine(const std::string& prompt) = 0;

  // Reads one line from stdin without the line ending (for `--password-stdin`). An empty stdin
  // is INVALID_ARGUMENT.
  virtual absl::StatusOr<std::string> ReadStdinLine() = 0;

  // Reads all of stdin as bytes (for `--text-file -`).
  virtual absl::StatusOr<std::string> ReadStdinAll() = 0;
};

// The real terminal over file descriptor 0 and std::cin / std::cerr.
std::unique_ptr<Terminal> MakeStdTerminal();

// A terminal over streams: `interactive` decides what Interactive() says; prompts go to `err`
// and every read comes from `in` (a secret prompt reads a line like any other). For tests, and
// for Run() callers that pass streams.
std::unique_ptr<Terminal> MakeStreamTerminal(std::istream& in, std::ostream& err, bool interactive);

}  // namespace coffer::cli
