// The `coffer` command tree: Run() parses the command line with CLI11, runs one command and
// returns its exit code (cli/exit_code.h). main.cc only calls Run with the real process I/O.
//
// Why streams and an environment lookup instead of std::cout / getenv: unit tests drive the
// whole tree (help text, usage errors, "not logged in" paths) hermetically.
// Not thread-safe; one Run at a time per RunIo.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>

#include "cli/config.h"
#include "cli/terminal.h"

namespace coffer::cli {

// Everything a command touches outside the process.
struct RunIo {
  std::ostream& out;               // results
  std::ostream& err;               // errors, prompts, progress
  Terminal& terminal;              // prompts and stdin
  EnvLookup env;                   // environment variables
  std::function<int64_t()> clock;  // Unix seconds
};

// Parses argv, runs the command, returns the process exit code.
int Run(int argc, const char* const* argv, RunIo& io);

}  // namespace coffer::cli
