// PgSpaceRepository: SpaceRepository on the shard's PostgreSQL (statements in sql.h).
//
// Lifecycle: borrows connections from a pool that must outlive it. Threading: thread-safe.
#pragma once

#include "pkg/postgres/connection_pool.h"
#include "services/vault/repository/space_repository.h"

namespace coffer::vault::repository {

class PgSpaceRepository final : public SpaceRepository {
 public:
  explicit PgSpaceRepository(postgres::ConnectionPool& pool) : pool_(pool) {}

  absl::Status EnsurePersonalSpace(const std::string& space_id, const std::string& user_id,
                                   int64_t now_ms) override;
  absl::StatusOr<std::optional<Role>> GetRole(const std::string& space_id,
                                              const std::string& user_id) override;
  absl::StatusOr<std::optional<SpaceView>> GetSpace(const std::string& space_id,
                                                    const std::string& user_id) override;
  absl::StatusOr<std::vector<SpaceView>> ListSpaces(const std::string& user_id) override;

 private:
  absl::StatusOr<std::vector<SpaceView>> Select(const std::optional<std::string>& space_id,
                                                const std::string& user_id);

  postgres::ConnectionPool& pool_;
};

}  // namespace coffer::vault::repository
