#include "services/vault/repository/pg_record_repository.h"

#include <pqxx/binarystring>
#include <pqxx/result>
#include <pqxx/transaction_base>

#include "pkg/postgres/prepared.h"
#include "pkg/postgres/transaction.h"
#include "pkg/status/status.h"
#include "services/vault/repository/pg_rows.h"
#include "services/vault/repository/sql.h"

namespace coffer::vault::repository {
namespace {

using postgres::IsolationLevel;

using internal::ExecRevision;
using internal::ReadRevision;

absl::StatusOr<std::vector<StoredRevision>> ReadRevisions(const pqxx::result& result) {
  std::vector<StoredRevision> out;
  out.reserve(result.size());
  for (const auto& row : result) {
    COFFER_ASSIGN_OR_RETURN(StoredRevision r, ReadRevision(row));
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<pqxx::result> Read(postgres::ConnectionPool& pool, const auto& fn) {
  pqxx::result result;
  // One statement: autocommit, one round trip instead of BEGIN / SELECT / COMMIT.
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        result = fn(txn);
        return absl::OkStatus();
      }));
  return result;
}

}  // namespace

absl::StatusOr<int64_t> PgRecordRepository::WriteOne(const char* sql, const StoredRevision& r,
                                                     auto&&... extra) {
  COFFER_ASSIGN_OR_RETURN(pqxx::result rows,
                          writes_.Run(r.space_id, [&](pqxx::transaction_base& txn) {
                            return ExecRevision(txn, sql, r, extra...);
                          }));
  return rows.empty() ? 0 : rows[0][0].as<int64_t>();
}

absl::StatusOr<int64_t> PgRecordRepository::Committed(absl::StatusOr<int64_t> written,
                                                      const std::string& space_id) {
  // UNKNOWN: the connection broke during COMMIT, so the write may have committed; a spare
  // notification only costs waiters a query.
  const bool maybe = written.ok() ? *written > 0 : absl::IsUnknown(written.status());
  if (maybe && listener_ != nullptr) listener_->Committed(space_id);
  return written;
}

absl::StatusOr<int64_t> PgRecordRepository::Insert(const StoredRevision& revision) {
  return Committed(WriteOne(sql::kInsertRecord, revision), revision.space_id);
}

absl::StatusOr<std::optional<StoredRecord>> PgRecordRepository::Get(const std::string& space_id,
                                                                    const std::string& record_id) {
  COFFER_ASSIGN_OR_RETURN(pqxx::result result, Read(pool_, [&](pqxx::transaction_base& txn) {
                            return postgres::ExecPrepared(txn, sql::kSelectRecord, record_id,
                                                          space_id);
                          }));
  if (result.empty() || !result[0][0].as<bool>()) return std::nullopt;
  StoredRecord record;
  record.state_seq = result[0][1].as<int64_t>();
  record.space_position = result[0][17].as<int64_t>();
  COFFER_ASSIGN_OR_RETURN(std::vector<StoredRevision> revisions, ReadRevisions(result));
  record.head = std::move(revisions.front());
  record.siblings.assign(std::make_move_iterator(revisions.begin() + 1),
                         std::make_move_iterator(revisions.end()));
  return record;
}

absl::StatusOr<int64_t> PgRecordRepository::ReplaceHead(const StoredRevision& revision,
                                                        const HeadCheck& expected,
                                                        int history_keep) {
  return Committed(WriteOne(sql::kReplaceHead, revision, expected.version, expected.state_seq,
                            static_cast<int64_t>(history_keep), static_cast<int64_t>(expected.hlc),
                            expected.origin_shard),
                   revision.space_id);
}

absl::StatusOr<int64_t> PgRecordRepository::Purge(const StoredRevision& tombstone,
                                                  const HeadCheck& expected) {
  return Committed(WriteOne(sql::kPurgeRecord, tombstone, expected.version, expected.state_seq,
                            static_cast<int64_t>(expected.hlc), expected.origin_shard),
                   tombstone.space_id);
}

absl::StatusOr<std::vector<StoredRecord>> PgRecordRepository::ListHeads(const std::string& space_id,
                                                                        const HeadFilter& filter) {
  std::vector<std::string_view> type_names;
  for (domain::RecordType t : filter.types) type_names.push_back(domain::RecordTypeName(t));
  // A text[] literal of our own enum names, or NULL (empty) for every type.
  const std::string types = type_names.empty() ? "" : postgres::ArrayLiteral(type_names);
  pqxx::result heads, siblings;
  COFFER_RETURN_IF_ERROR(postgres::RunInReadOnlyTransaction(
      pool_, IsolationLevel::kRepeatableRead, [&](pqxx::transaction_base& txn) -> absl::Status {
        if (types.empty()) {
          heads = postgres::ExecPrepared(txn, sql::kListHeads, space_id, filter.in_trash, nullptr,
                                         filter.in_conflict);
        } else {
          heads = postgres::ExecPrepared(txn, sql::kListHeads, space_id, filter.in_trash, types,
                                         filter.in_conflict);
        }
        if (filter.in_conflict)
          siblings = postgres::ExecPrepared(txn, sql::kListSpaceSiblings, space_id);
        return absl::OkStatus();
      }));
  std::vector<StoredRecord> out;
  out.reserve(heads.size());
  std::map<std::string, size_t> index;
  for (const auto& row : heads) {
    StoredRecord record;
    record.state_seq = row[1].as<int64_t>();
    COFFER_ASSIGN_OR_RETURN(record.head, ReadRevision(row));
    index[record.head.record_id] = out.size();
    out.push_back(std::move(record));
  }
  for (const auto& row : siblings) {
    COFFER_ASSIGN_OR_RETURN(StoredRevision sibling, ReadRevision(row));
    auto it = index.find(sibling.record_id);
    if (it != index.end()) out[it->second].siblings.push_back(std::move(sibling));
  }
  return out;
}

absl::StatusOr<std::vector<StoredRevision>> PgRecordRepository::ListHistory(
    const std::string& space_id, const std::string& record_id,
    const std::optional<HistoryCursor>& after, int limit) {
  HistoryCursor c = after.value_or(HistoryCursor{});
  COFFER_ASSIGN_OR_RETURN(pqxx::result result, Read(pool_, [&](pqxx::transaction_base& txn) {
                            return postgres::ExecPrepared(
                                txn, sql::kListHistory, record_id, after.has_value(), c.version,
                                static_cast<int64_t>(c.hlc), c.origin_shard, limit, space_id);
                          }));
  return ReadRevisions(result);
}

absl::StatusOr<std::optional<StoredRevision>> PgRecordRepository::GetHistoryVersion(
    const std::string& space_id, const std::string& record_id, int64_t version) {
  COFFER_ASSIGN_OR_RETURN(pqxx::result result, Read(pool_, [&](pqxx::transaction_base& txn) {
                            return postgres::ExecPrepared(txn, sql::kSelectHistoryVersion,
                                                          record_id, version, space_id);
                          }));
  if (result.empty()) return std::nullopt;
  COFFER_ASSIGN_OR_RETURN(StoredRevision r, ReadRevision(result[0]));
  return r;
}

absl::StatusOr<std::vector<StoredRevision>> PgRecordRepository::ListSpaceState(
    const std::string& space_id) {
  COFFER_ASSIGN_OR_RETURN(pqxx::result result, Read(pool_, [&](pqxx::transaction_base& txn) {
                            return postgres::ExecPrepared(txn, sql::kSelectSpaceState, space_id);
                          }));
  return ReadRevisions(result);
}

absl::StatusOr<int64_t> PgRecordRepository::OutboxBacklog() {
  COFFER_ASSIGN_OR_RETURN(pqxx::result result, Read(pool_, [&](pqxx::transaction_base& txn) {
                            return postgres::ExecPrepared(txn, sql::kOutboxBacklog);
                          }));
  return result[0][0].as<int64_t>();
}

namespace internal {

std::string Bytes(const pqxx::field& f) {
  if (f.is_null()) return {};
  return pqxx::binarystring(f).str();
}

absl::StatusOr<StoredRevision> ReadRevision(const pqxx::row& row) {
  StoredRevision r;
  r.record_id = row[2].as<std::string>();
  r.space_id = row[3].as<std::string>();
  auto type = domain::RecordTypeFromName(row[4].as<std::string>());
  if (!type) return absl::DataLossError("stored record has an unknown type");
  r.type = *type;
  r.stamp.version = row[5].as<int64_t>();
  COFFER_ASSIGN_OR_RETURN(r.stamp.vector,
                          domain::VersionVector::FromJson(row[6].as<std::string>()));
  r.stamp.hlc = static_cast<uint64_t>(row[7].as<int64_t>());
  r.stamp.origin_shard = row[8].as<std::string>();
  r.deleted = row[9].as<bool>();
  r.purged = row[10].as<bool>();
  r.key_id = row[11].as<std::string>();
  r.name_ct = Bytes(row[12]);
  r.metadata_ct = Bytes(row[13]);
  r.payload_ct = Bytes(row[14]);
  r.created_at_ms = row[15].as<int64_t>();
  r.updated_at_ms = row[16].as<int64_t>();
  return r;
}

}  // namespace internal

}  // namespace coffer::vault::repository
