#include "services/vault/sync/event_auth.h"

#include <cstdint>

#include "pkg/crypto/hash.h"
#include "pkg/status/status.h"

namespace coffer::vault::sync {
namespace {

constexpr std::string_view kKeyInfo = "coffer.vault.events.v1";
constexpr std::string_view kDomain = "coffer.vault.event.v1";

// The single header named `name`; nullopt when it is missing or repeated.
std::optional<std::string_view> OnlyHeader(const std::vector<kafka::Header>& headers,
                                           std::string_view name) {
  std::optional<std::string_view> found;
  for (const kafka::Header& h : headers) {
    if (h.key != name) continue;
    if (found) return std::nullopt;
    found = h.value;
  }
  return found;
}

}  // namespace

absl::StatusOr<std::string> EventAuthenticator::Mac(std::string_view kid,
                                                    const std::optional<std::string>& key,
                                                    std::string_view value) const {
  COFFER_ASSIGN_OR_RETURN(std::string mac_key, keyring_.DeriveKey(kid, kKeyInfo));
  const std::string_view k = key ? std::string_view(*key) : std::string_view();
  std::string message;
  message.reserve(kDomain.size() + kid.size() + k.size() + value.size() + 6);
  message.append(kDomain).push_back('\0');
  message.append(kid).push_back('\0');
  const uint32_t n = static_cast<uint32_t>(k.size());
  for (int shift = 24; shift >= 0; shift -= 8) message.push_back(static_cast<char>(n >> shift));
  message.append(k).append(value);
  return crypto::HmacSha256(mac_key, message);
}

std::vector<kafka::Header> EventAuthenticator::Sign(const std::optional<std::string>& key,
                                                    std::string_view value) const {
  const std::string& kid = keyring_.primary_kid();
  // The primary id is always in the keyring, so deriving its key cannot fail.
  absl::StatusOr<std::string> mac = Mac(kid, key, value);
  return {{kMacKeyIdHeader, kid}, {kMacHeader, mac.ok() ? *std::move(mac) : std::string()}};
}

absl::Status EventAuthenticator::Verify(const std::optional<std::string>& key,
                                        std::string_view value,
                                        const std::vector<kafka::Header>& headers) const {
  std::optional<std::string_view> kid = OnlyHeader(headers, kMacKeyIdHeader);
  std::optional<std::string_view> mac = OnlyHeader(headers, kMacHeader);
  if (!kid || !mac) return absl::UnauthenticatedError("change event: no MAC (or more than one)");
  if (!keyring_.Contains(*kid)) {
    return absl::UnauthenticatedError("change event: MAC under a key id this shard does not hold");
  }
  absl::StatusOr<std::string> expected = Mac(*kid, key, value);
  if (!expected.ok() || !crypto::ConstantTimeEquals(*expected, *mac)) {
    return absl::UnauthenticatedError("change event: MAC does not match");
  }
  return absl::OkStatus();
}

}  // namespace coffer::vault::sync
