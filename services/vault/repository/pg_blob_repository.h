// PgBlobRepository: BlobRepository on the shard's PostgreSQL (migrations V006, V007; statements
// in sql.h). A blob, its chunks and its `blob_outbox` row (for the relay, V007) are inserted in
// one READ COMMITTED transaction, so a blob is never visible incomplete. Blobs still arriving
// from another shard (`complete = false`) are invisible here; a local upload of the same
// content completes them.
//
// After an insert committed, the CommitListener (if any) is told the blob's space id: in
// production the ChangeNotifier, which wakes the relay.
//
// Lifecycle: borrows the pool and the listener, which must outlive it. Threading: thread-safe;
// the listener is called on the inserting thread.
#pragma once

#include <string>

#include "pkg/postgres/connection_pool.h"
#include "services/vault/repository/blob_repository.h"
#include "services/vault/repository/commit_listener.h"

namespace coffer::vault::repository {

class PgBlobRepository final : public BlobRepository {
 public:
  // `listener` (may be null) is told the space of every blob inserted.
  explicit PgBlobRepository(postgres::ConnectionPool& pool, CommitListener* listener = nullptr)
      : pool_(pool), listener_(listener) {}

  absl::StatusOr<bool> Insert(const StoredBlob& blob,
                              const std::vector<std::string>& chunks) override;
  absl::StatusOr<std::optional<StoredBlob>> Get(const std::string& blob_id) override;
  absl::StatusOr<std::optional<std::string>> GetChunk(const std::string& blob_id,
                                                      int index) override;

 private:
  postgres::ConnectionPool& pool_;
  CommitListener* const listener_;
};

}  // namespace coffer::vault::repository
