// Translation of libpqxx exceptions into absl::Status, done once at the adapter (STYLE habit 5).
//
// Repositories never let a pqxx exception escape: they catch at the boundary and call
// StatusFromException (or let RunInTransaction do it). The resulting codes are what the service
// layer and the transport reason about:
//
//   unique_violation                                 -> ALREADY_EXISTS
//   serialization_failure, deadlock_detected,
//   other transaction rollbacks, lock_not_available  -> ABORTED        (retry the transaction)
//   broken_connection (incl. too_many_connections),
//   admin shutdown / cannot connect now              -> UNAVAILABLE    (nothing was committed)
//   in_doubt_error, statement_completion_unknown     -> UNKNOWN        (commit outcome unknown)
//   not_null_violation, check_violation,
//   data exceptions (SQLSTATE class 22)              -> INVALID_ARGUMENT
//   foreign_key/restrict/exclusion violations        -> FAILED_PRECONDITION
//   query_canceled (statement_timeout)               -> DEADLINE_EXCEEDED
//   insufficient resources (SQLSTATE class 53)       -> RESOURCE_EXHAUSTED
//   every other sql_error / libpqxx error            -> INTERNAL       (a bug or misconfiguration)
//
// Messages carry only the first line of the server's message plus the SQLSTATE. The query text,
// its parameters and the server's DETAIL line (which echoes key values) are never included, and
// for data exceptions, whose primary message echoes the offending value, a generic text is used.
#pragma once

#include <exception>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace coffer::postgres {

// Maps an exception thrown by libpqxx (or any std::exception) to a Status. `context` (for
// example "inserting record") prefixes the message when not empty. Never returns OK.
absl::Status StatusFromException(const std::exception& e, std::string_view context = {});

// Like StatusFromException for the exception currently being handled; call only inside a catch
// block. Non-std exceptions become INTERNAL.
absl::Status StatusFromCurrentException(std::string_view context = {});

// Runs `fn` (returning absl::Status) and turns any exception it throws into a Status. Lets an
// adapter method body be written without its own try/catch.
template <typename Fn>
absl::Status CatchPqxx(Fn&& fn, std::string_view context = {}) {
  try {
    return fn();
  } catch (...) {
    return StatusFromCurrentException(context);
  }
}

}  // namespace coffer::postgres
