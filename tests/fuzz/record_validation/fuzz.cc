// Fuzzes the validation of record content (services/vault/domain/validation.h
// ValidateAndNormalize) over all seven record types, as a create or update receives it.
//
// Input: one mode byte, then the rest.
//   even mode: the rest is a serialized coffer.vault.v1.Record, what a client sends in
//     CreateRecordRequest/UpdateRecordRequest (corpus: one record of each type, written with
//     `protoc --encode`); it is read with transport::ContentFromProto as the handlers do, whose
//     refusals are INVALID_ARGUMENT "record.type: ..." or "record.payload: ...".
//   odd mode: FuzzedDataProvider builds a domain::RecordContent directly (type, name, metadata,
//     every payload field, numbers included), so strings need not be valid UTF-8 and numbers
//     need not fit the proto's unsigned fields — what any other caller could hand the domain.
// Properties, for content ValidateAndNormalize(…, "record.") accepts:
//   - normalization is a fixpoint: validating the normalized content again succeeds and changes
//     nothing;
//   - every limit holds (domain::Limits), every string is valid UTF-8 (RFC 3629: no overlong
//     forms, surrogates or code points above U+10FFFF; checked by this file's own decoder), the
//     name has no control characters;
//   - what the domain requires of each type holds: a card number is 12 to 19 digits and passes
//     LuhnValid, an ISIN passes IsinValid, an OTP record yields a code (domain/otp.h
//     CurrentOtpCode) of `digits` decimal digits, a file's SHA-256 is empty or 64 lower-case hex
//     digits;
//   - the content round-trips unchanged through the at-rest encodings (EncodeMetadata /
//     DecodeMetadata, EncodePayload / DecodePayload), through the proto mapping
//     (RevisionToProto, the wire bytes, ContentFromProto), and through RecordCipher (keyring
//     generated in this process): Seal then Open gives back the same revision.
// Refusals are INVALID_ARGUMENT whose message starts with "record." and a field path.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "coffer/vault/v1/records.pb.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/keyring.h"
#include "pkg/crypto/random.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/domain/otp.h"
#include "services/vault/domain/record.h"
#include "services/vault/domain/validation.h"
#include "services/vault/service/record_cipher.h"
#include "services/vault/transport/proto_mapping.h"
#include "tests/fuzz/fuzz_check.h"

namespace coffer::fuzz {
namespace {

namespace domain = vault::domain;
using domain::Limits;

struct Fixture {
  Fixture()
      : keyring(
            crypto::Keyring::Parse("k1:" + crypto::Base64Encode(crypto::RandomBytes(32))).value()),
        cipher(keyring) {}
  crypto::Keyring keyring;
  vault::service::RecordCipher cipher;
};

// RFC 3629 UTF-8, written independently of the validator's.
bool Utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;  // range of the second byte
    if (b0 <= 0x7f) {
      ++i;
      continue;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      n = 1;
    } else if (b0 == 0xe0) {
      n = 2, lo = 0xa0;
    } else if (b0 == 0xed) {
      n = 2, hi = 0x9f;
    } else if (b0 >= 0xe1 && b0 <= 0xef) {
      n = 2;
    } else if (b0 == 0xf0) {
      n = 3, lo = 0x90;
    } else if (b0 == 0xf4) {
      n = 3, hi = 0x8f;
    } else if (b0 >= 0xf1 && b0 <= 0xf3) {
      n = 3;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b1 < lo || b1 > hi) return false;
    for (size_t k = 2; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (b < 0x80 || b > 0xbf) return false;
    }
    i += n + 1;
  }
  return true;
}

bool Text(const std::string& s, size_t max) { return s.size() <= max && Utf8(s); }

bool Digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The limits and the per-type rules of the domain, for accepted content.
void CheckAccepted(const domain::RecordContent& c) {
  FUZZ_CHECK(!c.name.empty() && Text(c.name, Limits::kMaxName));
  for (char ch : c.name) FUZZ_CHECK(static_cast<unsigned char>(ch) >= 0x20);
  FUZZ_CHECK(c.metadata.size() <= Limits::kMaxMetadataEntries);
  for (const auto& [k, v] : c.metadata) {
    FUZZ_CHECK(!k.empty() && Text(k, Limits::kMaxMetadataKey));
    FUZZ_CHECK(Text(v, Limits::kMaxMetadataValue));
  }
  std::visit(
      [](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, domain::CredentialPayload>) {
          FUZZ_CHECK(Text(p.login, Limits::kMaxLogin) && Text(p.password, Limits::kMaxPassword));
          FUZZ_CHECK(Text(p.url, Limits::kMaxUrl) && Text(p.notes, Limits::kMaxNotes));
        } else if constexpr (std::is_same_v<T, domain::TextPayload>) {
          FUZZ_CHECK(Text(p.text, Limits::kMaxBody));
        } else if constexpr (std::is_same_v<T, domain::CardPayload>) {
          FUZZ_CHECK(p.number.size() >= 12 && p.number.size() <= 19 && Digits(p.number));
          FUZZ_CHECK(domain::LuhnValid(p.number));
          FUZZ_CHECK(p.expiry_month >= 0 && p.expiry_month <= 12);
          FUZZ_CHECK(p.expiry_year == 0 || (p.expiry_year >= 2000 && p.expiry_year <= 2099));
          FUZZ_CHECK(p.cvv.empty() || (p.cvv.size() >= 3 && p.cvv.size() <= 4 && Digits(p.cvv)));
          FUZZ_CHECK(Text(p.holder, Limits::kMaxField) && Text(p.bank, Limits::kMaxField));
        } else if constexpr (std::is_same_v<T, domain::OtpPayload>) {
          absl::StatusOr<std::string> key = domain::Base32Decode(p.secret);
          FUZZ_CHECK(key.ok());
          FUZZ_CHECK(key->size() >= Limits::kMinOtpSecretBytes &&
                     key->size() <= Limits::kMaxOtpSecretBytes);
          FUZZ_CHECK(p.digits >= 6 && p.digits <= 8);
          if (p.kind == domain::OtpKind::kTotp) {
            FUZZ_CHECK(p.period_seconds >= 1 && p.period_seconds <= 300 && p.counter == 0);
          }
          for (int64_t now : {int64_t{0}, int64_t{1'700'000'000}, int64_t{4'102'444'800}}) {
            absl::StatusOr<domain::OtpCode> code = domain::CurrentOtpCode(p, now);
            FUZZ_CHECK(code.ok());
            FUZZ_CHECK(code->code.size() == static_cast<size_t>(p.digits) && Digits(code->code));
            if (p.kind == domain::OtpKind::kTotp) FUZZ_CHECK(code->valid_until_unix > now);
          }
          FUZZ_CHECK(Text(p.issuer, Limits::kMaxField) && Text(p.account, Limits::kMaxField));
        } else if constexpr (std::is_same_v<T, domain::InstrumentPayload>) {
          FUZZ_CHECK(!p.isin.empty() || !p.ticker.empty());
          if (!p.isin.empty()) FUZZ_CHECK(domain::IsinValid(p.isin));
          FUZZ_CHECK(p.currency.empty() || p.currency.size() == 3);
          FUZZ_CHECK(Text(p.isin, Limits::kMaxField) && Text(p.ticker, Limits::kMaxField));
          FUZZ_CHECK(Text(p.exchange, Limits::kMaxField) && Text(p.currency, Limits::kMaxField));
          FUZZ_CHECK(Text(p.kind, Limits::kMaxField) && Text(p.note, Limits::kMaxNotes));
        } else if constexpr (std::is_same_v<T, domain::FilePayload>) {
          FUZZ_CHECK(p.size <= Limits::kMaxFileSize);
          FUZZ_CHECK(p.sha256_hex.empty() || p.sha256_hex.size() == 64);
          for (char ch : p.sha256_hex)
            FUZZ_CHECK((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
          FUZZ_CHECK(!p.file_name.empty() && Text(p.file_name, Limits::kMaxName));
          FUZZ_CHECK(Text(p.content_type, Limits::kMaxName) && Text(p.blob_id, Limits::kMaxName));
        } else {
          static_assert(std::is_same_v<T, domain::SealedPayload>);
          FUZZ_CHECK(!p.ciphertext.empty() && p.ciphertext.size() <= Limits::kMaxBody);
          FUZZ_CHECK(Text(p.key_id, Limits::kMaxName) && Text(p.algorithm, Limits::kMaxName));
        }
      },
      c.payload);
}

void CheckRoundTrips(Fixture& f, const domain::RecordContent& c) {
  // At-rest encodings.
  absl::StatusOr<std::map<std::string, std::string>> metadata =
      domain::DecodeMetadata(domain::EncodeMetadata(c.metadata));
  FUZZ_CHECK(metadata.ok() && *metadata == c.metadata);
  absl::StatusOr<domain::Payload> payload =
      domain::DecodePayload(domain::TypeOf(c.payload), domain::EncodePayload(c.payload));
  FUZZ_CHECK(payload.ok() && *payload == c.payload);

  domain::Revision r;
  r.space_id = "7e0e5c1a-4a4e-4f2b-9a77-0d5a5c8a1f10";
  r.record_id = "0f0e0d0c-0b0a-4908-8706-050403020100";
  r.type = domain::TypeOf(c.payload);
  r.stamp.version = 2;
  r.stamp.origin_shard = "shard-a";
  r.stamp.vector.Set("shard-a", 2);
  r.stamp.hlc = domain::HlcTimestamp::Pack(1'700'000'000'123, 1);
  r.content = c;
  r.created_at_ms = 1'700'000'000'000;
  r.updated_at_ms = 1'700'000'000'123;

  // The proto mapping, through the wire bytes.
  coffer::vault::v1::Record proto;
  vault::transport::RevisionToProto(r, &proto);
  coffer::vault::v1::Record wire;
  FUZZ_CHECK(wire.ParseFromString(proto.SerializeAsString()));
  absl::StatusOr<domain::RecordContent> mapped = vault::transport::ContentFromProto(wire);
  FUZZ_CHECK(mapped.ok() && *mapped == c);

  // Encryption at rest.
  absl::StatusOr<vault::repository::StoredRevision> sealed = f.cipher.Seal(r);
  FUZZ_CHECK(sealed.ok());
  absl::StatusOr<domain::Revision> opened = f.cipher.Open(*sealed);
  FUZZ_CHECK(opened.ok());
  FUZZ_CHECK(opened->content == c && opened->type == r.type);
  FUZZ_CHECK(opened->space_id == r.space_id && opened->record_id == r.record_id);
  FUZZ_CHECK(opened->stamp == r.stamp && opened->deleted == r.deleted);
  FUZZ_CHECK(opened->created_at_ms == r.created_at_ms && opened->updated_at_ms == r.updated_at_ms);
}

constexpr const char* kFieldPaths[] = {
    "record.name", "record.metadata",    "record.credential.", "record.text.",   "record.card.",
    "record.otp.", "record.instrument.", "record.file.",       "record.sealed.",
};

void Check(Fixture& f, domain::RecordContent content) {
  const domain::RecordContent original = content;
  absl::Status status = domain::ValidateAndNormalize(content, "record.");
  if (!status.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(status));
    bool named = false;
    for (const char* path : kFieldPaths) named = named || absl::StartsWith(status.message(), path);
    FUZZ_CHECK(named);
    return;
  }
  FUZZ_CHECK(domain::TypeOf(content.payload) == domain::TypeOf(original.payload));
  domain::RecordContent again = content;
  FUZZ_CHECK(domain::ValidateAndNormalize(again, "record.").ok());
  FUZZ_CHECK(again == content);
  CheckAccepted(content);
  CheckRoundTrips(f, content);
}

void CheckProto(Fixture& f, std::string_view bytes) {
  coffer::vault::v1::Record record;
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  absl::StatusOr<domain::RecordContent> content = vault::transport::ContentFromProto(record);
  if (!content.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(content.status()));
    FUZZ_CHECK(absl::StartsWith(content.status().message(), "record.type: ") ||
               absl::StartsWith(content.status().message(), "record.payload: "));
    return;
  }
  Check(f, *std::move(content));
}

domain::RecordContent Build(FuzzedDataProvider& in) {
  domain::RecordContent c;
  const int type = in.ConsumeIntegralInRange<int>(1, 7);
  c.name = in.ConsumeRandomLengthString(300);
  const int entries = in.ConsumeIntegralInRange<int>(0, 3);
  for (int i = 0; i < entries; ++i) {
    std::string key = in.ConsumeRandomLengthString(160);
    c.metadata[std::move(key)] = in.ConsumeRandomLengthString(5000);
  }
  if (in.ConsumeIntegralInRange<int>(0, 15) == 0) {  // at or beyond the entry limit
    const int n = in.ConsumeIntegralInRange<int>(60, 66);
    for (int i = 0; i < n; ++i) c.metadata["k" + std::to_string(i)] = "v";
  }
  auto text = [&in](size_t max) { return in.ConsumeRandomLengthString(max); };
  switch (static_cast<domain::RecordType>(type)) {
    case domain::RecordType::kCredential:
      c.payload = domain::CredentialPayload{text(1100), text(4200), text(2100), text(4200)};
      break;
    case domain::RecordType::kText:
      c.payload = domain::TextPayload{text(4200)};
      break;
    case domain::RecordType::kCard: {
      domain::CardPayload p;
      p.number = text(40);
      p.holder = text(100);
      p.expiry_month = in.ConsumeIntegralInRange<int>(-2, 14);
      p.expiry_year =
          in.ConsumeBool() ? in.ConsumeIntegralInRange<int>(-5, 2200) : in.ConsumeIntegral<int>();
      p.cvv = text(6);
      p.bank = text(100);
      c.payload = p;
      break;
    }
    case domain::RecordType::kOtp: {
      domain::OtpPayload p;
      p.kind = static_cast<domain::OtpKind>(in.ConsumeIntegralInRange<int>(0, 3));
      p.secret = text(300);
      p.algorithm = static_cast<domain::OtpAlgorithm>(in.ConsumeIntegralInRange<int>(0, 4));
      p.digits =
          in.ConsumeBool() ? in.ConsumeIntegralInRange<int>(-1, 10) : in.ConsumeIntegral<int>();
      p.period_seconds =
          in.ConsumeBool() ? in.ConsumeIntegralInRange<int>(-1, 400) : in.ConsumeIntegral<int>();
      p.counter = in.ConsumeIntegral<uint64_t>();
      p.issuer = text(100);
      p.account = text(100);
      c.payload = p;
      break;
    }
    case domain::RecordType::kInstrument:
      c.payload =
          domain::InstrumentPayload{text(20), text(20), text(20), text(5), text(20), text(100)};
      break;
    case domain::RecordType::kFile: {
      domain::FilePayload p;
      p.blob_id = text(300);
      p.size = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint64_t>(0, Limits::kMaxFileSize + 1)
                                : in.ConsumeIntegral<uint64_t>();
      p.sha256_hex = text(70);
      p.content_type = text(300);
      p.file_name = text(300);
      c.payload = p;
      break;
    }
    case domain::RecordType::kSealed:
      c.payload = domain::SealedPayload{text(2000), text(300), text(300)};
      break;
  }
  return c;
}

}  // namespace
}  // namespace coffer::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* fixture = new coffer::fuzz::Fixture();
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    coffer::fuzz::CheckProto(*fixture, coffer::fuzz::Bytes(data + 1, size - 1));
  } else {
    FuzzedDataProvider in(data + 1, size - 1);
    coffer::fuzz::Check(*fixture, coffer::fuzz::Build(in));
  }
  return 0;
}
