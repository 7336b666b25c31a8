// ReadPositions: the session tokens (`consistency_token`) of this user's last write to each space,
// kept in <config dir>/positions.json, so a later command — another process, maybe served by
// another vault replica behind a load balancer — reads its own writes (docs/architecture.md §3b).
//
// A token is not a secret (it names a space and a position on a shard), but the file is written
// like tokens.json anyway: mode 0600, replaced atomically. Keys are the space as the command named
// it ("" = personal) and the space id the server answered; at most kMaxSpaces are kept (the
// oldest written go first). Every failure to read or write the file is ignored: without a token a
// read is at worst a few milliseconds stale, never wrong about what the server holds.
//
// Thread-compatible (one command at a time).
#pragma once

#include <cstddef>
#include <string>

namespace coffer::cli {

class ReadPositions {
 public:
  static constexpr size_t kMaxSpaces = 64;

  explicit ReadPositions(std::string config_dir) : dir_(std::move(config_dir)) {}

  // The token of the last write remembered for `space` ("" = none).
  std::string For(const std::string& space) const;
  // Remembers `token` (a write's consistency_token; ignored when empty) for the space as the
  // request named it and as the answer did.
  void Remember(const std::string& requested_space, const std::string& answered_space,
                const std::string& token) const;

  std::string path() const { return dir_ + "/positions.json"; }

 private:
  std::string Find(const std::string& space) const;
  void Store(const std::string& requested_space, const std::string& answered_space,
             const std::string& token) const;

  std::string dir_;
};

}  // namespace coffer::cli
