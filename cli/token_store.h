// The CLI's login session on disk: <config dir>/tokens.json, created with mode 0600 inside a
// directory with mode 0700, replaced atomically (write to a temporary file, fsync, rename).
//
// Why the checks: the refresh token is a long-lived credential. Load() refuses a file that other
// users could read or that another user owns (PERMISSION_DENIED with a `chmod` hint), like ssh
// does with private keys.
// Thread-compatible: one command uses one store at a time; concurrent CLI processes each see
// either the old or the new file, never a torn one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace coffer::cli {

// What a successful login leaves behind.
struct StoredTokens {
  std::string identity_addr;  // the identity service that issued the tokens
  std::string login;          // who logged in (for `whoami` without a round trip)
  std::string access_token;
  std::string refresh_token;
  int64_t access_expires_at = 0;   // Unix seconds
  int64_t refresh_expires_at = 0;  // Unix seconds; 0 = unknown
  std::string scope;

  bool operator==(const StoredTokens&) const = default;
};

// The text of tokens.json (what Save() writes) and its parser (what Load() reads; `file` names it
// in errors). Pure; extracted from Load/Save for tests and fuzzing. INVALID_ARGUMENT when the
// text is corrupt, naming the file and the field, never a value.
std::string SerializeTokens(const StoredTokens& tokens);
absl::StatusOr<StoredTokens> ParseTokens(std::string_view text, const std::string& file);

class TokenStore {
 public:
  // Keeps the session in `config_dir`/tokens.json (the directory is created by Save).
  explicit TokenStore(std::string config_dir);

  // The session, or nullopt when nobody is logged in. PERMISSION_DENIED when the file's mode
  // allows group/other access or it belongs to another user; INVALID_ARGUMENT when it is
  // corrupt.
  absl::StatusOr<std::optional<StoredTokens>> Load() const;

  // Writes the session (creating the directory with mode 0700, tightening it if needed).
  absl::Status Save(const StoredTokens& tokens) const;

  // Removes the session file; OK when it does not exist.
  absl::Status Clear() const;

  const std::string& dir() const { return dir_; }
  std::string path() const { return dir_ + "/tokens.json"; }

 private:
  std::string dir_;
};

// Creates `dir` and missing parents (mode 0700) and makes sure `dir` itself is 0700.
absl::Status EnsurePrivateDir(const std::string& dir);

// Writes `content` to `path` atomically with mode 0600.
absl::Status WritePrivateFile(const std::string& path, const std::string& content);

}  // namespace coffer::cli
