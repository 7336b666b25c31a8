// Helpers for libpq connection strings ("DSNs"), in either keyword/value form
// ("host=127.0.0.1 port=5432 dbname=vault") or URI form ("postgresql://host:5432/vault?...").
// A DSN may hold a password: log only RedactDsn(dsn).
#pragma once

#include <string>

namespace coffer::postgres {

// Returns `dsn` with `key=value` added, unless `key` is already set in it (the caller's explicit
// setting wins). `value` must not need quoting (numbers, plain words).
std::string WithConnParam(const std::string& dsn, const std::string& key, const std::string& value);

// Returns `dsn` with any password replaced by "***", safe to log.
std::string RedactDsn(const std::string& dsn);

}  // namespace coffer::postgres
