// Fuzzes identity's ListServiceAccounts page token as a cursor (services/identity/domain/scopes.h:
// DecodeServiceAccountPageToken / EncodeServiceAccountPageToken; the token is base64url of the
// name the previous page ended with).
//
// Input: one mode byte, then the rest.
//   even mode: the rest is a page_token as a client sends it. Properties: it decodes only when
//     it is exactly what the service issues — the decoded name is a valid service account name
//     and re-encodes to the same text (no second spelling, no padding, at most
//     kMaxPageTokenBytes); anything else is INVALID_ARGUMENT "page_token is invalid", which
//     never echoes the token.
//   odd mode: the rest is a service account name. Properties: when the name is valid (every name
//     the service can store, and so end a page with), the token issued for it decodes back to
//     it; when it is not, no token decodes to it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "services/identity/domain/scopes.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace id = coffer::identity;
  std::string_view in = coffer::fuzz::Bytes(data, size);
  if (in.empty()) return 0;
  const auto mode = static_cast<unsigned char>(in.front());
  in.remove_prefix(1);
  if (mode % 2 == 0) {
    absl::StatusOr<std::string> name = id::DecodeServiceAccountPageToken(in);
    if (!name.ok()) {
      FUZZ_CHECK(name.status().code() == absl::StatusCode::kInvalidArgument);
      FUZZ_CHECK(name.status().message() == "page_token is invalid");
      return 0;
    }
    FUZZ_CHECK(in.size() <= id::kMaxPageTokenBytes);
    FUZZ_CHECK(id::ValidateServiceAccountName(*name).ok());
    FUZZ_CHECK(id::EncodeServiceAccountPageToken(*name) == in);
    return 0;
  }
  const std::string token = id::EncodeServiceAccountPageToken(in);
  absl::StatusOr<std::string> back = id::DecodeServiceAccountPageToken(token);
  FUZZ_CHECK(back.ok() == id::ValidateServiceAccountName(in).ok());
  if (back.ok()) FUZZ_CHECK(*back == in);
  return 0;
}
