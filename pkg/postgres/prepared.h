// Runs a statement constant as a named prepared statement of the transaction's connection.
//
// Why: an unnamed statement (`exec_params`) is parsed, analysed and planned by PostgreSQL on every
// call. For the vault's hot statements (a record read is a UNION of two tables, a write a CTE over
// five) that is a large part of PostgreSQL's CPU per call (docs/benchmarks.md: the parser and
// planner led the profile). A prepared statement is parsed once per connection; after five
// executions PostgreSQL may switch to a cached generic plan when it costs no more than the custom
// ones.
//
// How: the statement is named after the address of its SQL constant (sql.h's `inline constexpr
// char[]`), so every call site of one constant shares one server-side statement per connection.
// libpqxx 6 registers the definition in the connection and PREPAREs it lazily on the first
// execution (one extra round trip per connection and statement, then none); a connection the pool
// opens anew starts with none. Redefining a name with the same text is a no-op in libpqxx.
//
// Only pass SQL with static storage duration (a `constexpr` constant): a temporary's address may
// be reused for different text, which libpqxx rejects ("inconsistent redefinition").
//
// Threading: like the transaction it runs in (one thread at a time per connection).
#pragma once

#include <cstdint>
#include <pqxx/connection_base>
#include <pqxx/except>
#include <pqxx/result>
#include <pqxx/transaction_base>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace coffer::postgres {

// The prepared-statement name of the SQL constant at `sql` ("coffer_" + its address in hex).
std::string PreparedName(const char* sql);

// Executes `sql` (a constant, see above) with `args` as the parameters $1..$n, prepared.
template <typename... Args>
pqxx::result ExecPrepared(pqxx::transaction_base& txn, const char* sql, Args&&... args) {
  const std::string name = PreparedName(sql);
  txn.conn().prepare(name, sql);
  return txn.exec_prepared(name, std::forward<Args>(args)...);
}

// The same for a statement that returns exactly one row (pqxx::unexpected_rows otherwise, which
// the transaction runners report as INTERNAL).
template <typename... Args>
pqxx::row ExecPrepared1(pqxx::transaction_base& txn, const char* sql, Args&&... args) {
  pqxx::result r = ExecPrepared(txn, sql, std::forward<Args>(args)...);
  if (r.size() != 1) {
    throw pqxx::unexpected_rows("expected 1 row from a prepared statement, got " +
                                std::to_string(r.size()));
  }
  return r[0];
}

// A PostgreSQL array literal of `items` ("{"a","b\\"c"}"), to bind as ONE parameter and cast
// in SQL (`$1::text[]`, `$1::bigint[]`, `$1::uuid[]`): a list of any length then keeps one
// statement text, so it stays one prepared statement. Every element is double-quoted with `"` and
// `\` escaped, so commas, braces, spaces and the word NULL arrive as plain text. Elements are
// strings or integers.
template <typename Range>
std::string ArrayLiteral(const Range& items) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    if constexpr (std::is_integral_v<std::decay_t<decltype(item)>>) {
      out += std::to_string(item);
    } else {
      for (char c : std::string_view(item)) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
    }
    out += '"';
  }
  return out + '}';
}

}  // namespace coffer::postgres
