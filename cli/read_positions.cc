#include "cli/read_positions.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace coffer::cli {
namespace {

// {"spaces": {"<space>": {"token": "...", "at": <write counter>}}, "counter": N}; anything else
// reads as empty.
nlohmann::json Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nlohmann::json::object();
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("spaces") || !doc["spaces"].is_object()) {
    return nlohmann::json::object();
  }
  return doc;
}

}  // namespace

std::string ReadPositions::For(const std::string& space) const {
  try {
    return Find(space);
  } catch (const std::exception&) {
    return "";  // a damaged file: read without a token
  }
}

std::string ReadPositions::Find(const std::string& space) const {
  nlohmann::json doc = Load(path());
  if (!doc.contains("spaces")) return "";
  const nlohmann::json& spaces = doc["spaces"];
  auto it = spaces.find(space);
  if (it == spaces.end() || !it->is_object() || !it->contains("token") ||
      !(*it)["token"].is_string()) {
    return "";
  }
  return (*it)["token"].get<std::string>();
}

void ReadPositions::Remember(const std::string& requested_space, const std::string& answered_space,
                             const std::string& token) const {
  if (token.empty() || dir_.empty()) return;
  try {
    Store(requested_space, answered_space, token);
  } catch (const std::exception&) {
    // A damaged file: the write itself succeeded; the next one writes a fresh file.
    std::remove(path().c_str());
  }
}

void ReadPositions::Store(const std::string& requested_space, const std::string& answered_space,
                          const std::string& token) const {
  nlohmann::json doc = Load(path());
  if (!doc.contains("spaces") || !doc.contains("counter") || !doc["counter"].is_number_integer()) {
    doc = {{"spaces", nlohmann::json::object()}, {"counter", 0}};
  }
  int64_t counter = doc["counter"].get<int64_t>() + 1;
  doc["counter"] = counter;
  for (const std::string& space : {requested_space, answered_space}) {
    doc["spaces"][space] = {{"token", token}, {"at", counter}};
  }
  // Keep the newest kMaxSpaces.
  nlohmann::json& spaces = doc["spaces"];
  while (spaces.size() > kMaxSpaces) {
    auto oldest = spaces.begin();
    auto at = [](const nlohmann::json& entry) {
      return entry.is_object() && entry.contains("at") && entry["at"].is_number_integer()
                 ? entry["at"].get<int64_t>()
                 : int64_t{0};
    };
    for (auto it = spaces.begin(); it != spaces.end(); ++it) {
      if (at(*it) < at(*oldest)) oldest = it;
    }
    spaces.erase(oldest);
  }
  ::mkdir(dir_.c_str(), 0700);  // normally there already (tokens.json)
  const std::string tmp = path() + ".tmp." + std::to_string(::getpid());
  {
    const mode_t old = ::umask(0077);
    std::ofstream out(tmp, std::ios::trunc);
    ::umask(old);
    if (!out) return;
    out << doc.dump();
    if (!out.flush()) {
      std::remove(tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), path().c_str()) != 0) std::remove(tmp.c_str());
}

}  // namespace coffer::cli
