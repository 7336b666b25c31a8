// RecordService: the record use cases of RecordService (proto/coffer/vault/v1/vault.proto) on
// one shard — authorization, validation, check-and-set, versioning, encryption, history.
//
// Every write follows docs/architecture.md §3 rule 1: take the record (head + siblings), check the
// caller's expected version against the head, compute the new stamp with NextLocalStamp (which
// resolves every sibling), seal the content bound to the new version, and commit it with one
// statement that succeeds only if the record's head is still the one taken (repository::
// HeadCheck). The record is the head cache's copy when the replica holds one (no read; a copy
// that is not current only costs the read below, see head_cache.h), else read from PostgreSQL.
// When another writer got there first, the write re-reads: if the head's version moved,
// FAILED_PRECONDITION tells the client the current version; if only siblings changed (a merge),
// the write is recomputed.
//
// Errors: INVALID_ARGUMENT naming the field, NOT_FOUND for records the caller cannot see (also
// in other users' spaces), FAILED_PRECONDITION for version mismatches and trash-state rules,
// ALREADY_EXISTS for a create with a taken id and different content. Nothing is stored on error.
//
// Lifecycle: borrows its collaborators, which must outlive it. Threading: thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/domain/otp.h"
#include "services/vault/domain/record.h"
#include "services/vault/domain/role.h"
#include "services/vault/domain/write_gate.h"
#include "services/vault/repository/record_repository.h"
#include "services/vault/service/caller.h"
#include "services/vault/service/file_ref_checker.h"
#include "services/vault/service/head_cache.h"
#include "services/vault/service/record_cipher.h"
#include "services/vault/service/record_index.h"
#include "services/vault/service/space_access.h"
#include "services/vault/service/vault_metrics.h"

namespace coffer::vault::service {

struct RecordServiceConfig {
  // This shard's id: the origin of local writes and its entry in version vectors.
  std::string shard_id;
  // Revisions kept per record in history (the newest N); 0 keeps all.
  int history_keep = 0;
  int default_page_size = 100;
  // Asked before every write after validation and authorization; a non-OK status (e.g.
  // UNAVAILABLE while the shard joins replication, sync/replication_gate.h) refuses the write.
  // Null = always writable. Borrowed: must outlive the service.
  const domain::WriteGate* write_gate = nullptr;
  // Checks a FILE record's reference to uploaded content before a create, or an update that
  // changes the reference (service/file_ref_checker.h). Null = references are not checked. A
  // reference without a blob id (content not uploaded yet) is never checked. Borrowed.
  const FileRefChecker* file_refs = nullptr;
  // Serves Get from memory while current (service/head_cache.h). Null = every Get reads the
  // repository. Borrowed.
  HeadCache* head_cache = nullptr;
};

// A record head and, when asked, its conflict siblings.
struct RecordWithSiblings {
  domain::Revision head;
  std::vector<domain::Revision> siblings;
};

struct RecordListFilter {
  std::vector<domain::RecordType> types;
  std::string name_prefix;     // case-insensitive
  std::string metadata_key;    // empty = any
  std::string metadata_value;  // exact, only with metadata_key
  bool in_trash = false;
  bool in_conflict = false;
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;  // empty on the last page
};

// The plaintext of a List, Search or ListConflicts page token (sealed by RecordCipher::SealToken):
// the (name, record id) of the last record returned, separated by a NUL byte (names hold no
// control characters). Public so tests/fuzz/page_token checks the code RecordService uses.
std::string EncodeNamePosition(const std::string& name, const std::string& record_id);
// INVALID_ARGUMENT "page_token: malformed" when `plain` has no separator.
absl::StatusOr<std::pair<std::string, std::string>> DecodeNamePosition(const std::string& plain);

// The plaintext of a ListVersions page token: "<version>|<hlc>|<origin_shard>" of the last
// revision returned.
std::string EncodeHistoryPosition(const repository::HistoryCursor& position);
// INVALID_ARGUMENT "page_token: malformed" when `plain` is not of that form.
absl::StatusOr<repository::HistoryCursor> DecodeHistoryPosition(const std::string& plain);

// A session token (docs/architecture.md §3b): the position of a space on a shard after a write,
// "s1.<position>.<space id>.<shard id>". Clients send the last one a write returned for the space
// with their reads of it, so a replica whose cached copy is older reads PostgreSQL instead.
// Not a secret and not a capability: it only ever makes a read fresher.
struct SessionPosition {
  int64_t position = 0;
  std::string space_id;
  std::string shard_id;
};
std::string EncodeSessionToken(const SessionPosition& position);
// INVALID_ARGUMENT "<field>: malformed" (or "too long") unless `token` is of that form.
absl::StatusOr<SessionPosition> DecodeSessionToken(std::string_view token, std::string_view field);

struct OtpCodeResult {
  std::string code;
  int seconds_remaining = 0;  // TOTP
  int period = 0;             // TOTP
  uint64_t counter = 0;       // HOTP: the counter used; TOTP: the time step
  std::string session_token;  // HOTP: of the write that advanced the counter; TOTP: empty
};

class RecordService {
 public:
  using WallClockMs = std::function<int64_t()>;
  using IdGenerator = std::function<std::string()>;

  // `index` serves List, Search and ListConflicts pages (from memory, or for a space it cannot
  // hold by reading the space for the call).
  RecordService(RecordServiceConfig config, repository::RecordRepository& records,
                SpaceAccess& access, const RecordCipher& cipher, domain::Hlc& hlc,
                WallClockMs now_ms, IdGenerator new_id, VaultMetrics* metrics, RecordIndex& index);

  // Records are identified by (space, id) (docs/architecture.md §2). Every method that names a
  // record takes its `space_id`; empty = the caller's personal space. A space the caller is not a
  // member of answers NOT_FOUND, exactly like a record that does not exist.
  //
  // `record_id` empty = server-chosen.
  absl::StatusOr<domain::Revision> Create(const Caller& caller, const std::string& space_id,
                                          const std::string& record_id,
                                          domain::RecordContent content);
  // `session_token`: the consistency_token of the caller's last write to the space (empty =
  // none); the read then reflects that write. A token of another space or shard is ignored; a
  // malformed one is INVALID_ARGUMENT.
  absl::StatusOr<RecordWithSiblings> Get(const Caller& caller, const std::string& id,
                                         bool include_siblings, const std::string& space_id = "",
                                         const std::string& session_token = "");
  // expected_version 0 = create with this id in `space_id`. The new content replaces the old,
  // which is not decrypted (except a FILE payload's, to compare the blob reference): a head that
  // could no longer be opened (sealed under a retired key) is overwritten, not refused.
  absl::StatusOr<domain::Revision> Update(const Caller& caller, const std::string& id,
                                          const std::string& space_id,
                                          domain::RecordContent content, int64_t expected_version);
  absl::StatusOr<domain::Revision> Delete(const Caller& caller, const std::string& id,
                                          int64_t expected_version,
                                          const std::string& space_id = "");
  absl::StatusOr<domain::Revision> Undelete(const Caller& caller, const std::string& id,
                                            int64_t expected_version,
                                            const std::string& space_id = "");
  // Returns the purge tombstone (content-less; for its session token).
  absl::StatusOr<domain::Revision> Purge(const Caller& caller, const std::string& id,
                                         int64_t expected_version,
                                         const std::string& space_id = "");
  absl::StatusOr<Page<domain::Revision>> List(const Caller& caller, const std::string& space_id,
                                              const RecordListFilter& filter, int page_size,
                                              const std::string& page_token);
  absl::StatusOr<Page<domain::Revision>> Search(const Caller& caller, const std::string& space_id,
                                                const std::string& query, int page_size,
                                                const std::string& page_token);
  absl::StatusOr<Page<domain::Revision>> ListVersions(const Caller& caller, const std::string& id,
                                                      int page_size, const std::string& page_token,
                                                      const std::string& space_id = "");
  absl::StatusOr<domain::Revision> GetVersion(const Caller& caller, const std::string& id,
                                              int64_t version, const std::string& space_id = "");
  absl::StatusOr<domain::Revision> Restore(const Caller& caller, const std::string& id,
                                           int64_t version, int64_t expected_version,
                                           const std::string& space_id = "");
  absl::StatusOr<Page<RecordWithSiblings>> ListConflicts(const Caller& caller,
                                                         const std::string& space_id, int page_size,
                                                         const std::string& page_token);
  absl::StatusOr<OtpCodeResult> GetOtpCode(const Caller& caller, const std::string& id,
                                           const std::string& space_id = "");

  // The session token of a revision a write returned ("" when it carries no position).
  std::string SessionToken(const domain::Revision& written) const;

  // The space of record `id` when the caller holds at least `needed` there (NOT_FOUND otherwise,
  // as for every record the caller cannot see).
  absl::StatusOr<std::string> SpaceOf(const Caller& caller, const std::string& id,
                                      domain::Role needed, const std::string& space_id = "");
  // Points FILE record `id` at uploaded content (FileService.UploadFile with a record_id): the
  // next revision keeps name and metadata and has `file` as its payload. Check-and-set on
  // `expected_version` like Update; FAILED_PRECONDITION when the record is not a FILE record or
  // is in the trash.
  absl::StatusOr<domain::Revision> AttachFile(const Caller& caller, const std::string& id,
                                              int64_t expected_version, domain::FilePayload file,
                                              const std::string& space_id = "");

  // Hex SHA-256 over the space's replicated state (heads, siblings, tombstones; stamps, flags and
  // plaintext content), and the number of records. For AdminService.GetSpaceDigest.
  absl::StatusOr<std::pair<std::string, uint64_t>> SpaceDigest(const std::string& space_id);

 private:
  // Computes the next revision from the current head (after version and role checks); returns
  // it or an error that aborts the write.
  using Mutation =
      std::function<absl::Status(const domain::Revision& head, domain::Revision& next)>;
  // What a mutation reads of the head: everything (decrypted), or only the fields stored in
  // clear (RecordCipher::ClearFields) when it replaces the whole content: the head's envelopes
  // are then not opened (three AES-GCM opens and a decode saved per Update).
  enum class HeadContent { kOpened, kClearFieldsOnly };

  // Loads record `id` of `space_id` (empty = personal) when the caller holds `needed` there,
  // NOT_FOUND otherwise (also when purged); a malformed space id is INVALID_ARGUMENT naming
  // `space_field`. `cached` (reads only): served by the head cache when it holds a copy at or
  // after that session position (a position of another space or shard counts as none).
  absl::StatusOr<repository::StoredRecord> Load(
      const Caller& caller, const std::string& id, domain::Role needed, const std::string& space_id,
      std::string_view space_field = "space_id",
      const std::optional<SessionPosition>& cached = std::nullopt);
  // Load's authorization: the canonical id of `space_id` (empty = personal) when the caller
  // holds `needed` there; NOT_FOUND naming record `id` otherwise.
  absl::StatusOr<std::string> RecordSpace(const Caller& caller, const std::string& id,
                                          domain::Role needed, const std::string& space_id,
                                          std::string_view space_field);
  // Load's read, for a space already authorized: from PostgreSQL, NOT_FOUND when missing/purged.
  absl::StatusOr<repository::StoredRecord> Fetch(const std::string& space, const std::string& id);
  // One attempt of LocalWrite from `record`: the written revision, or nullopt when the
  // check-and-set found the head changed. With `guess` (a head cache copy, maybe stale) every
  // refusal the copy would cause (NextRevision's errors) is nullopt too, so the caller decides
  // again on a fresh read.
  absl::StatusOr<std::optional<domain::Revision>> WriteOnce(const repository::StoredRecord& record,
                                                            std::optional<int64_t> expected_version,
                                                            std::string_view op,
                                                            const Mutation& mutate, bool guess,
                                                            HeadContent head_content);
  // What a local write from `record` stores: checks the expected version, applies `mutate`,
  // stamps and seals `next` into `stored`, within the event size limit.
  absl::Status NextRevision(const repository::StoredRecord& record,
                            std::optional<int64_t> expected_version, const Mutation& mutate,
                            HeadContent head_content, domain::Revision& next,
                            repository::StoredRevision& stored);
  // The check-and-set write loop (see the file comment). expected_version nullopt = whatever
  // the head is (server-side writes such as advancing an HOTP counter).
  absl::StatusOr<domain::Revision> LocalWrite(const Caller& caller, const std::string& id,
                                              std::optional<int64_t> expected_version,
                                              std::string_view op, const Mutation& mutate,
                                              const std::string& space_id,
                                              std::string_view space_field = "space_id",
                                              HeadContent head_content = HeadContent::kOpened);
  // One page of the space's heads that `keep` accepts, in (name, id) order after the page
  // token's position, from the index. The token is sealed for `token_purpose`, so it is
  // rejected with another space, method or filter. Memory is O(page) for a space the index
  // holds.
  using HeadPredicate = std::function<bool(const RecordIndex::Entry&)>;
  absl::StatusOr<Page<domain::Revision>> FilterAndPage(const std::string& space_id,
                                                       const HeadPredicate& keep, int page_size,
                                                       const std::string& page_token,
                                                       const std::string& token_purpose);
  absl::StatusOr<int> PageSize(int requested) const;
  // config_.file_refs for a FILE payload whose blob id is set and differs from `before`'s.
  absl::Status CheckFileRef(const std::string& space_id, const domain::Payload& payload,
                            const domain::Payload* before) const;
  void CountWrite(domain::RecordType type, std::string_view op);

  const RecordServiceConfig config_;
  repository::RecordRepository& records_;
  SpaceAccess& access_;
  const RecordCipher& cipher_;
  domain::Hlc& hlc_;
  WallClockMs now_ms_;
  IdGenerator new_id_;
  VaultMetrics* metrics_;  // may be null (tests)
  RecordIndex& index_;
};

}  // namespace coffer::vault::service
