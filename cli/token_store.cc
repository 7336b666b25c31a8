#include "cli/token_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "pkg/status/status.h"

namespace coffer::cli {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  int err = errno;
  std::string text = what + " " + path + ": " + std::strerror(err);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(text);
  if (err == ENOENT) return absl::NotFoundError(text);
  return absl::InternalError(text);
}

std::string ModeText(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

absl::Status EnsurePrivateDir(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("empty config directory");
  // Create parents first, one component at a time.
  for (size_t pos = dir.find('/', 1); pos != std::string::npos; pos = dir.find('/', pos + 1)) {
    std::string parent = dir.substr(0, pos);
    if (::mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST) {
      return Errno("cannot create directory", parent);
    }
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno("cannot create directory", dir);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return Errno("cannot stat", dir);
  if (!S_ISDIR(st.st_mode)) return absl::FailedPreconditionError(dir + " is not a directory");
  if ((st.st_mode & 077) != 0 && st.st_uid == ::geteuid()) {
    if (::chmod(dir.c_str(), 0700) != 0) return Errno("cannot chmod 700", dir);
  }
  return absl::OkStatus();
}

absl::Status WritePrivateFile(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Errno("cannot create", tmp);
  // The umask could only narrow 0600, but a pre-existing file keeps its mode: set it explicitly.
  if (::fchmod(fd, 0600) != 0) {
    absl::Status st = Errno("cannot chmod 600", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status st = Errno("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    absl::Status st = Errno("cannot write", tmp);
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status st = Errno("cannot replace", path);
    ::unlink(tmp.c_str());
    return st;
  }
  return absl::OkStatus();
}

TokenStore::TokenStore(std::string config_dir) : dir_(std::move(config_dir)) {}

absl::StatusOr<std::optional<StoredTokens>> TokenStore::Load() const {
  const std::string file = path();
  struct stat st {};
  if (::lstat(file.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<StoredTokens>();
    return Errno("cannot stat", file);
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::PermissionDeniedError(file +
                                       " is not a regular file; remove it and run `coffer login`");
  }
  if (st.st_uid != ::geteuid()) {
    return absl::PermissionDeniedError(
        file + " belongs to another user; remove it and run `coffer login`");
  }
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(file + " has mode " + ModeText(st.st_mode) +
                                       " (others may read your session); run `chmod 600 " + file +
                                       "`");
  }
  std::ifstream in(file);
  if (!in) return Errno("cannot read", file);
  std::stringstream text;
  text << in.rdbuf();
  COFFER_ASSIGN_OR_RETURN(StoredTokens tokens, ParseTokens(text.str(), file));
  return std::optional<StoredTokens>(std::move(tokens));
}

absl::Status TokenStore::Save(const StoredTokens& tokens) const {
  if (absl::Status st = EnsurePrivateDir(dir_); !st.ok()) return st;
  return WritePrivateFile(path(), SerializeTokens(tokens));
}

std::string SerializeTokens(const StoredTokens& tokens) {
  nlohmann::json json{{"identity_addr", tokens.identity_addr},
                      {"login", tokens.login},
                      {"access_token", tokens.access_token},
                      {"refresh_token", tokens.refresh_token},
                      {"access_expires_at", tokens.access_expires_at},
                      {"refresh_expires_at", tokens.refresh_expires_at},
                      {"scope", tokens.scope}};
  return json.dump(2) + "\n";
}

absl::StatusOr<StoredTokens> ParseTokens(std::string_view text, const std::string& file) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object() || !json.contains("access_token") ||
      !json["access_token"].is_string()) {
    return absl::InvalidArgumentError(file + " is corrupt; run `coffer login` again");
  }
  // Each member is checked before it is read: json.value() throws on another type (which ended
  // the CLI), and a float read as int64_t is undefined when out of range. Errors name the field,
  // never its value.
  auto corrupt = [&file](const char* field, const char* what) {
    return absl::InvalidArgumentError(file + ": \"" + field + "\" is not " + what +
                                      "; run `coffer login` again");
  };
  StoredTokens tokens;
  for (auto [field, out] :
       {std::pair{"identity_addr", &tokens.identity_addr}, std::pair{"login", &tokens.login},
        std::pair{"access_token", &tokens.access_token},
        std::pair{"refresh_token", &tokens.refresh_token}, std::pair{"scope", &tokens.scope}}) {
    auto it = json.find(field);
    if (it == json.end()) continue;
    if (!it->is_string()) return corrupt(field, "a string");
    *out = it->get<std::string>();
  }
  for (auto [field, out] : {std::pair{"access_expires_at", &tokens.access_expires_at},
                            std::pair{"refresh_expires_at", &tokens.refresh_expires_at}}) {
    auto it = json.find(field);
    if (it == json.end()) continue;
    const bool fits =
        it->is_number_integer() &&
        (!it->is_number_unsigned() || it->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX));
    if (!fits) return corrupt(field, "an integer");
    *out = it->get<int64_t>();
  }
  return tokens;
}

absl::Status TokenStore::Clear() const {
  if (::unlink(path().c_str()) != 0 && errno != ENOENT) return Errno("cannot remove", path());
  return absl::OkStatus();
}

}  // namespace coffer::cli
