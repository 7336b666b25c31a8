// Fuzzes the change feed's cursor (services/vault/service/change_feed.h EncodeFeedCursor,
// DecodeFeedCursor and CheckFeedCursor, the code ChangeFeed::Page runs on a client's cursor).
//
// Input: one mode byte, then the rest.
//   even mode: the rest is a cursor as a client sends it. Properties: DecodeFeedCursor fails only
//     with INVALID_ARGUMENT "cursor: ..."; a cursor that decodes re-encodes to exactly the text
//     given (in its own form, c1 or c2), so one position has one spelling; and CheckFeedCursor
//     lets it through for its own shard and space only: another shard is a FOREIGN_SHARD reset,
//     another space INVALID_ARGUMENT "cursor: issued for another space".
//   odd mode: FuzzedDataProvider: shard id and space id (ConsumeRandomLengthString, from the
//     front), change_seq and gc_floor (int64, from the end). Properties: the encoded cursor
//     decodes exactly when it can name what it was issued for (a non-empty shard, no '|' in shard
//     or space, non-negative positions), and then names that shard, space, position and floor;
//     presented for another space it is refused, for another shard it is a reset.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "pkg/crypto/encoding.h"
#include "services/vault/service/change_feed.h"
#include "tests/fuzz/fuzz_check.h"

namespace coffer::fuzz {
namespace {

using vault::service::FeedCursor;
using vault::service::FeedReset;

// CheckFeedCursor for the cursor's own shard and space, another space and another shard.
void CheckScope(const FeedCursor& c) {
  absl::StatusOr<FeedReset> own = vault::service::CheckFeedCursor(c, c.shard, c.space);
  FUZZ_CHECK(own.ok() && *own == FeedReset::kNone);
  for (const std::string& other : {c.space + "0", std::string(), std::string("x") + c.space,
                                   std::string("7e0e5c1a-4a4e-4f2b-9a77-0d5a5c8a1f10")}) {
    if (other == c.space) continue;
    absl::StatusOr<FeedReset> refused = vault::service::CheckFeedCursor(c, c.shard, other);
    FUZZ_CHECK(absl::IsInvalidArgument(refused.status()));
    FUZZ_CHECK(refused.status().message() == "cursor: issued for another space");
  }
  absl::StatusOr<FeedReset> foreign =
      vault::service::CheckFeedCursor(c, c.shard + "-other", c.space);
  FUZZ_CHECK(foreign.ok() && *foreign == FeedReset::kForeignShard);
}

void CheckText(const std::string& text) {
  absl::StatusOr<FeedCursor> c = vault::service::DecodeFeedCursor(text);
  if (!c.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(c.status()));
    FUZZ_CHECK(absl::StartsWith(c.status().message(), "cursor: "));
    return;
  }
  FUZZ_CHECK(!c->shard.empty() && c->seq >= 0 && c->gc_floor >= 0);
  // The form the cursor was written in: c1 (before tombstone GC) carries no floor.
  const std::string raw = crypto::Base64UrlDecode(text).value();
  if (raw.starts_with("c1|")) {
    FUZZ_CHECK(c->gc_floor == 0);
    FUZZ_CHECK(crypto::Base64UrlEncode("c1|" + c->shard + "|" + c->space + "|" +
                                       std::to_string(c->seq)) == text);
  } else {
    FUZZ_CHECK(vault::service::EncodeFeedCursor(c->shard, c->space, c->seq, c->gc_floor) == text);
  }
  CheckScope(*c);
}

void CheckIssued(FuzzedDataProvider& in) {
  const std::string shard = in.ConsumeRandomLengthString(64);
  const std::string space = in.ConsumeRandomLengthString(64);
  const int64_t seq = in.ConsumeIntegral<int64_t>();
  const int64_t floor = in.ConsumeIntegral<int64_t>();
  const std::string text = vault::service::EncodeFeedCursor(shard, space, seq, floor);
  absl::StatusOr<FeedCursor> c = vault::service::DecodeFeedCursor(text);
  const bool nameable = !shard.empty() && shard.find('|') == std::string::npos &&
                        space.find('|') == std::string::npos && seq >= 0 && floor >= 0;
  FUZZ_CHECK(c.ok() == nameable);
  if (!c.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(c.status()));
    return;
  }
  FUZZ_CHECK(c->shard == shard && c->space == space && c->seq == seq && c->gc_floor == floor);
  CheckScope(*c);
  CheckText(text);
}

}  // namespace
}  // namespace coffer::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    coffer::fuzz::CheckText(std::string(coffer::fuzz::Bytes(data + 1, size - 1)));
  } else {
    FuzzedDataProvider in(data + 1, size - 1);
    coffer::fuzz::CheckIssued(in);
  }
  return 0;
}
