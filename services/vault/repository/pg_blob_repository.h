// PgBlobRepository: BlobRepository on the shard's PostgreSQL (migrations V006, V007; statements
// in sql.h). A blob, its chunks and its `blob_outbox` row (for the relay, V007) are inserted in
// one READ COMMITTED transaction, so a blob is never visible incomplete. Blobs still arriving
// from another shard (`complete = false`) are invisible here; a local upload of the same
// content completes them.
//
// After an insert committed, the commit hook (if set) is called with the blob's space id: the
// app wires it to ChangeNotifier::Publish, which wakes the relay.
//
// Lifecycle: borrows connections from a pool that must outlive it; SetCommitHook() before the
// first insert. Threading: thread-safe; the hook runs on the inserting thread.
#pragma once

#include <functional>
#include <string>

#include "pkg/postgres/connection_pool.h"
#include "services/vault/repository/blob_repository.h"

namespace coffer::vault::repository {

class PgBlobRepository final : public BlobRepository {
 public:
  using CommitHook = std::function<void(const std::string& space_id)>;

  explicit PgBlobRepository(postgres::ConnectionPool& pool) : pool_(pool) {}

  void SetCommitHook(CommitHook hook) { hook_ = std::move(hook); }

  absl::StatusOr<bool> Insert(const StoredBlob& blob,
                              const std::vector<std::string>& chunks) override;
  absl::StatusOr<std::optional<StoredBlob>> Get(const std::string& blob_id) override;
  absl::StatusOr<std::optional<std::string>> GetChunk(const std::string& blob_id,
                                                      int index) override;

 private:
  postgres::ConnectionPool& pool_;
  CommitHook hook_;
};

}  // namespace coffer::vault::repository
