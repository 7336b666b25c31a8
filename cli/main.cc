// coffer: the command-line client. Thin: hand the process's I/O to cli::Run (cli/app.h).
#include <ctime>
#include <iostream>

#include "cli/app.h"

int main(int argc, char** argv) {
  auto terminal = coffer::cli::MakeStdTerminal();
  coffer::cli::RunIo io{std::cout, std::cerr, *terminal, coffer::cli::ProcessEnv(),
                        [] { return static_cast<int64_t>(std::time(nullptr)); }};
  return coffer::cli::Run(argc, argv, io);
}
