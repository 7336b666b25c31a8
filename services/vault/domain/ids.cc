#include "services/vault/domain/ids.h"

#include <openssl/sha.h>

#include <array>
#include <cctype>
#include <cstdio>

namespace coffer::vault::domain {
namespace {

// Namespace UUID for personal spaces: 3f6c1a9e-4b1d-5c2a-9e57-c0ffe0000001.
constexpr std::array<unsigned char, 16> kPersonalSpaceNamespace = {
    0x3f, 0x6c, 0x1a, 0x9e, 0x4b, 0x1d, 0x5c, 0x2a, 0x9e, 0x57, 0xc0, 0xff, 0xe0, 0x00, 0x00, 0x01};

std::string Format(const unsigned char* b) {
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

}  // namespace

std::string PersonalSpaceId(std::string_view subject) {
  std::string input(reinterpret_cast<const char*>(kPersonalSpaceNamespace.data()),
                    kPersonalSpaceNamespace.size());
  input.append(subject);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0F) | 0x50);  // version 5
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return Format(digest);
}

bool IsSharedSpaceId(std::string_view uuid) { return uuid.size() == 36 && uuid[14] == '4'; }

std::string UuidV4FromBytes(std::string_view random16) {
  std::array<unsigned char, 16> b{};
  for (size_t i = 0; i < b.size() && i < random16.size(); ++i) {
    b[i] = static_cast<unsigned char>(random16[i]);
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  return Format(b.data());
}

std::string CanonicalUuid(std::string_view uuid) {
  std::string out(uuid);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace coffer::vault::domain
