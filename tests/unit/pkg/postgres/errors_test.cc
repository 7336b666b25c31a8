#include "pkg/postgres/errors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <pqxx/except>

#include "pkg/testing/status_matchers.h"

namespace coffer::postgres {
namespace {

using ::coffer::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// What libpq reports for a duplicate key: the DETAIL line echoes the key value.
constexpr char kDuplicate[] =
    "ERROR:  duplicate key value violates unique constraint \"records_pkey\"\n"
    "DETAIL:  Key (id)=(s3cr3t-value) already exists.\n";
constexpr char kQuery[] = "INSERT INTO records VALUES ('s3cr3t-value')";

TEST(StatusFromExceptionTest, UniqueViolationIsAlreadyExistsWithoutValues) {
  absl::Status s = StatusFromException(pqxx::unique_violation(kDuplicate, kQuery, "23505"));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAlreadyExists,
                          AllOf(HasSubstr("records_pkey"), HasSubstr("23505"),
                                Not(HasSubstr("s3cr3t")), Not(HasSubstr("ERROR")))));
}

TEST(StatusFromExceptionTest, MapsEachFamily) {
  struct Case {
    std::function<absl::Status()> make;
    absl::StatusCode code;
  };
  auto from = [](const std::exception& e) { return StatusFromException(e); };
  const Case cases[] = {
      {[&] { return from(pqxx::serialization_failure("ERROR:  could not serialize")); },
       absl::StatusCode::kAborted},
      {[&] { return from(pqxx::deadlock_detected("ERROR:  deadlock detected")); },
       absl::StatusCode::kAborted},
      {[&] { return from(pqxx::broken_connection("server closed the connection")); },
       absl::StatusCode::kUnavailable},
      {[&] { return from(pqxx::in_doubt_error("lost connection during commit")); },
       absl::StatusCode::kUnknown},
      {[&] { return from(pqxx::statement_completion_unknown("?")); }, absl::StatusCode::kUnknown},
      {[&] { return from(pqxx::not_null_violation("ERROR:  null value", "q", "23502")); },
       absl::StatusCode::kInvalidArgument},
      {[&] { return from(pqxx::check_violation("ERROR:  check", "q", "23514")); },
       absl::StatusCode::kInvalidArgument},
      {[&] { return from(pqxx::foreign_key_violation("ERROR:  fk", "q", "23503")); },
       absl::StatusCode::kFailedPrecondition},
      {[&] { return from(pqxx::sql_error("ERROR:  canceling statement", "q", "57014")); },
       absl::StatusCode::kDeadlineExceeded},
      {[&] { return from(pqxx::sql_error("ERROR:  lock timeout", "q", "55P03")); },
       absl::StatusCode::kAborted},
      {[&] { return from(pqxx::syntax_error("ERROR:  syntax error", "q", "42601")); },
       absl::StatusCode::kInternal},
      {[&] { return from(pqxx::conversion_error("cannot convert")); }, absl::StatusCode::kInternal},
      {[&] { return from(std::runtime_error("boom")); }, absl::StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    absl::Status s = c.make();
    EXPECT_EQ(s.code(), c.code) << s;
  }
}

TEST(StatusFromExceptionTest, DataExceptionHidesTheEchoedValue) {
  absl::Status s = StatusFromException(pqxx::data_exception(
      "ERROR:  invalid input syntax for type uuid: \"hunter2\"", "q", "22P02"));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("22P02"), Not(HasSubstr("hunter2")))));
}

TEST(StatusFromExceptionTest, ContextPrefixesMessage) {
  absl::Status s =
      StatusFromException(pqxx::broken_connection("no route to host\nmore"), "saving record");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("saving record: ")));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable, Not(HasSubstr("more"))));
}

TEST(CatchPqxxTest, ReturnsFunctionStatusOrTranslatedException) {
  EXPECT_THAT(CatchPqxx([] { return absl::NotFoundError("x"); }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(CatchPqxx([]() -> absl::Status { throw pqxx::deadlock_detected("dl"); }),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(CatchPqxx([]() -> absl::Status { throw 42; }), StatusIs(absl::StatusCode::kInternal));
}

}  // namespace
}  // namespace coffer::postgres
