// PgBlobRepository: BlobRepository on the shard's PostgreSQL (migrations/V006__blobs.sql,
// statements in sql.h). A blob and its chunks are inserted in one READ COMMITTED transaction,
// so a blob is never visible incomplete.
//
// Lifecycle: borrows connections from a pool that must outlive it. Threading: thread-safe.
#pragma once

#include "pkg/postgres/connection_pool.h"
#include "services/vault/repository/blob_repository.h"

namespace coffer::vault::repository {

class PgBlobRepository final : public BlobRepository {
 public:
  explicit PgBlobRepository(postgres::ConnectionPool& pool) : pool_(pool) {}

  absl::StatusOr<bool> Insert(const StoredBlob& blob,
                              const std::vector<std::string>& chunks) override;
  absl::StatusOr<std::optional<StoredBlob>> Get(const std::string& blob_id) override;
  absl::StatusOr<std::optional<std::string>> GetChunk(const std::string& blob_id,
                                                      int index) override;

 private:
  postgres::ConnectionPool& pool_;
};

}  // namespace coffer::vault::repository
