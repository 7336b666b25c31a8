#include "cli/terminal.h"

#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <iterator>

namespace coffer::cli {
namespace {

absl::StatusOr<std::string> ReadLine(std::istream& in, const char* what) {
  std::string line;
  if (!std::getline(in, line)) {
    return absl::InvalidArgumentError(std::string("no ") + what + " on stdin");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

class StreamTerminal : public Terminal {
 public:
  StreamTerminal(std::istream& in, std::ostream& err, bool interactive)
      : in_(in), err_(err), interactive_(interactive) {}

  bool Interactive() const override { return interactive_; }

  absl::StatusOr<std::string> PromptSecret(const std::string& prompt) override {
    return PromptLine(prompt);
  }

  absl::StatusOr<std::string> PromptLine(const std::string& prompt) override {
    err_ << prompt << std::flush;
    std::string line;
    if (!std::getline(in_, line)) return absl::CancelledError("input ended");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }

  absl::StatusOr<std::string> ReadStdinLine() override { return ReadLine(in_, "input"); }

  absl::StatusOr<std::string> ReadStdinAll() override {
    return std::string(std::istreambuf_iterator<char>(in_), std::istreambuf_iterator<char>());
  }

 private:
  std::istream& in_;
  std::ostream& err_;
  bool interactive_;
};

// Restores the terminal's attributes on every exit path, so an error (or an exception) never
// leaves the user's shell without echo.
class EchoOff {
 public:
  EchoOff() {
    if (::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios quiet = saved_;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      quiet.c_lflag |= ECHONL;
      active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
  }
  ~EchoOff() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

class StdTerminal : public StreamTerminal {
 public:
  StdTerminal() : StreamTerminal(std::cin, std::cerr, ::isatty(STDIN_FILENO) == 1) {}

  absl::StatusOr<std::string> PromptSecret(const std::string& prompt) override {
    EchoOff guard;
    return StreamTerminal::PromptLine(prompt);
  }
};

}  // namespace

std::unique_ptr<Terminal> MakeStdTerminal() { return std::make_unique<StdTerminal>(); }

std::unique_ptr<Terminal> MakeStreamTerminal(std::istream& in, std::ostream& err,
                                             bool interactive) {
  return std::make_unique<StreamTerminal>(in, err, interactive);
}

}  // namespace coffer::cli
