// Failpoints: named places in production code where a test can make the process fail on
// purpose, e.g. crash the outbox relay between Kafka's acknowledgement and the outbox delete.
//
// Off unless the environment variable COFFER_FAILPOINT_DIR names a directory. A test arms the
// failpoint `name` by creating the file `<dir>/<name>`; the next Fire(name) removes the file
// (so it fires once per arming) and returns true. The check costs one stat() while the variable
// is set and nothing otherwise.
//
// Threading: any thread; two threads racing on one armed failpoint fire it once.
#pragma once

#include <string>
#include <string_view>

namespace coffer::failpoint {

// True once per arming of `name` (see above).
bool Fire(std::string_view name);

// When `name` fires: logs it and kills this process with SIGKILL (no clean-up runs, as in a
// power cut or an OOM kill).
void CrashIfFired(std::string_view name);

// Arms `name` under `dir` (what a test does); false when the file cannot be created.
bool Arm(const std::string& dir, std::string_view name);

}  // namespace coffer::failpoint
