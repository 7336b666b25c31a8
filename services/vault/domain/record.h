// Record value types (docs/architecture.md §2): the typed payloads, the plaintext content of a
// revision, and a revision with its causal stamp.
//
// Why separate from the protos: domain logic (validation, OTP, search, the at-rest encoding) is
// tested without gRPC, and the wire format may evolve independently of what is stored.
//
// Value types; safe to copy and share read-only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "services/vault/domain/merge.h"

namespace coffer::vault::domain {

enum class RecordType {
  kCredential = 1,
  kText = 2,
  kCard = 3,
  kOtp = 4,
  kInstrument = 5,
  kFile = 6,
  kSealed = 7,
};

// Stable lower-case name ("credential", ...), used in SQL, metrics labels and JSON.
std::string_view RecordTypeName(RecordType type);
std::optional<RecordType> RecordTypeFromName(std::string_view name);

struct CredentialPayload {
  std::string login, password, url, notes;
  friend bool operator==(const CredentialPayload&, const CredentialPayload&) = default;
};

struct TextPayload {
  std::string text;
  friend bool operator==(const TextPayload&, const TextPayload&) = default;
};

struct CardPayload {
  std::string number;  // digits only after normalization (spaces and dashes removed)
  std::string holder;
  int expiry_month = 0;  // 1..12, 0 = unknown
  int expiry_year = 0;   // four digits, 0 = unknown
  std::string cvv;
  std::string bank;
  friend bool operator==(const CardPayload&, const CardPayload&) = default;
};

enum class OtpKind { kTotp = 1, kHotp = 2 };
enum class OtpAlgorithm { kSha1 = 1, kSha256 = 2, kSha512 = 3 };

struct OtpPayload {
  OtpKind kind = OtpKind::kTotp;
  std::string secret;  // base32 (RFC 4648), upper case, no padding after normalization
  OtpAlgorithm algorithm = OtpAlgorithm::kSha1;
  int digits = 6;           // 6..8
  int period_seconds = 30;  // TOTP only, 1..300
  uint64_t counter = 0;     // HOTP only
  std::string issuer, account;
  friend bool operator==(const OtpPayload&, const OtpPayload&) = default;
};

struct InstrumentPayload {
  std::string isin, ticker, exchange, currency, kind, note;
  friend bool operator==(const InstrumentPayload&, const InstrumentPayload&) = default;
};

struct FilePayload {
  std::string blob_id;  // may be empty until content is uploaded
  uint64_t size = 0;
  std::string sha256_hex;  // 64 lower-case hex digits, or empty
  std::string content_type;
  std::string file_name;
  friend bool operator==(const FilePayload&, const FilePayload&) = default;
};

struct SealedPayload {
  std::string ciphertext;  // opaque bytes encrypted by the client
  std::string key_id;      // the client's key name, opaque to the server
  std::string algorithm;   // the client's algorithm name, opaque to the server
  friend bool operator==(const SealedPayload&, const SealedPayload&) = default;
};

using Payload = std::variant<CredentialPayload, TextPayload, CardPayload, OtpPayload,
                             InstrumentPayload, FilePayload, SealedPayload>;

RecordType TypeOf(const Payload& payload);

// Everything the client writes in one revision; encrypted at rest as three ciphertexts
// (name, metadata, payload).
struct RecordContent {
  std::string name;
  std::map<std::string, std::string> metadata;
  Payload payload = TextPayload{};
  friend bool operator==(const RecordContent&, const RecordContent&) = default;
};

// The plaintext at-rest encodings, before encryption. JSON, so stored data is self-describing
// and independent of the wire protos; bytes (sealed ciphertext) are base64.
std::string EncodeMetadata(const std::map<std::string, std::string>& metadata);
absl::StatusOr<std::map<std::string, std::string>> DecodeMetadata(const std::string& json);
std::string EncodePayload(const Payload& payload);
absl::StatusOr<Payload> DecodePayload(RecordType type, const std::string& json);

// Case-insensitive substring search over name, metadata keys and values, and the payload's
// non-secret fields (login, url, card holder and bank, OTP issuer and account, every instrument
// field, file name and content type). Passwords, notes, card numbers, CVVs, OTP secrets, text
// bodies and sealed bytes are never matched, so a search cannot be used as an oracle on them.
bool MatchesSearch(const RecordContent& content, const std::string& query);
// The texts MatchesSearch looks in, as they are stored (not lower-cased); the record index
// (service/record_index.h) keeps them lower-cased so a search touches memory only.
std::vector<std::string_view> SearchableTexts(const RecordContent& content);
// ASCII lower case, the case folding of MatchesSearch and of List's name_prefix filter.
std::string LowerAscii(std::string_view s);

// One revision of a record in plaintext form, as the service layer sees it.
struct Revision {
  std::string space_id;
  std::string record_id;
  RecordType type = RecordType::kText;
  RevisionStamp stamp;
  bool deleted = false;
  // A purged record keeps a content-less tombstone so merges never resurrect it.
  bool purged = false;
  RecordContent content;
  int64_t created_at_ms = 0;  // when the record was created
  int64_t updated_at_ms = 0;  // when this revision was written (HLC physical time)
  // For a head: how many concurrent revisions (conflict siblings) it has; 0 otherwise.
  int sibling_count = 0;
  // On the revision a write returns: the space's position after the write (its change_seq), which
  // the API hands out as a session token (docs/architecture.md §3b); 0 otherwise.
  int64_t space_position = 0;
};

}  // namespace coffer::vault::domain
