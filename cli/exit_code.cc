#include "cli/exit_code.h"

#include <algorithm>

namespace coffer::cli {

ExitCode ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return ExitCode::kOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return ExitCode::kUsage;
    case absl::StatusCode::kNotFound:
      return ExitCode::kNotFound;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return ExitCode::kUnavailable;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kAlreadyExists:
      return ExitCode::kConflict;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return ExitCode::kAuth;
    case absl::StatusCode::kResourceExhausted:
      return ExitCode::kRateLimited;
    case absl::StatusCode::kUnimplemented:
      return ExitCode::kUnimplemented;
    case absl::StatusCode::kCancelled:
      return ExitCode::kInterrupted;
    default:
      return ExitCode::kInternal;
  }
}

std::string HintFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnauthenticated:
      return "run `coffer login`";
    case absl::StatusCode::kPermissionDenied:
      return "your account lacks the rights for this; ask an admin";
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return "is the server running? check --identity-addr / --vault-addr or `coffer health`";
    case absl::StatusCode::kNotFound:
      return "check the id with `coffer ls` (or `coffer trash`)";
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return "re-read with `coffer get` and retry";
    case absl::StatusCode::kResourceExhausted:
      return "wait a little and retry";
    case absl::StatusCode::kUnimplemented:
      return "the server does not support this yet; upgrade the server";
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return "see `coffer <command> --help`";
    default:
      return "";
  }
}

std::string ErrorLine(const absl::Status& status) {
  std::string line(status.message());
  if (line.empty()) line = absl::StatusCodeToString(status.code());
  std::replace(line.begin(), line.end(), '\n', ' ');
  std::replace(line.begin(), line.end(), '\r', ' ');
  // Messages we build ourselves already say what to do; do not add a second hint.
  if (line.find('`') != std::string::npos) return line;
  std::string hint = HintFor(status.code());
  if (!hint.empty()) line += "; " + hint;
  return line;
}

}  // namespace coffer::cli
