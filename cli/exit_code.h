// Exit codes of the `coffer` CLI and the one place gRPC / absl status codes map onto them.
//
// Why: scripts branch on the exit code ("retry when 3", "re-login when 5"), so the mapping must
// be stable, documented (cli/README.md, "Exit codes") and decided in exactly one function.
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace coffer::cli {

// The documented exit codes. Never renumber: scripts depend on them.
enum class ExitCode : int {
  kOk = 0,             // success
  kUsage = 1,          // bad command line or invalid argument (INVALID_ARGUMENT, OUT_OF_RANGE)
  kNotFound = 2,       // no such record / version / user (NOT_FOUND)
  kUnavailable = 3,    // server unreachable or too slow (UNAVAILABLE, DEADLINE_EXCEEDED)
  kConflict = 4,       // version conflict or precondition (FAILED_PRECONDITION, ABORTED,
                       // ALREADY_EXISTS); also `coffer health` on a non-SERVING server
  kAuth = 5,           // not logged in, session expired, or not allowed
                       // (UNAUTHENTICATED, PERMISSION_DENIED)
  kRateLimited = 6,    // too many attempts or a server limit (RESOURCE_EXHAUSTED)
  kUnimplemented = 7,  // the server does not offer this operation yet (UNIMPLEMENTED)
  kInternal = 8,       // anything else: server or client bug (INTERNAL, UNKNOWN, ...)
  kInterrupted = 130,  // stopped by Ctrl-C (CANCELLED from a signal)
};

// Maps a status to the process exit code. OK -> kOk.
ExitCode ExitCodeFor(const absl::Status& status);

// A short hint that says what to do about an error of this code, e.g. "run `coffer login`";
// empty when there is nothing useful to add.
std::string HintFor(absl::StatusCode code);

// The one-line error text printed on stderr (without the "coffer: " prefix): the message and,
// when useful, "; <hint>". Never contains a newline.
std::string ErrorLine(const absl::Status& status);

}  // namespace coffer::cli
