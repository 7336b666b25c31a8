// PgRecordRepository against real PostgreSQL: the SQL of sql.h, including what only a merge
// from another shard produces (conflict siblings), which the gRPC API cannot create yet.
#include <gtest/gtest.h>

#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/notification>
#include <string>
#include <vector>

#include "pkg/postgres/migrations.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/app/migrations.h"
#include "services/vault/repository/pg_record_repository.h"
#include "services/vault/repository/pg_space_repository.h"
#include "services/vault/repository/pg_sync_repository.h"

namespace coffer::vault::repository {
namespace {

constexpr char kSpace[] = "11111111-1111-4111-8111-111111111111";
constexpr char kRecord[] = "22222222-2222-4222-8222-222222222222";

StoredRevision Rev(int64_t version, domain::VersionVector vector, uint64_t hlc,
                   std::string origin) {
  StoredRevision r;
  r.space_id = kSpace;
  r.record_id = kRecord;
  r.type = domain::RecordType::kText;
  r.stamp = {version, std::move(vector), hlc, std::move(origin)};
  r.key_id = "k1";
  r.name_ct = std::string("name\0ct", 7);
  r.metadata_ct = "meta";
  r.payload_ct = "payload" + std::to_string(version);
  r.created_at_ms = 1000;
  r.updated_at_ms = static_cast<int64_t>(hlc >> 16);
  return r;
}

// Records the spaces a repository reports as committed (the app's ChangeNotifier in production).
struct RecordingListener final : CommitListener {
  void Committed(const std::string& space_id) override { spaces.push_back(space_id); }
  std::vector<std::string> spaces;
};

class RecordRepositoryPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COFFER_PG_TEST_DATABASE(db_);
    COFFER_ASSERT_OK_AND_ASSIGN(pool_, db_->NewPool(4));
    COFFER_ASSERT_OK(postgres::ApplyMigrations(*pool_, app::VaultMigrations()).status());
    PgSpaceRepository spaces(*pool_);
    COFFER_ASSERT_OK(spaces.EnsurePersonalSpace(kSpace, "alice", 1));
    repo_ = std::make_unique<PgRecordRepository>(*pool_, &committed_);
  }

  // The stored record (an empty one, failing the test, when absent).
  StoredRecord Load() {
    absl::StatusOr<std::optional<StoredRecord>> got = repo_->Get(kSpace, kRecord);
    EXPECT_TRUE(got.ok() && got->has_value());
    return got.ok() && got->has_value() ? **got : StoredRecord{};
  }

  std::unique_ptr<testing::PgTestDatabase> db_;
  std::unique_ptr<postgres::ConnectionPool> pool_;
  RecordingListener committed_;
  std::unique_ptr<PgRecordRepository> repo_;
};

TEST_F(RecordRepositoryPgTest, InsertGetAndDuplicate) {
  StoredRevision first = Rev(1, domain::VersionVector({{"a", 1}}), 100 << 16, "a");
  COFFER_ASSERT_OK_AND_ASSIGN(bool inserted, repo_->Insert(first));
  EXPECT_TRUE(inserted);
  COFFER_ASSERT_OK_AND_ASSIGN(inserted, repo_->Insert(first));
  EXPECT_FALSE(inserted);
  // The same id in another space is another record (V009).
  StoredRevision elsewhere = first;
  elsewhere.space_id = "33333333-3333-4333-8333-333333333333";
  COFFER_ASSERT_OK_AND_ASSIGN(inserted, repo_->Insert(elsewhere));
  EXPECT_TRUE(inserted);
  COFFER_ASSERT_OK_AND_ASSIGN(auto other, repo_->Get(elsewhere.space_id, kRecord));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->head.space_id, elsewhere.space_id);
  StoredRecord got = Load();
  EXPECT_EQ(got.head, first);  // binary ciphertexts (with NUL bytes) round-trip exactly
  EXPECT_TRUE(got.siblings.empty());
  COFFER_ASSERT_OK_AND_ASSIGN(int64_t backlog, repo_->OutboxBacklog());
  EXPECT_EQ(backlog, 2);  // one event per stored record, none for the refused duplicate
}

// Writes must not NOTIFY inside their transaction (that serialized every commit on PostgreSQL's
// notify-queue lock; V003 dropped the triggers). Instead the CommitListener is told after a
// committed change, and the app's ChangeNotifier publishes from its own session.
TEST_F(RecordRepositoryPgTest, WritesDoNotNotifyButTellTheCommitListenerAfterAChange) {
  struct Counter final : pqxx::notification_receiver {
    explicit Counter(pqxx::connection_base& c)
        : pqxx::notification_receiver(c, "coffer_vault_changes") {}
    void operator()(const std::string&, int) override { ++count; }
    int count = 0;
  };
  pqxx::connection listen(db_->dsn());
  Counter counter(listen);
  const std::vector<std::string>& hooked = committed_.spaces;

  StoredRevision first = Rev(1, domain::VersionVector({{"a", 1}}), 100 << 16, "a");
  COFFER_ASSERT_OK_AND_ASSIGN(bool inserted, repo_->Insert(first));
  ASSERT_TRUE(inserted);
  EXPECT_EQ(hooked, std::vector<std::string>{kSpace});
  COFFER_ASSERT_OK_AND_ASSIGN(inserted, repo_->Insert(first));  // duplicate: nothing changed
  EXPECT_FALSE(inserted);
  StoredRevision second = Rev(2, domain::VersionVector({{"a", 2}}), 200 << 16, "a");
  COFFER_ASSERT_OK_AND_ASSIGN(bool replaced, repo_->ReplaceHead(second, 1, Load().state_seq, 10));
  ASSERT_TRUE(replaced);
  COFFER_ASSERT_OK_AND_ASSIGN(replaced, repo_->ReplaceHead(second, 1, 0, 10));  // stale: no write
  EXPECT_FALSE(replaced);
  EXPECT_EQ(hooked, (std::vector<std::string>{kSpace, kSpace}));

  // A NOTIFY from those transactions would be delivered at their commit, i.e. already queued.
  listen.await_notification(0, 300000);
  EXPECT_EQ(counter.count, 0);
  // The channel itself works: a NOTIFY from elsewhere arrives.
  COFFER_ASSERT_OK(db_->Exec("SELECT pg_notify('coffer_vault_changes', 'x')"));
  listen.await_notification(5, 0);
  EXPECT_EQ(counter.count, 1);
}

TEST_F(RecordRepositoryPgTest, LocalWriteResolvesSiblingsAndChecksState) {
  StoredRevision first = Rev(1, domain::VersionVector({{"a", 1}}), 100 << 16, "a");
  COFFER_ASSERT_OK(repo_->Insert(first).status());
  // A concurrent revision from shard b, as the sync consumer would store it.
  COFFER_ASSERT_OK(db_->Exec(
      "INSERT INTO record_siblings (record_id, origin_shard, origin_counter, space_id, type,"
      " version, vector, hlc, deleted, purged, key_id, name_ct, metadata_ct, payload_ct,"
      " created_at_ms, updated_at_ms) VALUES ('" +
      std::string(kRecord) + "', 'b', 1, '" + kSpace +
      "', 'text', 1, '{\"b\":1}', 90, false, false, 'k1', 'n', 'm', 'p', 1000, 0);"
      "UPDATE records SET sibling_count = 1, state_seq = state_seq + 1;"));
  StoredRecord got = Load();
  ASSERT_EQ(got.siblings.size(), 1u);
  EXPECT_EQ(got.siblings[0].stamp.origin_shard, "b");
  COFFER_ASSERT_OK_AND_ASSIGN(auto conflicted, repo_->ListHeads(kSpace, {{}, false, true}));
  ASSERT_EQ(conflicted.size(), 1u);
  EXPECT_EQ(conflicted[0].siblings.size(), 1u);

  StoredRevision next = Rev(2, domain::VersionVector({{"a", 2}, {"b", 1}}), 200 << 16, "a");
  // A state read before the sibling arrived is stale: nothing is written.
  COFFER_ASSERT_OK_AND_ASSIGN(bool written, repo_->ReplaceHead(next, 1, got.state_seq - 1, 0));
  EXPECT_FALSE(written);
  COFFER_ASSERT_OK_AND_ASSIGN(written, repo_->ReplaceHead(next, 2, got.state_seq, 0));
  EXPECT_FALSE(written);  // wrong expected version
  COFFER_ASSERT_OK_AND_ASSIGN(written, repo_->ReplaceHead(next, 1, got.state_seq, 0));
  EXPECT_TRUE(written);
  StoredRecord after = Load();
  EXPECT_TRUE(after.siblings.empty());
  EXPECT_EQ(after.head.stamp, next.stamp);
  EXPECT_EQ(after.head.created_at_ms, 1000);
  COFFER_ASSERT_OK_AND_ASSIGN(auto history, repo_->ListHistory(kSpace, kRecord, std::nullopt, 10));
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].stamp.version, 2);
  COFFER_ASSERT_OK_AND_ASSIGN(auto state, repo_->ListSpaceState(kSpace));
  EXPECT_EQ(state.size(), 1u);
}

TEST_F(RecordRepositoryPgTest, PurgeLeavesAContentlessTombstone) {
  COFFER_ASSERT_OK(repo_->Insert(Rev(1, domain::VersionVector({{"a", 1}}), 1 << 16, "a")).status());
  StoredRevision tombstone = Rev(2, domain::VersionVector({{"a", 2}}), 2 << 16, "a");
  tombstone.deleted = tombstone.purged = true;
  tombstone.key_id.clear();
  tombstone.name_ct.clear();
  tombstone.metadata_ct.clear();
  tombstone.payload_ct.clear();
  COFFER_ASSERT_OK_AND_ASSIGN(bool written, repo_->Purge(tombstone, 1, Load().state_seq));
  EXPECT_TRUE(written);
  StoredRecord got = Load();
  EXPECT_TRUE(got.head.purged);
  EXPECT_TRUE(got.head.name_ct.empty());
  COFFER_ASSERT_OK_AND_ASSIGN(auto history, repo_->ListHistory(kSpace, kRecord, std::nullopt, 10));
  EXPECT_TRUE(history.empty());
  COFFER_ASSERT_OK_AND_ASSIGN(auto listed, repo_->ListHeads(kSpace, {{}, true, false}));
  EXPECT_TRUE(listed.empty());
  COFFER_ASSERT_OK_AND_ASSIGN(int64_t backlog, repo_->OutboxBacklog());
  EXPECT_EQ(backlog, 2);
}

// The relay deletes published rows with an asynchronous commit (a lost delete only re-publishes);
// that setting is local to the delete's own transaction and never leaks into the pooled session
// that later serves a client's durable write.
TEST_F(RecordRepositoryPgTest, OutboxDeleteIsAsynchronousOnlyForItself) {
  COFFER_ASSERT_OK_AND_ASSIGN(auto one, db_->NewPool(1));
  {
    // The test cluster runs with synchronous_commit off; make the session durable first.
    COFFER_ASSERT_OK_AND_ASSIGN(auto lease, one->Acquire());
    pqxx::nontransaction(lease.get()).exec("SET synchronous_commit = on");
  }
  PgRecordRepository records(*one);
  PgSyncRepository sync(*one);
  COFFER_ASSERT_OK(
      records.Insert(Rev(1, domain::VersionVector({{"a", 1}}), 100 << 16, "a")).status());
  COFFER_ASSERT_OK_AND_ASSIGN(std::vector<OutboxEntry> batch, sync.ReadOutbox(10));
  ASSERT_EQ(batch.size(), 1u);
  COFFER_ASSERT_OK(sync.DeleteOutbox({batch[0].id}));
  COFFER_ASSERT_OK_AND_ASSIGN(batch, sync.ReadOutbox(10));
  EXPECT_TRUE(batch.empty());
  COFFER_ASSERT_OK_AND_ASSIGN(auto lease, one->Acquire());
  pqxx::nontransaction txn(lease.get());
  EXPECT_EQ(txn.exec1("SHOW synchronous_commit")[0].as<std::string>(), "on");
}

}  // namespace
}  // namespace coffer::vault::repository
