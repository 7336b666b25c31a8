// Fuzzes JSON Web Key Sets as the vault reads them from identity's JWKS endpoint
// (pkg/auth/jwks.h, JwkSet::FromJson).
//
// Input: the whole input is the response body (any bytes).
// Properties:
//   - FromJson either succeeds or fails with INVALID_ARGUMENT (never another code, never throws);
//     FromJsonValue on the same document agrees with it.
//   - a set that parses holds only usable keys: every key is OKP / Ed25519 / "sig" / "EdDSA" and
//     yields a valid PublicKey(); its kids are unique (a repeated kid is ambiguous).
//   - ToJson() of that set parses again to an equal set (same keys, same order), and printing
//     that set gives the same text (one spelling per set).
//   - deep or large JSON is only parsed, never walked recursively (nlohmann's parser and
//     destructor are iterative): no stack overflow, work linear in the input.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "pkg/auth/jwks.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using coffer::auth::JwkSet;
  const std::string_view in = coffer::fuzz::Bytes(data, size);
  absl::StatusOr<JwkSet> set = JwkSet::FromJson(in);
  {
    const nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    absl::StatusOr<JwkSet> from_value = JwkSet::FromJsonValue(doc);
    FUZZ_CHECK(from_value.ok() == set.ok());
    if (set.ok()) FUZZ_CHECK(from_value->keys == set->keys);
  }
  if (!set.ok()) {
    FUZZ_CHECK(set.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  std::set<std::string> kids;
  for (const coffer::auth::Jwk& key : set->keys) {
    FUZZ_CHECK(key.kty == "OKP" && key.crv == "Ed25519" && key.use == "sig" && key.alg == "EdDSA");
    FUZZ_CHECK(key.PublicKey().ok());
    FUZZ_CHECK(kids.insert(key.kid).second);
    FUZZ_CHECK(set->Find(key.kid) == &key);
  }
  const std::string text = set->ToJson();
  absl::StatusOr<JwkSet> again = JwkSet::FromJson(text);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->keys == set->keys);
  FUZZ_CHECK(again->ToJson() == text);
  return 0;
}
