#include "services/vault/service/file_service.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "pkg/crypto/encoding.h"
#include "pkg/status/status.h"
#include "services/vault/domain/ids.h"
#include "services/vault/domain/validation.h"
#include "services/vault/service/record_cipher.h"
#include "services/vault/service/retry_after.h"

namespace coffer::vault::service {
namespace {

using domain::Role;
using repository::StoredBlob;

constexpr size_t kMaxFileName = 255;
constexpr size_t kMaxContentType = 255;
constexpr char kDefaultContentType[] = "application/octet-stream";

std::string InfoAad(const FileInfo& f) {
  return "coffer.vault.blob.v1|info|" + f.space_id + "|" + f.blob_id + "|" +
         std::to_string(f.size_bytes) + "|" + std::to_string(f.chunk_count);
}

std::string ChunkAad(const FileInfo& f, int index) {
  return "coffer.vault.blob.v1|chunk|" + f.space_id + "|" + f.blob_id + "|" + std::to_string(index);
}

int ChunkCount(int64_t size) {
  return static_cast<int>((size + static_cast<int64_t>(kMaxChunkBytes) - 1) /
                          static_cast<int64_t>(kMaxChunkBytes));
}

bool IsHexLower(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool HasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

absl::Status ValidateUploadMetadata(UploadMetadata& m, int64_t max_file_bytes) {
  if (!m.space_id.empty() && !domain::IsUuid(m.space_id)) {
    return domain::FieldError("metadata.space_id", "not a UUID");
  }
  if (!m.record_id.empty() && !domain::IsUuid(m.record_id)) {
    return domain::FieldError("metadata.record_id", "not a UUID");
  }
  if (m.record_id.empty() && m.expected_version != 0) {
    return domain::FieldError("metadata.expected_version", "only with record_id");
  }
  if (m.file_name.empty() || m.file_name.size() > kMaxFileName) {
    return domain::FieldError("metadata.file_name", "must be 1 to 255 bytes");
  }
  if (m.file_name.find('/') != std::string::npos || m.file_name.find('\\') != std::string::npos ||
      m.file_name == "." || m.file_name == ".." || HasControl(m.file_name)) {
    return domain::FieldError("metadata.file_name",
                              "a bare file name: no directory part, no control characters");
  }
  // Text, as the record the upload attaches to (a FileRef) and the sealed description require.
  if (!domain::ValidUtf8(m.file_name)) {
    return domain::FieldError("metadata.file_name", "not valid UTF-8");
  }
  if (m.content_type.size() > kMaxContentType || HasControl(m.content_type)) {
    return domain::FieldError("metadata.content_type",
                              "at most 255 bytes without control characters");
  }
  if (!domain::ValidUtf8(m.content_type)) {
    return domain::FieldError("metadata.content_type", "not valid UTF-8");
  }
  if (m.content_type.empty()) m.content_type = kDefaultContentType;
  for (char& c : m.sha256_hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (m.sha256_hex.size() != 64 || !IsHexLower(m.sha256_hex)) {
    return domain::FieldError("metadata.sha256_hex", "must be 64 hex digits");
  }
  if (m.size_bytes < 0) return domain::FieldError("metadata.size_bytes", "must not be negative");
  if (m.size_bytes > max_file_bytes) {
    return absl::ResourceExhaustedError("metadata.size_bytes: larger than this server's limit of " +
                                        std::to_string(max_file_bytes) + " bytes");
  }
  return absl::OkStatus();
}

int64_t EffectivePerUserBufferBytes(const FileServiceConfig& config) {
  const int64_t share = config.max_buffered_bytes_per_user > 0
                            ? config.max_buffered_bytes_per_user
                            : std::max(config.max_buffered_bytes / 4, config.max_file_bytes);
  return std::min(share, config.max_buffered_bytes);
}

FileService::FileService(FileServiceConfig config, repository::BlobRepository& blobs,
                         SpaceAccess& access, RecordService& records,
                         const crypto::Keyring& keyring, WallClockMs now_ms,
                         prometheus::Registry* registry)
    : config_(config),
      blobs_(blobs),
      access_(access),
      records_(records),
      keyring_(keyring),
      now_ms_(std::move(now_ms)),
      per_user_limit_(EffectivePerUserBufferBytes(config_)) {
  if (registry != nullptr) {
    buffered_gauge_ = &prometheus::BuildGauge()
                           .Name("coffer_vault_upload_buffer_bytes")
                           .Help("File content uploads in progress hold in memory on this replica")
                           .Register(*registry)
                           .Add({});
    auto& refused = prometheus::BuildCounter()
                        .Name("coffer_vault_upload_buffer_refused_total")
                        .Help(
                            "Upload chunks refused RESOURCE_EXHAUSTED by the upload buffer "
                            "budget, by limit (user: the user's share; replica: all uploads)")
                        .Register(*registry);
    refused_user_ = &refused.Add({{"limit", "user"}});
    refused_replica_ = &refused.Add({{"limit", "replica"}});
  }
}

absl::Status FileService::Reserve(const std::string& subject, int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (buffered_ + bytes > config_.max_buffered_bytes) {
    if (refused_replica_ != nullptr) refused_replica_->Increment();
    return WithRetryAfter(
        absl::ResourceExhaustedError("the server holds too much upload data right now (limit " +
                                     std::to_string(config_.max_buffered_bytes) +
                                     " bytes for all uploads); retry the upload later"),
        std::chrono::seconds(5));
  }
  auto it = buffered_by_user_.find(subject);
  const int64_t mine = it == buffered_by_user_.end() ? 0 : it->second;
  if (mine + bytes > per_user_limit_) {
    if (refused_user_ != nullptr) refused_user_->Increment();
    return WithRetryAfter(
        absl::ResourceExhaustedError("your uploads in progress would hold more than " +
                                     std::to_string(per_user_limit_) +
                                     " bytes on this server (the limit per user); finish or "
                                     "cancel one, then retry"),
        std::chrono::seconds(5));
  }
  buffered_ += bytes;
  buffered_by_user_[subject] = mine + bytes;
  if (buffered_gauge_ != nullptr) buffered_gauge_->Set(static_cast<double>(buffered_));
  return absl::OkStatus();
}

void FileService::Release(const std::string& subject, int64_t bytes) {
  if (bytes == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  buffered_ -= bytes;
  auto it = buffered_by_user_.find(subject);
  if (it != buffered_by_user_.end() && (it->second -= bytes) <= 0) buffered_by_user_.erase(it);
  if (buffered_gauge_ != nullptr) buffered_gauge_->Set(static_cast<double>(buffered_));
}

int64_t FileService::buffered_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buffered_;
}

int64_t FileService::buffered_bytes(const std::string& subject) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buffered_by_user_.find(subject);
  return it == buffered_by_user_.end() ? 0 : it->second;
}

absl::StatusOr<std::string> FileService::BlobId(const std::string& space_id,
                                                const std::string& sha256_hex) {
  COFFER_ASSIGN_OR_RETURN(std::string key,
                          keyring_.DeriveKey(keyring_.primary_kid(), "blob-id:" + space_id));
  return domain::UuidV4FromBytes(crypto::HmacSha256(key, sha256_hex).substr(0, 16));
}

absl::StatusOr<std::unique_ptr<FileService::Upload>> FileService::BeginUpload(const Caller& caller,
                                                                              UploadMetadata meta) {
  COFFER_RETURN_IF_ERROR(ValidateUploadMetadata(meta, config_.max_file_bytes));
  std::string space;
  if (!meta.record_id.empty()) {
    meta.record_id = domain::CanonicalUuid(meta.record_id);
    // The record is looked up in metadata.space_id (empty = personal): ids are per space.
    if (!meta.space_id.empty() && !domain::IsUuid(meta.space_id)) {
      return domain::FieldError("metadata.space_id", "not a UUID");
    }
    COFFER_ASSIGN_OR_RETURN(space,
                            records_.SpaceOf(caller, meta.record_id, Role::kWriter, meta.space_id));
    meta.space_id = space;
  } else {
    COFFER_ASSIGN_OR_RETURN(
        space, access_.Resolve(caller, meta.space_id, Role::kWriter, "metadata.space_id"));
  }
  FileInfo info;
  info.space_id = space;
  COFFER_ASSIGN_OR_RETURN(info.blob_id, BlobId(space, meta.sha256_hex));
  info.size_bytes = meta.size_bytes;
  info.sha256_hex = meta.sha256_hex;
  info.content_type = meta.content_type;
  info.file_name = meta.file_name;
  info.chunk_count = ChunkCount(meta.size_bytes);
  COFFER_ASSIGN_OR_RETURN(std::optional<StoredBlob> existing, blobs_.Get(info.blob_id));
  if (existing) {
    // Ids are keyed per space, so an id taken in another space would be a broken invariant
    // (or an HMAC collision), never a reason to hand that blob out.
    if (existing->space_id != space) {
      return absl::InternalError("blob id " + info.blob_id + " belongs to another space");
    }
    // The same content, stored before (maybe under another name): that blob is the answer.
    COFFER_ASSIGN_OR_RETURN(info, OpenInfo(*existing));
  } else if (meta.size_bytes > per_user_limit_) {
    // It could never be buffered whole: say so now, not after the client sent the limit.
    return absl::ResourceExhaustedError("metadata.size_bytes: larger than this server's limit of " +
                                        std::to_string(per_user_limit_) +
                                        " bytes of uploads in progress per user");
  }
  return std::unique_ptr<Upload>(
      new Upload(*this, caller, std::move(meta), std::move(info), existing.has_value()));
}

FileService::Upload::Upload(FileService& owner, Caller caller, UploadMetadata meta, FileInfo info,
                            bool exists)
    : owner_(owner),
      caller_(std::move(caller)),
      meta_(std::move(meta)),
      info_(std::move(info)),
      exists_(exists) {}

FileService::Upload::~Upload() { owner_.Release(caller_.subject, reserved_); }

absl::Status FileService::Upload::AddChunk(std::string_view chunk) {
  if (chunk.empty() || chunk.size() > kMaxChunkBytes) {
    return domain::FieldError("chunk", "must be 1 byte to 256 KiB");
  }
  if (received_ + static_cast<int64_t>(chunk.size()) > meta_.size_bytes) {
    return absl::InvalidArgumentError("chunk: more content than metadata.size_bytes (" +
                                      std::to_string(meta_.size_bytes) + ")");
  }
  sha_.Update(chunk);
  received_ += static_cast<int64_t>(chunk.size());
  if (exists_) return absl::OkStatus();
  const auto need = static_cast<int64_t>(chunk.size());
  COFFER_RETURN_IF_ERROR(owner_.Reserve(caller_.subject, need));
  reserved_ += need;
  // Stored chunks are exactly 256 KiB except the last, whatever sizes the client sent, so the
  // chunk count follows from the size alone.
  std::string_view rest = chunk;
  while (!rest.empty()) {
    if (plain_chunks_.empty() || plain_chunks_.back().size() == kMaxChunkBytes) {
      plain_chunks_.emplace_back();
      const int64_t before = static_cast<int64_t>(plain_chunks_.size() - 1) * kMaxChunkBytes;
      plain_chunks_.back().reserve(static_cast<size_t>(
          std::min<int64_t>(static_cast<int64_t>(kMaxChunkBytes), meta_.size_bytes - before)));
    }
    std::string& last = plain_chunks_.back();
    const size_t take = std::min(rest.size(), kMaxChunkBytes - last.size());
    last.append(rest.substr(0, take));
    rest.remove_prefix(take);
  }
  return absl::OkStatus();
}

absl::StatusOr<UploadResult> FileService::Upload::Finish() {
  if (received_ != meta_.size_bytes) {
    return absl::InvalidArgumentError("upload ended after " + std::to_string(received_) +
                                      " bytes; metadata.size_bytes is " +
                                      std::to_string(meta_.size_bytes) + "; nothing was stored");
  }
  if (crypto::HexEncode(sha_.Finish()) != meta_.sha256_hex) {
    return absl::InvalidArgumentError(
        "the content's SHA-256 differs from metadata.sha256_hex; nothing was stored");
  }
  FileService& o = owner_;
  if (!exists_) {
    StoredBlob blob;
    blob.blob_id = info_.blob_id;
    blob.space_id = info_.space_id;
    blob.size_bytes = info_.size_bytes;
    blob.chunk_count = info_.chunk_count;
    blob.key_id = o.keyring_.primary_kid();
    blob.created_at_ms = info_.created_at_ms = o.now_ms_();
    const std::string context = SpaceKeyContext(info_.space_id);
    const nlohmann::json described = {{"file_name", info_.file_name},
                                      {"content_type", info_.content_type},
                                      {"sha256_hex", info_.sha256_hex}};
    COFFER_ASSIGN_OR_RETURN(
        blob.info_ct,
        crypto::SealWithKeyring(o.keyring_, context, described.dump(), InfoAad(info_)));
    std::vector<std::string> sealed;
    sealed.reserve(plain_chunks_.size());
    for (size_t i = 0; i < plain_chunks_.size(); ++i) {
      COFFER_ASSIGN_OR_RETURN(std::string ct,
                              crypto::SealWithKeyring(o.keyring_, context, plain_chunks_[i],
                                                      ChunkAad(info_, static_cast<int>(i))));
      sealed.push_back(std::move(ct));
      std::string().swap(plain_chunks_[i]);
    }
    COFFER_ASSIGN_OR_RETURN(bool inserted, o.blobs_.Insert(blob, sealed));
    if (!inserted) {
      // A concurrent upload of the same content won: answer with what it stored.
      COFFER_ASSIGN_OR_RETURN(std::optional<StoredBlob> stored, o.blobs_.Get(info_.blob_id));
      if (!stored) return absl::AbortedError("the blob changed during the upload; retry");
      COFFER_ASSIGN_OR_RETURN(info_, o.OpenInfo(*stored));
    }
  }
  UploadResult result;
  result.info = info_;
  if (!meta_.record_id.empty()) {
    domain::FilePayload ref;
    ref.blob_id = info_.blob_id;
    ref.size = static_cast<uint64_t>(info_.size_bytes);
    ref.sha256_hex = info_.sha256_hex;
    ref.content_type = info_.content_type;
    ref.file_name = meta_.file_name;
    COFFER_ASSIGN_OR_RETURN(
        result.record, o.records_.AttachFile(caller_, meta_.record_id, meta_.expected_version, ref,
                                             meta_.space_id));
    result.session_token = o.records_.SessionToken(*result.record);
  }
  return result;
}

absl::StatusOr<FileInfo> FileService::OpenInfo(const StoredBlob& blob) const {
  FileInfo info;
  info.blob_id = blob.blob_id;
  info.space_id = blob.space_id;
  info.size_bytes = blob.size_bytes;
  info.chunk_count = blob.chunk_count;
  info.created_at_ms = blob.created_at_ms;
  COFFER_ASSIGN_OR_RETURN(std::string plain,
                          crypto::OpenWithKeyring(keyring_, SpaceKeyContext(blob.space_id),
                                                  blob.info_ct, InfoAad(info)));
  const nlohmann::json described = nlohmann::json::parse(plain, nullptr, false);
  if (!described.is_object() || !described.contains("file_name") ||
      !described.contains("content_type") || !described.contains("sha256_hex")) {
    return absl::DataLossError("stored blob description is malformed");
  }
  info.file_name = described["file_name"].get<std::string>();
  info.content_type = described["content_type"].get<std::string>();
  info.sha256_hex = described["sha256_hex"].get<std::string>();
  return info;
}

absl::StatusOr<FileInfo> FileService::GetInfo(const Caller& caller, const std::string& blob_id) {
  if (!domain::IsUuid(blob_id)) return domain::FieldError("blob_id", "not a UUID");
  const std::string not_found = "file " + blob_id + " not found";
  COFFER_ASSIGN_OR_RETURN(std::optional<StoredBlob> blob,
                          blobs_.Get(domain::CanonicalUuid(blob_id)));
  if (!blob) return absl::NotFoundError(not_found);
  COFFER_RETURN_IF_ERROR(access_.Check(caller, blob->space_id, Role::kReader, not_found));
  return OpenInfo(*blob);
}

absl::StatusOr<std::string> FileService::ReadChunk(const FileInfo& info, int index) {
  COFFER_ASSIGN_OR_RETURN(std::optional<std::string> ct, blobs_.GetChunk(info.blob_id, index));
  if (!ct)
    return absl::DataLossError("chunk " + std::to_string(index) + " of a stored blob is missing");
  return crypto::OpenWithKeyring(keyring_, SpaceKeyContext(info.space_id), *ct,
                                 ChunkAad(info, index));
}

}  // namespace coffer::vault::service
