#include "pkg/postgres/errors.h"

#include <pqxx/except>

namespace coffer::postgres {
namespace {

// First line of a libpq/server message without its severity prefix ("ERROR:  "). Later lines
// (DETAIL, HINT, CONTEXT) may echo row values, so they are dropped.
std::string FirstLine(const char* what) {
  std::string_view text(what == nullptr ? "" : what);
  for (std::string_view prefix : {"ERROR:", "FATAL:", "PANIC:"}) {
    if (text.substr(0, prefix.size()) == prefix) {
      text.remove_prefix(prefix.size());
      break;
    }
  }
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  if (text.empty()) return "(no message)";
  return std::string(text);
}

std::string WithContext(std::string_view context, const std::string& message) {
  if (context.empty()) return message;
  std::string out(context);
  out += ": ";
  out += message;
  return out;
}

absl::Status FromSqlError(const pqxx::sql_error& e, std::string_view context) {
  const std::string& state = e.sqlstate();
  const std::string cls = state.substr(0, 2);
  auto make = [&](absl::StatusCode code, const std::string& text) {
    std::string message = text;
    if (!state.empty()) message += " (SQLSTATE " + state + ")";
    return absl::Status(code, WithContext(context, message));
  };
  const std::string first = FirstLine(e.what());
  if (state == "23505") return make(absl::StatusCode::kAlreadyExists, first);
  if (state == "23502" || state == "23514") return make(absl::StatusCode::kInvalidArgument, first);
  if (cls == "23") return make(absl::StatusCode::kFailedPrecondition, first);
  // Data exceptions echo the offending value ("invalid input syntax for type uuid: \"...\"").
  if (cls == "22") return make(absl::StatusCode::kInvalidArgument, "invalid data value");
  if (cls == "40" || state == "55P03") return make(absl::StatusCode::kAborted, first);
  if (state == "57014") return make(absl::StatusCode::kDeadlineExceeded, first);
  if (cls == "08" || state == "57P01" || state == "57P02" || state == "57P03") {
    return make(absl::StatusCode::kUnavailable, first);
  }
  if (cls == "53") return make(absl::StatusCode::kResourceExhausted, first);
  return make(absl::StatusCode::kInternal, first);
}

}  // namespace

absl::Status StatusFromException(const std::exception& e, std::string_view context) {
  // Order matters: the more derived classes come first.
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr ||
      dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) {
    return absl::UnknownError(
        WithContext(context, "transaction outcome unknown: " + FirstLine(e.what())));
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return absl::AbortedError(WithContext(context, FirstLine(e.what())));
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(
        WithContext(context, "PostgreSQL connection failed: " + FirstLine(e.what())));
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql != nullptr) {
    return FromSqlError(*sql, context);
  }
  return absl::InternalError(WithContext(context, FirstLine(e.what())));
}

absl::Status StatusFromCurrentException(std::string_view context) {
  try {
    throw;
  } catch (const std::exception& e) {
    return StatusFromException(e, context);
  } catch (...) {
    return absl::InternalError(WithContext(context, "unknown exception"));
  }
}

}  // namespace coffer::postgres
