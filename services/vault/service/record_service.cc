#include "services/vault/service/record_service.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/numbers.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"
#include "pkg/status/status.h"
#include "services/vault/domain/ids.h"
#include "services/vault/domain/merge.h"
#include "services/vault/domain/validation.h"

namespace coffer::vault::service {
namespace {

// Every accepted revision must fit in one change event (domain::Limits::kMaxSealedRecord).
absl::Status CheckReplicable(const repository::StoredRevision& r) {
  return domain::CheckReplicableSize(r.name_ct.size() + r.metadata_ct.size() + r.payload_ct.size());
}

using domain::Revision;
using domain::Role;
using repository::StoredRecord;
using repository::StoredRevision;

// Attempts of the check-and-set loop before giving up with ABORTED (each retry means another
// writer or a merge changed the record between our read and our write).
constexpr int kMaxWriteAttempts = 8;

absl::Status CheckId(const std::string& id, std::string_view field) {
  if (id.empty()) return domain::FieldError(field, "required");
  if (!domain::IsUuid(id)) return domain::FieldError(field, "not a UUID");
  return absl::OkStatus();
}

absl::Status VersionMismatch(int64_t expected, int64_t current) {
  return absl::FailedPreconditionError("version mismatch: expected version " +
                                       std::to_string(expected) + ", current version is " +
                                       std::to_string(current));
}

std::string NotFound(const std::string& id) { return "record " + id + " not found"; }

int64_t PhysicalMs(uint64_t hlc) {
  return static_cast<int64_t>(domain::HlcTimestamp::PhysicalMs(hlc));
}

}  // namespace

std::string EncodeNamePosition(const std::string& name, const std::string& record_id) {
  return name + std::string(1, '\0') + record_id;
}

absl::StatusOr<std::pair<std::string, std::string>> DecodeNamePosition(const std::string& plain) {
  size_t sep = plain.find('\0');
  if (sep == std::string::npos) return domain::FieldError("page_token", "malformed");
  return std::make_pair(plain.substr(0, sep), plain.substr(sep + 1));
}

namespace {
constexpr std::string_view kSessionTokenPrefix = "s1.";
// Prefix, 19 digits, a UUID, a shard id (at most 64) and the separators, with room to spare.
constexpr size_t kMaxSessionToken = 160;
}  // namespace

std::string EncodeSessionToken(const SessionPosition& p) {
  return std::string(kSessionTokenPrefix) + std::to_string(p.position) + "." + p.space_id + "." +
         p.shard_id;
}

absl::StatusOr<SessionPosition> DecodeSessionToken(std::string_view token, std::string_view field) {
  if (token.size() > kMaxSessionToken) return domain::FieldError(field, "too long");
  if (!token.starts_with(kSessionTokenPrefix)) return domain::FieldError(field, "malformed");
  token.remove_prefix(kSessionTokenPrefix.size());
  const size_t a = token.find('.');
  const size_t b = a == std::string_view::npos ? a : token.find('.', a + 1);
  SessionPosition p;
  if (b == std::string_view::npos ||
      !absl::SimpleAtoi(absl::string_view(token.data(), a), &p.position) || p.position <= 0) {
    return domain::FieldError(field, "malformed");
  }
  p.space_id = std::string(token.substr(a + 1, b - a - 1));
  p.shard_id = std::string(token.substr(b + 1));
  if (!domain::IsUuid(p.space_id) || p.shard_id.empty()) {
    return domain::FieldError(field, "malformed");
  }
  p.space_id = domain::CanonicalUuid(p.space_id);
  return p;
}

std::string RecordService::SessionToken(const domain::Revision& written) const {
  if (written.space_position <= 0) return "";
  return EncodeSessionToken({written.space_position, written.space_id, config_.shard_id});
}

std::string EncodeHistoryPosition(const repository::HistoryCursor& position) {
  return std::to_string(position.version) + "|" + std::to_string(position.hlc) + "|" +
         position.origin_shard;
}

absl::StatusOr<repository::HistoryCursor> DecodeHistoryPosition(const std::string& plain) {
  repository::HistoryCursor c;
  size_t a = plain.find('|');
  size_t b = plain.find('|', a == std::string::npos ? a : a + 1);
  if (a == std::string::npos || b == std::string::npos) {
    return domain::FieldError("page_token", "malformed");
  }
  if (!absl::SimpleAtoi(plain.substr(0, a), &c.version) ||
      !absl::SimpleAtoi(plain.substr(a + 1, b - a - 1), &c.hlc)) {
    return domain::FieldError("page_token", "malformed");
  }
  c.origin_shard = plain.substr(b + 1);
  return c;
}

RecordService::RecordService(RecordServiceConfig config, repository::RecordRepository& records,
                             SpaceAccess& access, const RecordCipher& cipher, domain::Hlc& hlc,
                             WallClockMs now_ms, IdGenerator new_id, VaultMetrics* metrics,
                             RecordIndex& index)
    : config_(std::move(config)),
      records_(records),
      access_(access),
      cipher_(cipher),
      hlc_(hlc),
      now_ms_(std::move(now_ms)),
      new_id_(std::move(new_id)),
      metrics_(metrics),
      index_(index) {}

void RecordService::CountWrite(domain::RecordType type, std::string_view op) {
  if (metrics_ != nullptr) metrics_->RecordWritten(type, op);
}

absl::StatusOr<int> RecordService::PageSize(int requested) const {
  if (requested < 0) return domain::FieldError("page_size", "must not be negative");
  if (requested == 0) return config_.default_page_size;
  return std::min(requested, domain::Limits::kMaxPageSize);
}

absl::StatusOr<Revision> RecordService::Create(const Caller& caller, const std::string& space_id,
                                               const std::string& record_id,
                                               domain::RecordContent content) {
  COFFER_RETURN_IF_ERROR(domain::ValidateAndNormalize(content, "record."));
  if (!record_id.empty()) COFFER_RETURN_IF_ERROR(CheckId(record_id, "record_id"));
  COFFER_ASSIGN_OR_RETURN(std::string space,
                          access_.Resolve(caller, space_id, Role::kWriter, "record.space_id"));
  if (config_.write_gate != nullptr) COFFER_RETURN_IF_ERROR(config_.write_gate->CheckWritable());
  COFFER_RETURN_IF_ERROR(CheckFileRef(space, content.payload, nullptr));
  Revision rev;
  rev.space_id = space;
  rev.record_id = record_id.empty() ? new_id_() : domain::CanonicalUuid(record_id);
  rev.type = domain::TypeOf(content.payload);
  rev.content = std::move(content);
  rev.stamp = domain::NextLocalStamp({}, config_.shard_id, hlc_);
  rev.created_at_ms = rev.updated_at_ms = PhysicalMs(rev.stamp.hlc);
  COFFER_ASSIGN_OR_RETURN(StoredRevision stored, cipher_.Seal(rev));
  COFFER_RETURN_IF_ERROR(CheckReplicable(stored));
  COFFER_ASSIGN_OR_RETURN(int64_t inserted, records_.Insert(stored));
  if (inserted > 0) {
    CountWrite(rev.type, "create");
    rev.space_position = inserted;
    if (config_.head_cache != nullptr) {  // the base of the next edit (head_cache.h)
      StoredRecord now;
      now.head = std::move(stored);
      now.state_seq = 1;  // a new row's (V001)
      now.space_position = inserted;
      config_.head_cache->Wrote(std::move(now));
    }
    return rev;
  }
  // The id is taken. A retry of the same create (same space, same content, still version 1)
  // returns the stored record; anything else is a conflict. Content is compared only inside a
  // space the caller may write, so the answer reveals nothing about other users' records.
  COFFER_ASSIGN_OR_RETURN(std::optional<StoredRecord> existing, records_.Get(space, rev.record_id));
  const std::string exists = "record " + rev.record_id + " already exists in this space";
  if (!existing || existing->head.purged || existing->head.stamp.version != 1) {
    return absl::AlreadyExistsError(exists);
  }
  COFFER_ASSIGN_OR_RETURN(Revision current, cipher_.Open(existing->head));
  if (current.deleted || current.type != rev.type || !(current.content == rev.content)) {
    return absl::AlreadyExistsError(exists + " with different content");
  }
  current.sibling_count = static_cast<int>(existing->siblings.size());
  current.space_position = existing->space_position;  // the read saw the original create
  return current;
}

absl::StatusOr<std::string> RecordService::RecordSpace(const Caller& caller, const std::string& id,
                                                       Role needed, const std::string& space_id,
                                                       std::string_view space_field) {
  std::string space;
  if (space_id.empty()) {
    COFFER_ASSIGN_OR_RETURN(space, access_.PersonalSpace(caller));
  } else if (!domain::IsUuid(space_id)) {
    return domain::FieldError(space_field, "not a UUID");
  } else {
    space = domain::CanonicalUuid(space_id);
  }
  // Membership first: a space the caller is not in answers exactly like a missing record.
  COFFER_RETURN_IF_ERROR(access_.Check(caller, space, needed, NotFound(id)));
  return space;
}

absl::StatusOr<StoredRecord> RecordService::Load(const Caller& caller, const std::string& id,
                                                 Role needed, const std::string& space_id,
                                                 std::string_view space_field,
                                                 const std::optional<SessionPosition>& cached) {
  COFFER_ASSIGN_OR_RETURN(std::string space,
                          RecordSpace(caller, id, needed, space_id, space_field));
  if (!cached || config_.head_cache == nullptr) return Fetch(space, id);
  const bool applies = cached->space_id == space && cached->shard_id == config_.shard_id;
  COFFER_ASSIGN_OR_RETURN(
      std::optional<StoredRecord> record,
      config_.head_cache->Get(space, domain::CanonicalUuid(id), applies ? cached->position : 0));
  if (!record || record->head.purged) return absl::NotFoundError(NotFound(id));
  return *std::move(record);
}

absl::StatusOr<StoredRecord> RecordService::Fetch(const std::string& space, const std::string& id) {
  COFFER_ASSIGN_OR_RETURN(std::optional<StoredRecord> record,
                          records_.Get(space, domain::CanonicalUuid(id)));
  if (!record || record->head.purged) return absl::NotFoundError(NotFound(id));
  return *std::move(record);
}

absl::StatusOr<RecordWithSiblings> RecordService::Get(const Caller& caller, const std::string& id,
                                                      bool include_siblings,
                                                      const std::string& space_id,
                                                      const std::string& session_token) {
  COFFER_RETURN_IF_ERROR(CheckId(id, "id"));
  SessionPosition after;  // position 0: any current copy
  if (!session_token.empty()) {
    COFFER_ASSIGN_OR_RETURN(after, DecodeSessionToken(session_token, "consistency_token"));
  }
  COFFER_ASSIGN_OR_RETURN(StoredRecord record,
                          Load(caller, id, Role::kReader, space_id, "space_id", after));
  RecordWithSiblings out;
  COFFER_ASSIGN_OR_RETURN(out.head, cipher_.Open(record.head));
  out.head.sibling_count = static_cast<int>(record.siblings.size());
  if (include_siblings) {
    for (const StoredRevision& s : record.siblings) {
      COFFER_ASSIGN_OR_RETURN(Revision r, cipher_.Open(s));
      out.siblings.push_back(std::move(r));
    }
  }
  return out;
}

absl::StatusOr<Revision> RecordService::LocalWrite(const Caller& caller, const std::string& id,
                                                   std::optional<int64_t> expected_version,
                                                   std::string_view op, const Mutation& mutate,
                                                   const std::string& space_id,
                                                   std::string_view space_field,
                                                   HeadContent head_content) {
  COFFER_ASSIGN_OR_RETURN(std::string space,
                          RecordSpace(caller, id, Role::kWriter, space_id, space_field));
  // With an expected version, first from the head cache's copy: no read, and the check-and-set
  // tells whether the copy was current (head_cache.h).
  HeadCache* cache = config_.head_cache;
  if (expected_version && cache != nullptr) {
    if (std::shared_ptr<const StoredRecord> copy = cache->Peek(space, domain::CanonicalUuid(id))) {
      COFFER_ASSIGN_OR_RETURN(
          std::optional<Revision> written,
          WriteOnce(*copy, expected_version, op, mutate, /*guess=*/true, head_content));
      cache->CountGuess(/*stale=*/!written);
      if (written) return *std::move(written);
    }
  }
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    COFFER_ASSIGN_OR_RETURN(StoredRecord record, Fetch(space, id));
    COFFER_ASSIGN_OR_RETURN(
        std::optional<Revision> written,
        WriteOnce(record, expected_version, op, mutate, /*guess=*/false, head_content));
    if (written) return *std::move(written);
  }
  return absl::AbortedError("record " + id + " keeps changing; retry");
}

absl::StatusOr<std::optional<Revision>> RecordService::WriteOnce(
    const StoredRecord& record, std::optional<int64_t> expected_version, std::string_view op,
    const Mutation& mutate, bool guess, HeadContent head_content) {
  if (config_.write_gate != nullptr) COFFER_RETURN_IF_ERROR(config_.write_gate->CheckWritable());
  Revision next;
  StoredRevision stored;
  // Everything decided from `record`. A copy's refusal may be stale: decided again on a read.
  if (absl::Status decided =
          NextRevision(record, expected_version, mutate, head_content, next, stored);
      !decided.ok()) {
    if (guess) return std::nullopt;
    return decided;
  }
  const repository::HeadCheck expected = repository::HeadCheck::Of(record);
  int64_t written = 0;
  if (next.purged) {
    COFFER_ASSIGN_OR_RETURN(written, records_.Purge(stored, expected));
  } else {
    COFFER_ASSIGN_OR_RETURN(written, records_.ReplaceHead(stored, expected, config_.history_keep));
  }
  if (written <= 0) return std::nullopt;
  CountWrite(next.type, op);
  next.space_position = written;
  if (config_.head_cache != nullptr && !next.purged) {
    // What PostgreSQL now holds: the stored head (its created_at is the record's), no siblings,
    // state_seq moved by one (kReplaceHead).
    StoredRecord now;
    now.head = std::move(stored);
    now.head.created_at_ms = record.head.created_at_ms;
    now.state_seq = record.state_seq + 1;
    now.space_position = written;
    config_.head_cache->Wrote(std::move(now));
  }
  return next;
}

absl::Status RecordService::NextRevision(const StoredRecord& record,
                                         std::optional<int64_t> expected_version,
                                         const Mutation& mutate, HeadContent head_content,
                                         Revision& next, StoredRevision& stored) {
  if (record.head.purged) return absl::NotFoundError("record is purged");  // copies only
  const int64_t current_version = record.head.stamp.version;
  if (expected_version && *expected_version != current_version) {
    return VersionMismatch(*expected_version, current_version);
  }
  Revision head;
  if (head_content == HeadContent::kOpened) {
    COFFER_ASSIGN_OR_RETURN(head, cipher_.Open(record.head));
  } else {
    head = RecordCipher::ClearFields(record.head);
  }
  next = head;
  COFFER_RETURN_IF_ERROR(mutate(head, next));
  std::vector<domain::RevisionStamp> stamps = {record.head.stamp};
  for (const StoredRevision& s : record.siblings) stamps.push_back(s.stamp);
  next.stamp = domain::NextLocalStamp(stamps, config_.shard_id, hlc_);
  next.updated_at_ms = PhysicalMs(next.stamp.hlc);
  next.sibling_count = 0;
  COFFER_ASSIGN_OR_RETURN(stored, cipher_.Seal(next));
  return CheckReplicable(stored);
}

absl::StatusOr<Revision> RecordService::Update(const Caller& caller, const std::string& id,
                                               const std::string& space_id,
                                               domain::RecordContent content,
                                               int64_t expected_version) {
  COFFER_RETURN_IF_ERROR(CheckId(id, "record.id"));
  if (expected_version < 0) return domain::FieldError("expected_version", "must not be negative");
  if (expected_version == 0) return Create(caller, space_id, id, std::move(content));
  COFFER_RETURN_IF_ERROR(domain::ValidateAndNormalize(content, "record."));
  // The new content replaces the old; only a FILE payload is compared with the old one.
  const bool file = std::holds_alternative<domain::FilePayload>(content.payload);
  return LocalWrite(
      caller, id, expected_version, "update",
      [&](const Revision& head, Revision& next) -> absl::Status {
        if (head.deleted) {
          return absl::FailedPreconditionError("record is in the trash; undelete it first");
        }
        if (file) {
          COFFER_RETURN_IF_ERROR(
              CheckFileRef(head.space_id, content.payload, &head.content.payload));
        }
        next.type = domain::TypeOf(content.payload);
        next.content = content;
        return absl::OkStatus();
      },
      space_id, "record.space_id", file ? HeadContent::kOpened : HeadContent::kClearFieldsOnly);
}

absl::Status RecordService::CheckFileRef(const std::string& space_id,
                                         const domain::Payload& payload,
                                         const domain::Payload* before) const {
  const auto* file = std::get_if<domain::FilePayload>(&payload);
  if (file == nullptr || file->blob_id.empty() || config_.file_refs == nullptr) {
    return absl::OkStatus();
  }
  if (before != nullptr) {
    const auto* old = std::get_if<domain::FilePayload>(before);
    if (old != nullptr && old->blob_id == file->blob_id) return absl::OkStatus();  // unchanged
  }
  return config_.file_refs->Check(space_id, *file);
}

absl::StatusOr<std::string> RecordService::SpaceOf(const Caller& caller, const std::string& id,
                                                   Role needed, const std::string& space_id) {
  COFFER_RETURN_IF_ERROR(CheckId(id, "record_id"));
  COFFER_ASSIGN_OR_RETURN(StoredRecord record, Load(caller, id, needed, space_id));
  return record.head.space_id;
}

absl::StatusOr<Revision> RecordService::AttachFile(const Caller& caller, const std::string& id,
                                                   int64_t expected_version,
                                                   domain::FilePayload file,
                                                   const std::string& space_id) {
  COFFER_RETURN_IF_ERROR(CheckId(id, "record_id"));
  return LocalWrite(
      caller, id, expected_version, "update",
      [&](const Revision& head, Revision& next) -> absl::Status {
        if (head.type != domain::RecordType::kFile) {
          return absl::FailedPreconditionError(
              "record " + id + " is not a FILE record; content attaches only there");
        }
        if (head.deleted) {
          return absl::FailedPreconditionError("record is in the trash; undelete it first");
        }
        next.content.payload = file;
        return absl::OkStatus();
      },
      space_id);
}

absl::StatusOr<Revision> RecordService::Delete(const Caller& caller, const std::string& id,
                                               int64_t expected_version,
                                               const std::string& space_id) {
  COFFER_RETURN_IF_ERROR(CheckId(id, "id"));
  return LocalWrite(
      caller, id, expected_version, "delete",
      [](const Revision& head, Revision& next) -> absl::Status {
        if (head.deleted) {
          return absl::FailedPreconditionError("record is already in the trash");
        }
        next.deleted = true;
        return absl::OkStatus();
      },
      space_id);
}

absl::StatusOr<Revision> RecordService::Undelete(const Caller& caller, const std::string& id,
                                                 int64_t expected_version,
                                                 const std::string& space_id) {
  COFFER_RETURN_IF_ERROR(CheckId(id, "id"));
  return LocalWrite(
      caller, id, expected_version, "undelete",
      [](const Revision& head, Revision& next) -> absl::Status {
        if (!head.deleted) {
          return absl::FailedPreconditionError("record is not in the trash");
        }
        next.deleted = false;
        return absl::OkStatus();
      },
      space_id);
}

absl::StatusOr<Revision> RecordService::Purge(const Caller& caller, const std::string& id,
                                              int64_t expected_version,
                                              const std::string& space_id) {
  COFFER_RETURN_IF_ERROR(CheckId(id, "id"));
  return LocalWrite(
      caller, id, expected_version, "purge",
      [](const Revision& head, Revision& next) -> absl::Status {
        if (!head.deleted) {
          return absl::FailedPreconditionError("record is not in the trash; delete it first");
        }
        next.purged = true;
        next.content = domain::RecordContent{};
        return absl::OkStatus();
      },
      space_id);
}

absl::StatusOr<Revision> RecordService::Restore(const Caller& caller, const std::string& id,
                                                int64_t version, int64_t expected_version,
                                                const std::string& space_id) {
  COFFER_RETURN_IF_ERROR(CheckId(id, "id"));
  if (version <= 0) return domain::FieldError("version", "must be positive");
  std::optional<Revision> old;
  return LocalWrite(
      caller, id, expected_version, "restore",
      [&](const Revision&, Revision& next) -> absl::Status {
        if (!old) {
          COFFER_ASSIGN_OR_RETURN(
              std::optional<StoredRevision> stored,
              records_.GetHistoryVersion(next.space_id, next.record_id, version));
          if (!stored || stored->purged) {
            return absl::NotFoundError("version " + std::to_string(version) + " of record " + id +
                                       " is not kept");
          }
          COFFER_ASSIGN_OR_RETURN(old, cipher_.Open(*stored));
        }
        next.type = old->type;
        next.content = old->content;
        next.deleted = false;
        return absl::OkStatus();
      },
      space_id);
}

absl::StatusOr<Page<Revision>> RecordService::FilterAndPage(const std::string& space_id,
                                                            const HeadPredicate& keep,
                                                            int page_size,
                                                            const std::string& page_token,
                                                            const std::string& token_purpose) {
  // Names are encrypted, so ordering by (name, id) happens after decryption (in the index, or
  // here); the page token is the (name, id) of the last record returned (keyset pagination:
  // stable while records are added or removed concurrently), sealed so it reveals nothing.
  std::optional<RecordIndex::Position> after;
  if (!page_token.empty()) {
    COFFER_ASSIGN_OR_RETURN(std::string plain,
                            cipher_.OpenToken(space_id, token_purpose, page_token));
    COFFER_ASSIGN_OR_RETURN(after, DecodeNamePosition(plain));
  }
  // The page's heads, still sealed, and one more to know whether another page follows.
  struct Hit {
    StoredRevision sealed;
    int sibling_count = 0;
  };
  std::vector<Hit> hits;
  const size_t wanted = static_cast<size_t>(page_size) + 1;
  const RecordIndex::Visitor collect = [&](const std::string&, const RecordIndex::Entry& e) {
    if (keep(e)) hits.push_back({e.sealed, e.sibling_count});
    return hits.size() < wanted;
  };
  COFFER_RETURN_IF_ERROR(index_.Scan(space_id, after, collect).status());
  Page<Revision> page;
  for (size_t i = 0; i < hits.size() && i < static_cast<size_t>(page_size); ++i) {
    COFFER_ASSIGN_OR_RETURN(Revision r, cipher_.Open(hits[i].sealed));
    r.sibling_count = hits[i].sibling_count;
    page.items.push_back(std::move(r));
  }
  if (hits.size() == wanted) {
    const Revision& last = page.items.back();
    COFFER_ASSIGN_OR_RETURN(
        page.next_page_token,
        cipher_.SealToken(space_id, token_purpose,
                          EncodeNamePosition(last.content.name, last.record_id)));
  }
  return page;
}

absl::StatusOr<Page<Revision>> RecordService::List(const Caller& caller,
                                                   const std::string& space_id,
                                                   const RecordListFilter& filter, int page_size,
                                                   const std::string& page_token) {
  COFFER_ASSIGN_OR_RETURN(int size, PageSize(page_size));
  if (filter.name_prefix.size() > domain::Limits::kMaxName) {
    return domain::FieldError("filter.name_prefix", "longer than 256 bytes");
  }
  if (filter.metadata_key.size() > domain::Limits::kMaxMetadataKey) {
    return domain::FieldError("filter.metadata_key", "longer than 128 bytes");
  }
  COFFER_ASSIGN_OR_RETURN(std::string space,
                          access_.Resolve(caller, space_id, Role::kReader, "space_id"));
  // The token is bound to the filter: reusing it with another filter is INVALID_ARGUMENT.
  std::string purpose = "list|" + std::to_string(filter.in_trash) +
                        std::to_string(filter.in_conflict) + "|" + filter.name_prefix + "|" +
                        filter.metadata_key + "|" + filter.metadata_value + "|";
  for (domain::RecordType t : filter.types) purpose += std::string(domain::RecordTypeName(t)) + ",";
  const std::string prefix = domain::LowerAscii(filter.name_prefix);
  auto keep = [&](const RecordIndex::Entry& e) {
    if (e.deleted != filter.in_trash) return false;
    if (filter.in_conflict && e.sibling_count == 0) return false;
    if (!filter.types.empty() &&
        std::find(filter.types.begin(), filter.types.end(), e.type) == filter.types.end()) {
      return false;
    }
    if (!prefix.empty() && e.search_texts.front().rfind(prefix, 0) != 0) return false;
    if (!filter.metadata_key.empty()) {
      auto it = e.metadata.find(filter.metadata_key);
      if (it == e.metadata.end()) return false;
      if (!filter.metadata_value.empty() && it->second != filter.metadata_value) return false;
    }
    return true;
  };
  return FilterAndPage(space, keep, size, page_token, crypto::HexEncode(crypto::Sha256(purpose)));
}

absl::StatusOr<Page<Revision>> RecordService::Search(const Caller& caller,
                                                     const std::string& space_id,
                                                     const std::string& query, int page_size,
                                                     const std::string& page_token) {
  if (query.empty()) return domain::FieldError("query", "required");
  if (query.size() > domain::Limits::kMaxQuery) {
    return domain::FieldError("query", "longer than 256 bytes");
  }
  COFFER_ASSIGN_OR_RETURN(int size, PageSize(page_size));
  COFFER_ASSIGN_OR_RETURN(std::string space,
                          access_.Resolve(caller, space_id, Role::kReader, "space_id"));
  // domain::MatchesSearch over the index's lower-cased texts.
  const std::string needle = domain::LowerAscii(query);
  auto keep = [&](const RecordIndex::Entry& e) {
    if (e.deleted) return false;
    return std::any_of(e.search_texts.begin(), e.search_texts.end(),
                       [&](const std::string& t) { return t.find(needle) != std::string::npos; });
  };
  return FilterAndPage(space, keep, size, page_token,
                       "search|" + crypto::HexEncode(crypto::Sha256(query)));
}

absl::StatusOr<Page<Revision>> RecordService::ListVersions(const Caller& caller,
                                                           const std::string& id, int page_size,
                                                           const std::string& page_token,
                                                           const std::string& space_id) {
  COFFER_RETURN_IF_ERROR(CheckId(id, "id"));
  COFFER_ASSIGN_OR_RETURN(int size, PageSize(page_size));
  COFFER_ASSIGN_OR_RETURN(StoredRecord record, Load(caller, id, Role::kReader, space_id));
  const std::string& space = record.head.space_id;
  const std::string purpose = "versions|" + record.head.record_id;
  std::optional<repository::HistoryCursor> after;
  if (!page_token.empty()) {
    COFFER_ASSIGN_OR_RETURN(std::string plain, cipher_.OpenToken(space, purpose, page_token));
    COFFER_ASSIGN_OR_RETURN(after, DecodeHistoryPosition(plain));
  }
  COFFER_ASSIGN_OR_RETURN(std::vector<StoredRevision> history,
                          records_.ListHistory(space, record.head.record_id, after, size + 1));
  Page<Revision> page;
  for (size_t i = 0; i < history.size() && static_cast<int>(i) < size; ++i) {
    COFFER_ASSIGN_OR_RETURN(Revision r, cipher_.Open(history[i]));
    page.items.push_back(std::move(r));
  }
  if (static_cast<int>(history.size()) > size) {
    const Revision& last = page.items.back();
    COFFER_ASSIGN_OR_RETURN(
        page.next_page_token,
        cipher_.SealToken(
            space, purpose,
            EncodeHistoryPosition({last.stamp.version, last.stamp.hlc, last.stamp.origin_shard})));
  }
  return page;
}

absl::StatusOr<Revision> RecordService::GetVersion(const Caller& caller, const std::string& id,
                                                   int64_t version, const std::string& space_id) {
  COFFER_RETURN_IF_ERROR(CheckId(id, "id"));
  if (version <= 0) return domain::FieldError("version", "must be positive");
  COFFER_ASSIGN_OR_RETURN(StoredRecord record, Load(caller, id, Role::kReader, space_id));
  COFFER_ASSIGN_OR_RETURN(
      std::optional<StoredRevision> stored,
      records_.GetHistoryVersion(record.head.space_id, record.head.record_id, version));
  if (!stored) {
    return absl::NotFoundError("version " + std::to_string(version) + " of record " + id +
                               " is not kept");
  }
  return cipher_.Open(*stored);
}

absl::StatusOr<Page<RecordWithSiblings>> RecordService::ListConflicts(
    const Caller& caller, const std::string& space_id, int page_size,
    const std::string& page_token) {
  COFFER_ASSIGN_OR_RETURN(int size, PageSize(page_size));
  COFFER_ASSIGN_OR_RETURN(std::string space,
                          access_.Resolve(caller, space_id, Role::kReader, "space_id"));
  // Conflicts may be in the trash too: a delete concurrent with an edit is a conflict.
  COFFER_ASSIGN_OR_RETURN(
      Page<Revision> page,
      FilterAndPage(
          space, [](const RecordIndex::Entry& e) { return e.sibling_count > 0; }, size, page_token,
          "conflicts"));
  // The page's siblings, from the space's conflicted heads (live and trashed): O(conflicts),
  // never O(space). A record resolved since the page was read is left out.
  std::map<std::string, StoredRecord> conflicted;
  for (bool in_trash : {false, true}) {
    repository::HeadFilter filter;
    filter.in_conflict = true;
    filter.in_trash = in_trash;
    COFFER_ASSIGN_OR_RETURN(std::vector<StoredRecord> heads, records_.ListHeads(space, filter));
    for (StoredRecord& r : heads) conflicted[r.head.record_id] = std::move(r);
  }
  Page<RecordWithSiblings> out;
  out.next_page_token = page.next_page_token;
  for (Revision& head : page.items) {
    auto now = conflicted.find(head.record_id);
    if (now == conflicted.end() || now->second.siblings.empty()) continue;
    RecordWithSiblings c;
    if (now->second.head.stamp != head.stamp) {
      COFFER_ASSIGN_OR_RETURN(c.head, cipher_.Open(now->second.head));
    } else {
      c.head = std::move(head);
    }
    c.head.sibling_count = static_cast<int>(now->second.siblings.size());
    for (const StoredRevision& s : now->second.siblings) {
      COFFER_ASSIGN_OR_RETURN(Revision r, cipher_.Open(s));
      c.siblings.push_back(std::move(r));
    }
    out.items.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<OtpCodeResult> RecordService::GetOtpCode(const Caller& caller, const std::string& id,
                                                        const std::string& space_id) {
  COFFER_RETURN_IF_ERROR(CheckId(id, "id"));
  // From PostgreSQL, not the head cache: a code for a secret re-enrolled through another replica
  // a moment ago must not come from the old one (the request carries no session token).
  COFFER_ASSIGN_OR_RETURN(StoredRecord stored, Load(caller, id, Role::kReader, space_id));
  COFFER_ASSIGN_OR_RETURN(Revision opened, cipher_.Open(stored.head));
  const auto* otp = std::get_if<domain::OtpPayload>(&opened.content.payload);
  if (otp == nullptr) return absl::FailedPreconditionError("record is not an OTP record");
  const int64_t now_s = now_ms_() / 1000;
  OtpCodeResult out;
  if (otp->kind == domain::OtpKind::kTotp) {
    COFFER_ASSIGN_OR_RETURN(domain::OtpCode code, domain::CurrentOtpCode(*otp, now_s));
    out.code = code.code;
    out.period = otp->period_seconds;
    out.seconds_remaining = static_cast<int>(code.valid_until_unix - now_s);
    out.counter = static_cast<uint64_t>(now_s / otp->period_seconds);
    return out;
  }
  // HOTP: the code for the stored counter, and the counter advances in a new revision, so one
  // code is never handed out twice.
  COFFER_ASSIGN_OR_RETURN(
      Revision written,
      LocalWrite(
          caller, id, std::nullopt, "otp",
          [&](const Revision& head, Revision& next) -> absl::Status {
            const auto* current = std::get_if<domain::OtpPayload>(&head.content.payload);
            if (current == nullptr || current->kind != domain::OtpKind::kHotp) {
              return absl::FailedPreconditionError("record is no longer an HOTP record");
            }
            if (head.deleted) {
              return absl::FailedPreconditionError("record is in the trash");
            }
            COFFER_ASSIGN_OR_RETURN(domain::OtpCode code, domain::CurrentOtpCode(*current, now_s));
            out.code = code.code;
            out.counter = current->counter;
            domain::OtpPayload advanced = *current;
            advanced.counter += 1;
            next.content.payload = advanced;
            return absl::OkStatus();
          },
          space_id));
  out.session_token = SessionToken(written);
  return out;
}

absl::StatusOr<std::pair<std::string, uint64_t>> RecordService::SpaceDigest(
    const std::string& space_id) {
  if (!domain::IsUuid(space_id)) return domain::FieldError("space_id", "not a UUID");
  COFFER_ASSIGN_OR_RETURN(std::vector<StoredRevision> state,
                          records_.ListSpaceState(domain::CanonicalUuid(space_id)));
  // Canonical order independent of storage order: (record, origin shard, own counter).
  std::sort(state.begin(), state.end(), [](const StoredRevision& a, const StoredRevision& b) {
    return std::make_tuple(a.record_id, a.stamp.origin_shard,
                           a.stamp.vector.Get(a.stamp.origin_shard)) <
           std::make_tuple(b.record_id, b.stamp.origin_shard,
                           b.stamp.vector.Get(b.stamp.origin_shard));
  });
  std::string material;
  std::set<std::string> records;
  for (const StoredRevision& s : state) {
    records.insert(s.record_id);
    COFFER_ASSIGN_OR_RETURN(Revision r, cipher_.Open(s));
    // Hash the plaintext, not the ciphertext: envelopes use random nonces and may be
    // re-encrypted under another KEK, while the state they carry must be identical.
    std::string line = r.record_id + "|" + r.space_id + "|" +
                       std::string(domain::RecordTypeName(r.type)) + "|" +
                       std::to_string(r.stamp.version) + "|" + r.stamp.vector.ToJson() + "|" +
                       std::to_string(r.stamp.hlc) + "|" + r.stamp.origin_shard + "|" +
                       (r.deleted ? "d" : "-") + (r.purged ? "p" : "-") + "|" +
                       std::to_string(r.created_at_ms) + "|" + std::to_string(r.updated_at_ms);
    if (!r.purged) {
      line += "|" + crypto::HexEncode(crypto::Sha256(r.content.name)) + "|" +
              crypto::HexEncode(crypto::Sha256(domain::EncodeMetadata(r.content.metadata))) + "|" +
              crypto::HexEncode(crypto::Sha256(domain::EncodePayload(r.content.payload)));
    }
    material += crypto::HexEncode(crypto::Sha256(line));
  }
  return std::make_pair(crypto::HexEncode(crypto::Sha256(material)),
                        static_cast<uint64_t>(records.size()));
}

}  // namespace coffer::vault::service
