#include "services/vault/repository/pg_blob_repository.h"

#include <pqxx/binarystring>
#include <pqxx/result>
#include <pqxx/transaction_base>

#include "pkg/postgres/prepared.h"
#include "pkg/postgres/transaction.h"
#include "pkg/status/status.h"
#include "services/vault/repository/pg_rows.h"
#include "services/vault/repository/sql.h"

namespace coffer::vault::repository {

absl::StatusOr<bool> PgBlobRepository::Insert(const StoredBlob& blob,
                                              const std::vector<std::string>& chunks) {
  bool inserted = false;
  COFFER_RETURN_IF_ERROR(postgres::RunInTransaction(
      pool_, postgres::IsolationLevel::kReadCommitted,
      [&](pqxx::transaction_base& txn) -> absl::Status {
        inserted = !internal::ExecBlob(txn, sql::kInsertBlob, blob, /*complete=*/true).empty();
        if (!inserted) return absl::OkStatus();  // the same content is stored already
        // Chunks another shard sent already (an incomplete blob this upload completes) stay.
        for (size_t i = 0; i < chunks.size(); ++i) {
          postgres::ExecPrepared(txn, sql::kInsertBlobChunk, blob.blob_id, static_cast<int>(i),
                                 pqxx::binarystring(chunks[i]));
        }
        postgres::ExecPrepared(txn, sql::kEnqueueBlob, blob.blob_id);
        return absl::OkStatus();
      }));
  if (inserted && listener_ != nullptr) listener_->Committed(blob.space_id);
  return inserted;
}

absl::StatusOr<std::optional<StoredBlob>> PgBlobRepository::Get(const std::string& blob_id) {
  std::optional<StoredBlob> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        pqxx::result r = postgres::ExecPrepared(txn, sql::kSelectBlob, blob_id);
        if (r.empty()) return absl::OkStatus();
        out = internal::ReadBlob(r[0], 0);
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::optional<std::string>> PgBlobRepository::GetChunk(const std::string& blob_id,
                                                                      int index) {
  std::optional<std::string> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        pqxx::result r = postgres::ExecPrepared(txn, sql::kSelectBlobChunk, blob_id, index);
        if (!r.empty()) out = internal::Bytes(r[0][0]);
        return absl::OkStatus();
      }));
  return out;
}

namespace internal {

StoredBlob ReadBlob(const pqxx::row& row, int first) {
  StoredBlob b;
  b.blob_id = row[first].as<std::string>();
  b.space_id = row[first + 1].as<std::string>();
  b.size_bytes = row[first + 2].as<int64_t>();
  b.chunk_count = row[first + 3].as<int>();
  b.key_id = row[first + 4].as<std::string>();
  b.info_ct = Bytes(row[first + 5]);
  b.created_at_ms = row[first + 6].as<int64_t>();
  return b;
}

}  // namespace internal

}  // namespace coffer::vault::repository
