#include "cli/exit_code.h"

#include <gtest/gtest.h>

namespace coffer::cli {
namespace {

TEST(ExitCodeTest, MapsEveryCodeToItsDocumentedExitCode) {
  struct Case {
    absl::StatusCode code;
    int exit;
  };
  const Case cases[] = {
      {absl::StatusCode::kOk, 0},
      {absl::StatusCode::kInvalidArgument, 1},
      {absl::StatusCode::kOutOfRange, 1},
      {absl::StatusCode::kNotFound, 2},
      {absl::StatusCode::kUnavailable, 3},
      {absl::StatusCode::kDeadlineExceeded, 3},
      {absl::StatusCode::kFailedPrecondition, 4},
      {absl::StatusCode::kAborted, 4},
      {absl::StatusCode::kAlreadyExists, 4},
      {absl::StatusCode::kUnauthenticated, 5},
      {absl::StatusCode::kPermissionDenied, 5},
      {absl::StatusCode::kResourceExhausted, 6},
      {absl::StatusCode::kUnimplemented, 7},
      {absl::StatusCode::kInternal, 8},
      {absl::StatusCode::kUnknown, 8},
      {absl::StatusCode::kDataLoss, 8},
      {absl::StatusCode::kCancelled, 130},
  };
  for (const auto& c : cases) {
    absl::Status status =
        c.code == absl::StatusCode::kOk ? absl::OkStatus() : absl::Status(c.code, "x");
    EXPECT_EQ(static_cast<int>(ExitCodeFor(status)), c.exit) << absl::StatusCodeToString(c.code);
  }
}

TEST(ExitCodeTest, ErrorLineAddsWhatToDo) {
  EXPECT_EQ(ErrorLine(absl::UnauthenticatedError("token expired")),
            "token expired; run `coffer login`");
  EXPECT_EQ(ErrorLine(absl::NotFoundError("no record")),
            "no record; check the id with `coffer ls` (or `coffer trash`)");
}

TEST(ExitCodeTest, ErrorLineKeepsOwnAdviceAndIsOneLine) {
  EXPECT_EQ(ErrorLine(absl::UnauthenticatedError("not logged in: run `coffer login`")),
            "not logged in: run `coffer login`");
  std::string line = ErrorLine(absl::InternalError("a\nb\rc"));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_EQ(line, "a b c");
}

TEST(ExitCodeTest, EmptyMessageFallsBackToCodeName) {
  EXPECT_EQ(ErrorLine(absl::Status(absl::StatusCode::kInternal, "")), "INTERNAL");
}

}  // namespace
}  // namespace coffer::cli
