// PgRecordRepository: RecordRepository on the shard's PostgreSQL (schema in
// migrations/V001__init.sql, statements in sql.h).
//
// Every write is one statement in one short READ COMMITTED transaction: the check-and-set lives
// in the UPDATE's WHERE clause, which PostgreSQL re-evaluates on the latest row version after a
// concurrent writer commits, so exactly one of two racing writers wins without SERIALIZABLE
// retries. pqxx exceptions are translated to Status here (pkg/postgres/errors.h).
//
// Lifecycle: borrows connections from a pool that must outlive it. Threading: thread-safe.
#pragma once

#include "pkg/postgres/connection_pool.h"
#include "services/vault/repository/record_repository.h"

namespace coffer::vault::repository {

class PgRecordRepository final : public RecordRepository {
 public:
  explicit PgRecordRepository(postgres::ConnectionPool& pool) : pool_(pool) {}

  absl::StatusOr<bool> Insert(const StoredRevision& revision) override;
  absl::StatusOr<std::optional<StoredRecord>> Get(const std::string& record_id) override;
  absl::StatusOr<bool> ReplaceHead(const StoredRevision& revision, int64_t expected_version,
                                   int64_t expected_state_seq, int history_keep) override;
  absl::StatusOr<bool> Purge(const StoredRevision& tombstone, int64_t expected_version,
                             int64_t expected_state_seq) override;
  absl::StatusOr<std::vector<StoredRecord>> ListHeads(const std::string& space_id,
                                                      const HeadFilter& filter) override;
  absl::StatusOr<std::vector<StoredRevision>> ListHistory(const std::string& record_id,
                                                          const std::optional<HistoryCursor>& after,
                                                          int limit) override;
  absl::StatusOr<std::optional<StoredRevision>> GetHistoryVersion(const std::string& record_id,
                                                                  int64_t version) override;
  absl::StatusOr<std::vector<StoredRevision>> ListSpaceState(const std::string& space_id) override;
  absl::StatusOr<int64_t> OutboxBacklog() override;

 private:
  postgres::ConnectionPool& pool_;
};

}  // namespace coffer::vault::repository
