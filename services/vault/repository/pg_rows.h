// Row readers and the revision- and blob-parameter writers shared by the Pg* vault repositories
// (record, blob and sync). Internal to repository/: the column and parameter layouts are the ones
// sql.h documents (COFFER_VAULT_REVISION_COLUMNS, parameters $1..$16).
//
// Threading: free functions over values.
#pragma once

#include <pqxx/binarystring>
#include <pqxx/result>
#include <pqxx/transaction_base>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "pkg/postgres/prepared.h"
#include "services/vault/repository/blob_repository.h"
#include "services/vault/repository/record_repository.h"

namespace coffer::vault::repository::internal {

// A bytea field as raw bytes ("" for NULL).
std::string Bytes(const pqxx::field& f);

// Reads a row of the shape "<any>, <any>, COFFER_VAULT_REVISION_COLUMNS" (columns 2..16).
absl::StatusOr<StoredRevision> ReadRevision(const pqxx::row& row);

// Runs a revision-writing statement with parameters $1..$16 (see sql.h) followed by `extra`.
template <typename... Extra>
pqxx::result ExecRevision(pqxx::transaction_base& txn, const char* sql, const StoredRevision& r,
                          Extra&&... extra) {
  return postgres::ExecPrepared(txn, sql, r.record_id, r.stamp.origin_shard,
                                static_cast<int64_t>(r.stamp.vector.Get(r.stamp.origin_shard)),
                                r.space_id, std::string(domain::RecordTypeName(r.type)),
                                r.stamp.version, r.stamp.vector.ToJson(),
                                static_cast<int64_t>(r.stamp.hlc), r.deleted, r.purged, r.key_id,
                                pqxx::binarystring(r.name_ct), pqxx::binarystring(r.metadata_ct),
                                pqxx::binarystring(r.payload_ct), r.created_at_ms, r.updated_at_ms,
                                std::forward<Extra>(extra)...);
}

// Reads COFFER_VAULT_BLOB_COLUMNS starting at column `first`.
StoredBlob ReadBlob(const pqxx::row& row, int first);

// Runs a blob-row statement with parameters $1..$8 (COFFER_VAULT_BLOB_TARGET).
inline pqxx::result ExecBlob(pqxx::transaction_base& txn, const char* sql, const StoredBlob& b,
                             bool complete) {
  return postgres::ExecPrepared(txn, sql, b.blob_id, b.space_id, b.size_bytes, b.chunk_count,
                                b.key_id, pqxx::binarystring(b.info_ct), b.created_at_ms, complete);
}

}  // namespace coffer::vault::repository::internal
