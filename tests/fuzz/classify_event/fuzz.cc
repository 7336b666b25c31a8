// Fuzzes what the consumer makes of one message of the change topic
// (services/vault/sync/received_event.h ClassifyEvent, with a real EventAuthenticator over a
// keyring generated in this process).
//
// Input: one mode byte, then the message through FuzzedDataProvider, in this order: partition
// (1 byte, 0..255), offset (2 bytes, 0..65535), merge_own_until (2 bytes, 0..65535), whether the
// key is null (1 byte), a header count (1 byte, 0..4) and per header a name choice (1 byte:
// coffer-mac-kid, coffer-mac, or a name string) — all of those from the end of the input — then
// from the front each header's name (when chosen) and value as ConsumeRandomLengthString, the
// key (ConsumeRandomLengthString, up to 256 bytes), and the rest of the input is the value.
//   even mode: the headers are the input's. The fuzzer cannot produce a MAC under this process's
//     key, so the message is a Quarantine of kind "mac", whatever it holds.
//   odd mode: the message is signed with the authenticator (the input's headers other than the
//     two MAC headers are kept too). It is never a Quarantine "mac"; when DecodeTopicEvent
//     accepts the value it is no Quarantine at all and its kind follows the decoded event (a
//     revision, marker, chunk or space change, merged or skipped as this shard's own by origin and
//     merge_own_until); when DecodeTopicEvent refuses it, a Quarantine "schema" (newer schema) or
//     "decode" (anything else).
// Both modes: ToIncoming and DeadLetterOf never fail and carry partition, offset, key and value
// over unchanged; every text a dead letter holds (error, claimed origin, MAC key id) is printable
// ASCII within its bound; SafeText output is printable ASCII and min(size, max) long;
// ClaimedOrigin never throws.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>

#include "pkg/crypto/encoding.h"
#include "pkg/crypto/keyring.h"
#include "pkg/crypto/random.h"
#include "services/vault/sync/change_event.h"
#include "services/vault/sync/event_auth.h"
#include "services/vault/sync/received_event.h"
#include "tests/fuzz/fuzz_check.h"

namespace coffer::fuzz {
namespace {

using vault::sync::ReceivedEvent;

constexpr char kShard[] = "shard-b";

struct Fixture {
  // Two KEKs, as after a rotation; k1 is the primary that signs.
  Fixture()
      : keyring(crypto::Keyring::Parse("k1:" + crypto::Base64Encode(crypto::RandomBytes(32)) +
                                       ",k0:" + crypto::Base64Encode(crypto::RandomBytes(32)))
                    .value()),
        auth(keyring) {}
  crypto::Keyring keyring;
  vault::sync::EventAuthenticator auth;
};

bool Printable(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

const vault::sync::Quarantine* AsQuarantine(const ReceivedEvent& e) {
  return std::get_if<vault::sync::Quarantine>(&e);
}

// What the consumer must make of a signed message whose value decodes to `decoded`.
void CheckSignedKind(const ReceivedEvent& got, const vault::sync::TopicEvent& decoded,
                     const kafka::Message& m, int64_t merge_own_until) {
  const bool before_rebootstrap = m.offset < merge_own_until;
  if (decoded.progress) {
    const auto* report = std::get_if<vault::sync::ProgressReport>(&got);
    FUZZ_CHECK(report != nullptr);
    FUZZ_CHECK(report->shard_id == decoded.progress->shard_id);
    const auto& offsets = decoded.progress->settled_offsets;
    auto it = offsets.find(m.partition);
    const bool old_own = report->shard_id == kShard && before_rebootstrap;
    if (it == offsets.end() || old_own) {
      FUZZ_CHECK(!report->settled.has_value());
    } else {
      FUZZ_CHECK(report->settled == it->second);
    }
  } else if (decoded.blob_chunk) {
    if (decoded.blob_chunk->origin_shard == kShard) {
      FUZZ_CHECK(std::holds_alternative<vault::sync::OwnEcho>(got));
    } else {
      const auto* chunk = std::get_if<vault::sync::IncomingChunk>(&got);
      FUZZ_CHECK(chunk != nullptr);
      FUZZ_CHECK(chunk->chunk.blob.blob_id == decoded.blob_chunk->blob.blob_id);
      FUZZ_CHECK(chunk->chunk.index == decoded.blob_chunk->index);
    }
  } else if (decoded.space_change) {
    if (decoded.space_change->origin_shard == kShard && !before_rebootstrap) {
      FUZZ_CHECK(std::holds_alternative<vault::sync::OwnEcho>(got));
    } else {
      const auto* merge = std::get_if<vault::sync::MergeSpaceChange>(&got);
      FUZZ_CHECK(merge != nullptr && merge->change == *decoded.space_change);
    }
  } else {
    FUZZ_CHECK(decoded.revision.has_value());
    const auto& r = *decoded.revision;
    if (r.stamp.origin_shard == kShard && !before_rebootstrap) {
      const auto* echo = std::get_if<vault::sync::OwnEcho>(&got);
      FUZZ_CHECK(echo != nullptr);
      FUZZ_CHECK(echo->tombstone.has_value() == r.purged);
      if (echo->tombstone) FUZZ_CHECK(*echo->tombstone == r);
    } else {
      const auto* merge = std::get_if<vault::sync::MergeRevision>(&got);
      FUZZ_CHECK(merge != nullptr && merge->revision == r);
    }
  }
}

void CheckDeadLetter(const vault::repository::DeadLetter& d, const kafka::Message& m) {
  FUZZ_CHECK(d.direction == "in");
  FUZZ_CHECK(d.partition == m.partition && d.offset == m.offset);
  FUZZ_CHECK(d.key == m.key && d.value == m.value);
  FUZZ_CHECK(d.error.size() <= 1000 && Printable(d.error));
  FUZZ_CHECK(d.origin_shard.size() <= 128 && Printable(d.origin_shard));
  FUZZ_CHECK(d.mac_key_id.size() <= 64 && Printable(d.mac_key_id));
  FUZZ_CHECK(d.mac.size() <= 64);
}

void CheckIncoming(const ReceivedEvent& event, const kafka::Message& m) {
  const vault::repository::IncomingRevision in = vault::sync::ToIncoming(event, m);
  FUZZ_CHECK(in.partition == m.partition && in.offset == m.offset);
  FUZZ_CHECK(in.merge == std::holds_alternative<vault::sync::MergeRevision>(event));
  const auto* q = AsQuarantine(event);
  FUZZ_CHECK(in.dead_letter.has_value() == (q != nullptr));
  if (q != nullptr) {
    FUZZ_CHECK(in.dead_letter->kind == q->kind);
    CheckDeadLetter(*in.dead_letter, m);
  }
  FUZZ_CHECK(in.space_change.has_value() ==
             std::holds_alternative<vault::sync::MergeSpaceChange>(event));
  FUZZ_CHECK(in.blob_chunk.has_value() ==
             std::holds_alternative<vault::sync::IncomingChunk>(event));
}

void Check(Fixture& f, const uint8_t* data, size_t size) {
  if (size == 0) return;
  const bool sign = (data[0] & 1) != 0;
  FuzzedDataProvider in(data + 1, size - 1);
  kafka::Message m;
  m.topic = "coffer.vault.changes.v1";
  m.partition = in.ConsumeIntegralInRange<int32_t>(0, 255);
  m.offset = in.ConsumeIntegralInRange<int64_t>(0, 65535);
  const int64_t merge_own_until = in.ConsumeIntegralInRange<int64_t>(0, 65535);
  const bool null_key = in.ConsumeBool();
  const int header_count = in.ConsumeIntegralInRange<int>(0, 4);
  std::vector<int> choices;
  for (int i = 0; i < header_count; ++i) choices.push_back(in.ConsumeIntegralInRange<int>(0, 2));
  std::vector<kafka::Header> headers;
  for (int choice : choices) {
    kafka::Header h;
    h.key = choice == 0   ? vault::sync::kMacKeyIdHeader
            : choice == 1 ? vault::sync::kMacHeader
                          : in.ConsumeRandomLengthString(32);
    h.value = in.ConsumeRandomLengthString(64);
    headers.push_back(std::move(h));
  }
  std::string key = in.ConsumeRandomLengthString(256);
  if (!null_key) m.key = std::move(key);
  m.value = in.ConsumeRemainingBytesAsString();
  if (sign) {
    m.headers = f.auth.Sign(m.key, m.value);
    for (kafka::Header& h : headers) {
      if (h.key != vault::sync::kMacKeyIdHeader && h.key != vault::sync::kMacHeader) {
        m.headers.push_back(std::move(h));
      }
    }
  } else {
    m.headers = std::move(headers);
  }

  const ReceivedEvent got =
      vault::sync::ClassifyEvent(m, vault::sync::ClassifyContext{kShard, merge_own_until, &f.auth});
  const vault::sync::Quarantine* q = AsQuarantine(got);
  if (!sign) {
    FUZZ_CHECK(q != nullptr && q->kind == "mac");
  } else {
    FUZZ_CHECK(q == nullptr || q->kind != "mac");
    absl::StatusOr<vault::sync::TopicEvent> decoded = vault::sync::DecodeTopicEvent(m.value);
    if (decoded.ok()) {
      FUZZ_CHECK(q == nullptr);
      CheckSignedKind(got, *decoded, m, merge_own_until);
    } else {
      FUZZ_CHECK(q != nullptr);
      FUZZ_CHECK(q->kind == (absl::IsFailedPrecondition(decoded.status()) ? "schema" : "decode"));
    }
  }
  CheckIncoming(got, m);

  // Dead letters of any message with any kind and error text (the apply step's "merge").
  const vault::repository::DeadLetter d = vault::sync::DeadLetterOf(m, "merge", m.value);
  FUZZ_CHECK(d.kind == "merge");
  CheckDeadLetter(d, m);
  const std::string origin = vault::sync::ClaimedOrigin(m.value);
  FUZZ_CHECK(origin.size() <= 128 && Printable(origin));
  for (size_t max : {size_t{0}, size_t{1}, size_t{64}, m.value.size()}) {
    const std::string text = vault::sync::SafeText(m.value, max);
    FUZZ_CHECK(text.size() == std::min(max, m.value.size()) && Printable(text));
  }
}

}  // namespace
}  // namespace coffer::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* fixture = new coffer::fuzz::Fixture();
  coffer::fuzz::Check(*fixture, data, size);
  return 0;
}
