// PgRecordRepository: RecordRepository on the shard's PostgreSQL (schema in
// migrations/V001__init.sql, statements in sql.h).
//
// Every write is one statement in one short READ COMMITTED transaction: the check-and-set lives
// in the UPDATE's WHERE clause, which PostgreSQL re-evaluates on the latest row version after a
// concurrent writer commits, so exactly one of two racing writers wins without SERIALIZABLE
// retries. pqxx exceptions are translated to Status here (pkg/postgres/errors.h).
//
// After a write that changed a record committed, the CommitListener (if any) is told the
// record's space id: in production the ChangeNotifier, which wakes the relay and Watch streams
// (nothing NOTIFYs inside the write transaction; see migrations/V003).
//
// Lifecycle: borrows the pool and the listener, which must outlive it. Threading: thread-safe;
// the listener is called on the writing thread.
#pragma once

#include <string>

#include "pkg/postgres/connection_pool.h"
#include "services/vault/repository/commit_listener.h"
#include "services/vault/repository/pg_write_batcher.h"
#include "services/vault/repository/record_repository.h"

namespace coffer::vault::repository {

class PgRecordRepository final : public RecordRepository {
 public:
  // `listener` (may be null) is told the space of every committed write that changed a record.
  // `batching`: group commit of concurrent writes (pg_write_batcher.h; default off).
  explicit PgRecordRepository(postgres::ConnectionPool& pool, CommitListener* listener = nullptr,
                              WriteBatcherConfig batching = {})
      : pool_(pool), listener_(listener), writes_(pool, std::move(batching)) {}

  absl::StatusOr<int64_t> Insert(const StoredRevision& revision) override;
  absl::StatusOr<std::optional<StoredRecord>> Get(const std::string& space_id,
                                                  const std::string& record_id) override;
  absl::StatusOr<int64_t> ReplaceHead(const StoredRevision& revision, const HeadCheck& expected,
                                      int history_keep) override;
  absl::StatusOr<int64_t> Purge(const StoredRevision& tombstone,
                                const HeadCheck& expected) override;
  absl::StatusOr<std::vector<StoredRecord>> ListHeads(const std::string& space_id,
                                                      const HeadFilter& filter) override;
  absl::StatusOr<std::vector<StoredRevision>> ListHistory(const std::string& space_id,
                                                          const std::string& record_id,
                                                          const std::optional<HistoryCursor>& after,
                                                          int limit) override;
  absl::StatusOr<std::optional<StoredRevision>> GetHistoryVersion(const std::string& space_id,
                                                                  const std::string& record_id,
                                                                  int64_t version) override;
  absl::StatusOr<std::vector<StoredRevision>> ListSpaceState(const std::string& space_id) override;
  absl::StatusOr<int64_t> OutboxBacklog() override;

  // Group commit's counters (tests, benchmarks).
  PgWriteBatcher::Stats batch_stats() const { return writes_.stats(); }

 private:
  absl::StatusOr<int64_t> Committed(absl::StatusOr<int64_t> written, const std::string& space_id);

  // The write's change_seq, or 0 when its statement returned no row (nothing stored).
  absl::StatusOr<int64_t> WriteOne(const char* sql, const StoredRevision& r, auto&&... extra);

  postgres::ConnectionPool& pool_;
  CommitListener* const listener_;
  PgWriteBatcher writes_;
};

}  // namespace coffer::vault::repository
