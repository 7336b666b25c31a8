// Helpers for libpq connection strings ("DSNs"), in either keyword/value form
// ("host=127.0.0.1 port=5432 dbname=vault") or URI form ("postgresql://host:5432/vault?...").
// A DSN may hold a password: log only RedactDsn(dsn).
#pragma once

#include <chrono>
#include <string>

namespace coffer::postgres {

// Returns `dsn` with `key=value` added, unless `key` is already set in it (the caller's explicit
// setting wins). `value` must not need quoting (numbers, plain words).
std::string WithConnParam(const std::string& dsn, const std::string& key, const std::string& value);

// Limits every Coffer connection to PostgreSQL gets (README "Timeouts and keepalives"), so a
// half-open connection, a runaway statement or a transaction its client abandoned cannot hang a
// request, a pool slot or a leader lock until the kernel gives up (hours). A DSN that sets any
// of these itself keeps its own value (the caller's explicit setting wins). 0 = leave libpq's or
// the server's own default.
struct SessionSettings {
  // TCP keepalives (libpq keepalives=1, keepalives_idle/_interval/_count): a silent peer is
  // noticed after idle + interval * count seconds (here 30 + 10 * 3 = 60 s).
  std::chrono::seconds keepalives_idle{30};
  std::chrono::seconds keepalives_interval{10};
  int keepalives_count = 3;
  // libpq tcp_user_timeout: how long sent data may stay unacknowledged before the connection is
  // dropped (a request blocked on a vanished server fails after this).
  std::chrono::milliseconds tcp_user_timeout{30000};
  // Server settings sent at connection start (options='-c name=value'): the longest a statement
  // may run (SQLSTATE 57014, DEADLINE_EXCEEDED) and the longest a transaction may sit idle
  // before the server ends its session (the next statement fails UNAVAILABLE).
  std::chrono::milliseconds statement_timeout{30000};
  std::chrono::milliseconds idle_in_transaction_timeout{60000};
};

// Returns `dsn` with the libpq keepalive parameters and the server settings of `settings` added,
// each unless the DSN already sets it. Server settings go into libpq's `options` parameter,
// merged with options the DSN (or, when it sets none, the PGOPTIONS environment variable)
// already carries; a setting named there is kept. A DSN libpq cannot parse is returned with the
// keepalives only (connecting reports the error).
std::string WithSessionSettings(const std::string& dsn, const SessionSettings& settings);

// Returns `dsn` with any password replaced by "***", safe to log.
std::string RedactDsn(const std::string& dsn);

}  // namespace coffer::postgres
