// Fuzzes page tokens (services/vault/service/record_cipher.h SealToken/OpenToken) and the
// plaintext positions RecordService seals in them (record_service.h EncodeNamePosition /
// DecodeNamePosition for List, Search and ListConflicts, EncodeHistoryPosition /
// DecodeHistoryPosition for ListVersions), with a keyring generated in this process.
//
// Input: one mode byte (mod 3), then FuzzedDataProvider.
//   0, a token from a client: space (1 byte: one of three spaces, the personal one included),
//     purpose (1 byte: one of the purposes RecordService uses), the rest is the token. It never
//     opens (the fuzzer cannot seal under this process's key): INVALID_ARGUMENT with one of the
//     two fixed "page_token: ..." messages, so nothing of the token is echoed.
//   1, a token this shard issued: space and purpose as above, or (purpose choice 7) a purpose
//     string from the input; the plaintext (ConsumeRandomLengthString) and a byte to alter (the
//     last 2 bytes) follow. The token is base64url; it opens for its own (space, purpose) to
//     exactly the plaintext sealed, and for no other space, no other purpose and no other
//     keyring; altered in any byte it does not open either. Every refusal is as in mode 0.
//   2, the plaintext of a token: the rest of the input. DecodeNamePosition and
//     DecodeHistoryPosition either refuse it with INVALID_ARGUMENT "page_token: malformed" or
//     decode it, and what they decode encodes and decodes again to the same position; a name
//     position without a NUL in the name round-trips exactly.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/keyring.h"
#include "pkg/crypto/random.h"
#include "services/vault/service/record_cipher.h"
#include "services/vault/service/record_service.h"
#include "tests/fuzz/fuzz_check.h"

namespace coffer::fuzz {
namespace {

const std::vector<std::string>& Spaces() {
  static const auto* spaces = new std::vector<std::string>{
      "7e0e5c1a-4a4e-4f2b-9a77-0d5a5c8a1f10",  // shared
      "3f7a1c52-8b9d-5e4f-a1b2-c3d4e5f60718",  // personal (v5)
      "",
  };
  return *spaces;
}

const std::vector<std::string>& Purposes() {
  static const auto* purposes = new std::vector<std::string>{
      "conflicts",
      "versions|0f0e0d0c-0b0a-4908-8706-050403020100",
      "versions|0f0e0d0c-0b0a-4908-8706-050403020101",
      "search|" + std::string(64, 'a'),
      "list|" + std::string(64, 'b'),
      "list|" + std::string(64, 'c'),
      "",
  };
  return *purposes;
}

struct Fixture {
  static crypto::Keyring Ring(const std::string& kids) {
    std::string spec;
    for (char kid : kids) {
      if (!spec.empty()) spec += ",";
      spec += std::string("k") + kid + ":" + crypto::Base64Encode(crypto::RandomBytes(32));
    }
    return crypto::Keyring::Parse(spec).value();
  }
  Fixture()
      : keyring(Ring("10")), other_keyring(Ring("1")), cipher(keyring), other(other_keyring) {}
  crypto::Keyring keyring;        // k1 (primary) and k0
  crypto::Keyring other_keyring;  // another deployment's k1
  vault::service::RecordCipher cipher;
  vault::service::RecordCipher other;
};

void CheckRefused(const absl::StatusOr<std::string>& opened) {
  FUZZ_CHECK(!opened.ok());
  FUZZ_CHECK(absl::IsInvalidArgument(opened.status()));
  const absl::string_view message = opened.status().message();
  FUZZ_CHECK(message == "page_token: malformed" ||
             message == "page_token: not a token of this request");
}

bool UrlSafe(const std::string& token) {
  for (char c : token) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

void CheckForeign(Fixture& f, FuzzedDataProvider& in) {
  const std::string& space = Spaces()[in.ConsumeIntegralInRange<size_t>(0, Spaces().size() - 1)];
  const std::string& purpose =
      Purposes()[in.ConsumeIntegralInRange<size_t>(0, Purposes().size() - 1)];
  const std::string token = in.ConsumeRemainingBytesAsString();
  CheckRefused(f.cipher.OpenToken(space, purpose, token));
}

void CheckIssued(Fixture& f, FuzzedDataProvider& in) {
  const size_t space_index = in.ConsumeIntegralInRange<size_t>(0, Spaces().size() - 1);
  const size_t purpose_index = in.ConsumeIntegralInRange<size_t>(0, Purposes().size());
  const size_t altered = in.ConsumeIntegral<uint16_t>();
  const std::string& space = Spaces()[space_index];
  const std::string purpose = purpose_index < Purposes().size() ? Purposes()[purpose_index]
                                                                : in.ConsumeRandomLengthString(128);
  const std::string plaintext = in.ConsumeRemainingBytesAsString();

  absl::StatusOr<std::string> token = f.cipher.SealToken(space, purpose, plaintext);
  FUZZ_CHECK(token.ok());
  FUZZ_CHECK(UrlSafe(*token));
  absl::StatusOr<std::string> opened = f.cipher.OpenToken(space, purpose, *token);
  FUZZ_CHECK(opened.ok() && *opened == plaintext);

  for (const std::string& other_space : Spaces()) {
    if (other_space != space) CheckRefused(f.cipher.OpenToken(other_space, purpose, *token));
  }
  for (const std::string& other_purpose : Purposes()) {
    if (other_purpose != purpose) CheckRefused(f.cipher.OpenToken(space, other_purpose, *token));
  }
  CheckRefused(f.cipher.OpenToken(space, purpose + "|", *token));
  CheckRefused(f.other.OpenToken(space, purpose, *token));

  std::string tampered = *token;
  const size_t at = altered % tampered.size();
  tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
  CheckRefused(f.cipher.OpenToken(space, purpose, tampered));
  CheckRefused(f.cipher.OpenToken(space, purpose, token->substr(0, at)));
}

void CheckPlaintext(const std::string& plain) {
  absl::StatusOr<std::pair<std::string, std::string>> name =
      vault::service::DecodeNamePosition(plain);
  if (name.ok()) {
    const std::string again = vault::service::EncodeNamePosition(name->first, name->second);
    FUZZ_CHECK(again == plain);
  } else {
    FUZZ_CHECK(absl::IsInvalidArgument(name.status()));
    FUZZ_CHECK(name.status().message() == "page_token: malformed");
  }
  absl::StatusOr<vault::repository::HistoryCursor> history =
      vault::service::DecodeHistoryPosition(plain);
  if (history.ok()) {
    absl::StatusOr<vault::repository::HistoryCursor> again =
        vault::service::DecodeHistoryPosition(vault::service::EncodeHistoryPosition(*history));
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->version == history->version && again->hlc == history->hlc &&
               again->origin_shard == history->origin_shard);
  } else {
    FUZZ_CHECK(absl::IsInvalidArgument(history.status()));
    FUZZ_CHECK(history.status().message() == "page_token: malformed");
  }
}

}  // namespace
}  // namespace coffer::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* fixture = new coffer::fuzz::Fixture();
  if (size == 0) return 0;
  FuzzedDataProvider in(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      coffer::fuzz::CheckForeign(*fixture, in);
      break;
    case 1:
      coffer::fuzz::CheckIssued(*fixture, in);
      break;
    default:
      coffer::fuzz::CheckPlaintext(in.ConsumeRemainingBytesAsString());
      break;
  }
  return 0;
}
