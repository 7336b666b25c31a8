// Fuzzes the file upload's first message and its chunks (services/vault/transport/proto_mapping.h
// UploadMetadataFromProto, services/vault/service/file_service.h ValidateUploadMetadata and
// FileService::Upload), as UploadFile (transport/file_grpc_service.cc) runs them.
//
// Input: one mode byte (mod 3), then the rest.
//   0: the rest is a serialized coffer.vault.v1.UploadFileRequest, the stream's first message
//     (corpus: written with `protoc --encode`); one that is not metadata is skipped, as the
//     handler refuses it before any parsing of fields.
//   1: FuzzedDataProvider builds a service::UploadMetadata directly: space id, record id, file
//     name, content type and SHA-256 as ConsumeRandomLengthString (from the front), expected
//     version and size as int64 (from the end), so names need not be UTF-8 and sizes may be
//     negative.
//   2: a whole upload through FileService (in-memory stores, keyring generated in this process):
//     FuzzedDataProvider gives the file name (from the front), then from the end the content's
//     size (0..320 KiB; its bytes follow from a pattern byte), the size declared, whether the
//     declared SHA-256 is the content's, and a chunk size (0..270 KiB) per chunk sent.
// Properties:
//   - metadata that validates satisfies what files.proto and file_service.h document: space and
//     record ids empty or UUIDs, expected_version only with a record, a bare file name of 1-255
//     bytes (no '/', '\', "." or "..", no control characters), a content type of at most 255
//     bytes without control characters (empty becomes application/octet-stream), 64 lower-case
//     hex digits of SHA-256, a size of 0 to the server's limit; and what the upload later stores
//     in the record it attaches to, a FileRef of that name, type, size and SHA-256, passes the
//     domain's record validation (domain::ValidateAndNormalize). Validating again changes nothing.
//   - refusals are INVALID_ARGUMENT "metadata.<field>: ..." (RESOURCE_EXHAUSTED for a size above
//     the server's limit) with one of the fixed messages below, so no value is ever echoed.
//   - mode 2: a chunk is refused (INVALID_ARGUMENT "chunk: ...") exactly when it is empty,
//     larger than 256 KiB or beyond the declared size; Finish succeeds exactly when the declared
//     size and SHA-256 are those of the content sent, and then the stored blob reads back as that
//     content in 256 KiB chunks (the last one shorter), with the name, type and SHA-256 given.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "coffer/vault/v1/files.pb.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"
#include "pkg/crypto/keyring.h"
#include "pkg/crypto/random.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/domain/validation.h"
#include "services/vault/repository/in_memory_repositories.h"
#include "services/vault/service/file_service.h"
#include "services/vault/service/record_cipher.h"
#include "services/vault/service/record_service.h"
#include "services/vault/service/space_access.h"
#include "services/vault/transport/proto_mapping.h"
#include "tests/fuzz/fuzz_check.h"

namespace coffer::fuzz {
namespace {

namespace service = vault::service;
namespace repository = vault::repository;

constexpr int64_t kMaxFileBytes = int64_t{64} << 20;  // FileServiceConfig's default
constexpr int64_t kKiB = 1024;
constexpr int64_t kNowMs = 1'700'000'000'000;

// Every message ValidateUploadMetadata and UploadMetadataFromProto answer with.
const std::set<std::string>& KnownMessages() {
  static const auto* messages = new std::set<std::string>{
      "metadata.space_id: not a UUID",
      "metadata.record_id: not a UUID",
      "metadata.expected_version: only with record_id",
      "metadata.file_name: must be 1 to 255 bytes",
      "metadata.file_name: a bare file name: no directory part, no control characters",
      "metadata.file_name: not valid UTF-8",
      "metadata.content_type: at most 255 bytes without control characters",
      "metadata.content_type: not valid UTF-8",
      "metadata.sha256_hex: must be 64 hex digits",
      "metadata.size_bytes: must not be negative",
      "metadata: expected_version or size_bytes out of range",
  };
  return *messages;
}

const std::string& TooLarge() {
  static const auto* message =
      new std::string("metadata.size_bytes: larger than this server's limit of " +
                      std::to_string(kMaxFileBytes) + " bytes");
  return *message;
}

bool HasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

void CheckRefusal(const absl::Status& s) {
  const std::string message(s.message());
  if (absl::IsResourceExhausted(s)) {
    FUZZ_CHECK(message == TooLarge());
    return;
  }
  FUZZ_CHECK(absl::IsInvalidArgument(s));
  FUZZ_CHECK(KnownMessages().count(message) == 1);
}

void CheckAccepted(const service::UploadMetadata& m) {
  FUZZ_CHECK(m.space_id.empty() || vault::domain::IsUuid(m.space_id));
  FUZZ_CHECK(m.record_id.empty() || vault::domain::IsUuid(m.record_id));
  FUZZ_CHECK(m.expected_version == 0 || !m.record_id.empty());
  FUZZ_CHECK(!m.file_name.empty() && m.file_name.size() <= 255);
  FUZZ_CHECK(m.file_name.find_first_of("/\\") == std::string::npos);
  FUZZ_CHECK(m.file_name != "." && m.file_name != ".." && !HasControl(m.file_name));
  FUZZ_CHECK(!m.content_type.empty() && m.content_type.size() <= 255);
  FUZZ_CHECK(!HasControl(m.content_type));
  FUZZ_CHECK(m.sha256_hex.size() == 64);
  for (char c : m.sha256_hex) FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  FUZZ_CHECK(m.size_bytes >= 0 && m.size_bytes <= kMaxFileBytes);

  // What Finish attaches to a record must be a FileRef the domain accepts, unchanged.
  vault::domain::RecordContent content;
  content.name = "attached";
  vault::domain::FilePayload ref{"1b2c3d4e-5f60-4172-8394-a5b6c7d8e9f0",
                                 static_cast<uint64_t>(m.size_bytes), m.sha256_hex, m.content_type,
                                 m.file_name};
  content.payload = ref;
  FUZZ_CHECK(vault::domain::ValidateAndNormalize(content, "record.").ok());
  FUZZ_CHECK(std::get<vault::domain::FilePayload>(content.payload) == ref);
}

void CheckMetadata(service::UploadMetadata m) {
  absl::Status s = service::ValidateUploadMetadata(m, kMaxFileBytes);
  if (!s.ok()) {
    CheckRefusal(s);
    return;
  }
  CheckAccepted(m);
  service::UploadMetadata again = m;
  FUZZ_CHECK(service::ValidateUploadMetadata(again, kMaxFileBytes).ok());
  FUZZ_CHECK(again.file_name == m.file_name && again.content_type == m.content_type &&
             again.sha256_hex == m.sha256_hex && again.size_bytes == m.size_bytes);
}

void CheckProto(std::string_view bytes) {
  coffer::vault::v1::UploadFileRequest request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  if (request.data_case() != coffer::vault::v1::UploadFileRequest::kMetadata) return;
  absl::StatusOr<service::UploadMetadata> meta =
      vault::transport::UploadMetadataFromProto(request.metadata());
  if (!meta.ok()) {
    CheckRefusal(meta.status());
    FUZZ_CHECK(request.metadata().size_bytes() > static_cast<uint64_t>(INT64_MAX) ||
               request.metadata().expected_version() > static_cast<uint64_t>(INT64_MAX));
    return;
  }
  CheckMetadata(*std::move(meta));
}

void CheckBuilt(FuzzedDataProvider& in) {
  service::UploadMetadata m;
  m.space_id = in.ConsumeRandomLengthString(40);
  m.record_id = in.ConsumeRandomLengthString(40);
  m.file_name = in.ConsumeRandomLengthString(300);
  m.content_type = in.ConsumeRandomLengthString(300);
  m.sha256_hex = in.ConsumeRandomLengthString(70);
  m.expected_version = in.ConsumeBool() ? 0 : in.ConsumeIntegral<int64_t>();
  m.size_bytes = in.ConsumeBool() ? in.ConsumeIntegralInRange<int64_t>(-1, kMaxFileBytes + 1)
                                  : in.ConsumeIntegral<int64_t>();
  CheckMetadata(std::move(m));
}

// Blobs in memory, one store per input.
class Blobs final : public repository::BlobRepository {
 public:
  absl::StatusOr<bool> Insert(const repository::StoredBlob& blob,
                              const std::vector<std::string>& chunks) override {
    if (blobs_.count(blob.blob_id) != 0) return false;
    blobs_[blob.blob_id] = blob;
    chunks_[blob.blob_id] = chunks;
    return true;
  }
  absl::StatusOr<std::optional<repository::StoredBlob>> Get(const std::string& id) override {
    auto it = blobs_.find(id);
    if (it == blobs_.end()) return std::nullopt;
    return it->second;
  }
  absl::StatusOr<std::optional<std::string>> GetChunk(const std::string& id, int index) override {
    auto it = chunks_.find(id);
    if (it == chunks_.end() || index < 0 || index >= static_cast<int>(it->second.size())) {
      return std::nullopt;
    }
    return it->second[static_cast<size_t>(index)];
  }

 private:
  std::map<std::string, repository::StoredBlob> blobs_;
  std::map<std::string, std::vector<std::string>> chunks_;
};

struct Fixture {
  Fixture()
      : keyring(
            crypto::Keyring::Parse("k1:" + crypto::Base64Encode(crypto::RandomBytes(32))).value()),
        cipher(keyring),
        access(spaces, [] { return kNowMs; }),
        hlc([] { return static_cast<uint64_t>(kNowMs); }),
        index({}, records, cipher),
        records_service(
            service::RecordServiceConfig{"shard-a", 3, 100}, records, access, cipher, hlc,
            [] { return kNowMs; }, [] { return std::string(); }, nullptr, index) {}
  crypto::Keyring keyring;
  service::RecordCipher cipher;
  repository::InMemoryRecordRepository records;
  repository::InMemorySpaceRepository spaces;
  service::SpaceAccess access;
  vault::domain::Hlc hlc;
  service::RecordIndex index;
  service::RecordService records_service;
  const service::Caller caller{"alice", {}, ""};
};

void CheckUpload(Fixture& f, FuzzedDataProvider& in) {
  Blobs blobs;
  service::FileService files({}, blobs, f.access, f.records_service, f.keyring,
                             [] { return kNowMs; });
  service::UploadMetadata m;
  m.file_name = in.ConsumeRandomLengthString(64);
  const int64_t size = in.ConsumeIntegralInRange<int64_t>(0, 320 * kKiB);
  const uint8_t pattern = in.ConsumeIntegral<uint8_t>();
  std::string content(static_cast<size_t>(size), '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(pattern + i * 31);
  const int declared_delta = in.ConsumeIntegralInRange<int>(-2, 2);
  m.size_bytes = std::max<int64_t>(0, size + (declared_delta == 2 ? 0 : declared_delta));
  const bool right_sha = in.ConsumeIntegralInRange<int>(0, 7) != 0;
  m.sha256_hex = crypto::HexEncode(crypto::Sha256(right_sha ? content : content + "x"));
  absl::StatusOr<std::unique_ptr<service::FileService::Upload>> upload =
      files.BeginUpload(f.caller, m);
  if (!upload.ok()) {
    CheckRefusal(upload.status());
    return;
  }
  std::string sent;
  while (in.remaining_bytes() > 0) {
    const auto n = in.ConsumeIntegralInRange<size_t>(0, 270 * kKiB);
    const size_t at = sent.size() < content.size() ? sent.size() : 0;
    const std::string chunk = content.substr(at, n);
    absl::Status added = (*upload)->AddChunk(chunk);
    const bool fits = !chunk.empty() && chunk.size() <= service::kMaxChunkBytes &&
                      static_cast<int64_t>(sent.size() + chunk.size()) <= m.size_bytes;
    FUZZ_CHECK(added.ok() == fits);
    if (!added.ok()) {
      FUZZ_CHECK(absl::IsInvalidArgument(added) && absl::StartsWith(added.message(), "chunk: "));
      return;  // the handler ends the call
    }
    sent += chunk;
  }
  absl::StatusOr<service::UploadResult> result = (*upload)->Finish();
  const bool complete = static_cast<int64_t>(sent.size()) == m.size_bytes &&
                        crypto::HexEncode(crypto::Sha256(sent)) == m.sha256_hex;
  FUZZ_CHECK(result.ok() == complete);
  if (!result.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(result.status()));
    return;
  }
  const service::FileInfo& info = result->info;
  FUZZ_CHECK(vault::domain::IsUuid(info.blob_id));
  FUZZ_CHECK(info.size_bytes == m.size_bytes && info.sha256_hex == m.sha256_hex);
  FUZZ_CHECK(info.file_name == m.file_name && info.content_type == "application/octet-stream");
  const int64_t chunk_bytes = static_cast<int64_t>(service::kMaxChunkBytes);
  FUZZ_CHECK(info.chunk_count == (info.size_bytes + chunk_bytes - 1) / chunk_bytes);
  absl::StatusOr<service::FileInfo> stored = files.GetInfo(f.caller, info.blob_id);
  FUZZ_CHECK(stored.ok());
  FUZZ_CHECK(stored->file_name == info.file_name && stored->sha256_hex == info.sha256_hex &&
             stored->content_type == info.content_type && stored->size_bytes == info.size_bytes);
  std::string read;
  for (int i = 0; i < stored->chunk_count; ++i) {
    absl::StatusOr<std::string> chunk = files.ReadChunk(*stored, i);
    FUZZ_CHECK(chunk.ok());
    FUZZ_CHECK(i + 1 == stored->chunk_count
                   ? !chunk->empty() && chunk->size() <= service::kMaxChunkBytes
                   : chunk->size() == service::kMaxChunkBytes);
    read += *chunk;
  }
  FUZZ_CHECK(read == sent);
}

}  // namespace
}  // namespace coffer::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* fixture = new coffer::fuzz::Fixture();
  if (size == 0) return 0;
  FuzzedDataProvider in(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      coffer::fuzz::CheckProto(coffer::fuzz::Bytes(data + 1, size - 1));
      break;
    case 1:
      coffer::fuzz::CheckBuilt(in);
      break;
    default:
      coffer::fuzz::CheckUpload(*fixture, in);
      break;
  }
  return 0;
}
