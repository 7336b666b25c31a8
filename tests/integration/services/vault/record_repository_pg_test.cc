// PgRecordRepository against real PostgreSQL: the SQL of sql.h, including what only a merge
// from another shard produces (conflict siblings), which the gRPC API cannot create yet.
#include <gtest/gtest.h>

#include <atomic>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/notification>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pkg/postgres/migrations.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/app/migrations.h"
#include "services/vault/repository/pg_record_repository.h"
#include "services/vault/repository/pg_space_repository.h"
#include "services/vault/repository/pg_sync_repository.h"
#include "services/vault/service/head_cache.h"

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
  COFFER_ASSERT_OK_AND_ASSIGN(bool replaced, repo_->ReplaceHead(second, HeadCheck::Of(Load()), 10));
  ASSERT_TRUE(replaced);
  COFFER_ASSERT_OK_AND_ASSIGN(
      replaced, repo_->ReplaceHead(second, {1, 0, first.stamp.hlc, "a"}, 10));  // stale
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
  COFFER_ASSERT_OK_AND_ASSIGN(
      bool written, repo_->ReplaceHead(next, {1, got.state_seq - 1, got.head.stamp.hlc, "a"}, 0));
  EXPECT_FALSE(written);
  COFFER_ASSERT_OK_AND_ASSIGN(
      written, repo_->ReplaceHead(next, {2, got.state_seq, got.head.stamp.hlc, "a"}, 0));
  EXPECT_FALSE(written);  // wrong expected version
  // Another head with the same version and state_seq (a record dropped by tombstone GC and
  // created again starts both at 1): its HLC or origin shard differs, nothing is written.
  COFFER_ASSERT_OK_AND_ASSIGN(
      written, repo_->ReplaceHead(next, {1, got.state_seq, got.head.stamp.hlc + 1, "a"}, 0));
  EXPECT_FALSE(written);
  COFFER_ASSERT_OK_AND_ASSIGN(
      written, repo_->ReplaceHead(next, {1, got.state_seq, got.head.stamp.hlc, "z"}, 0));
  EXPECT_FALSE(written);
  COFFER_ASSERT_OK_AND_ASSIGN(written, repo_->ReplaceHead(next, HeadCheck::Of(got), 0));
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
  // Another head with the same version and state_seq (another HLC or origin shard): no purge.
  HeadCheck other_hlc = HeadCheck::Of(Load());
  ++other_hlc.hlc;
  HeadCheck other_shard = HeadCheck::Of(Load());
  other_shard.origin_shard = "z";
  for (const HeadCheck& wrong : {other_hlc, other_shard}) {
    COFFER_ASSERT_OK_AND_ASSIGN(bool purged, repo_->Purge(tombstone, wrong));
    EXPECT_FALSE(purged);
  }
  COFFER_ASSERT_OK_AND_ASSIGN(bool written, repo_->Purge(tombstone, HeadCheck::Of(Load())));
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

namespace coffer::vault::repository {
namespace {

// A replica that never hears the other replicas' notifications (its LISTEN session is down).
struct NeverNotified final : ChangeGenerations {
  uint64_t Epoch(const std::string&) override { return 0; }
};

// Writes return their change_seq, and a read returns the space's position it saw: the two sides
// of the session-token rule (docs/architecture.md §3b), in the real SQL. Replica A writes through
// repo_; replica B reads through its own repository and head cache and is never notified, so
// only a session token makes it read again.
TEST_F(RecordRepositoryPgTest, WritesReturnPositionsAndAnotherReplicasCacheHonoursThem) {
  PgRecordRepository b_records(*pool_);
  NeverNotified b_generations;
  service::HeadCache b_cache({}, b_records, b_generations);
  auto payload_on_b = [&](const std::string& record, int64_t min_position) {
    absl::StatusOr<std::optional<StoredRecord>> got = b_cache.Get(kSpace, record, min_position);
    EXPECT_TRUE(got.ok() && got->has_value());
    return got.ok() && got->has_value() ? (*got)->head.payload_ct : "";
  };

  StoredRevision first = Rev(1, domain::VersionVector({{"a", 1}}), 100 << 16, "a");
  COFFER_ASSERT_OK_AND_ASSIGN(int64_t p1, repo_->Insert(first));
  ASSERT_GT(p1, 0);
  EXPECT_GE(Load().space_position, p1);
  EXPECT_EQ(payload_on_b(kRecord, p1), "payload1");

  StoredRevision second = Rev(2, domain::VersionVector({{"a", 2}}), 200 << 16, "a");
  COFFER_ASSERT_OK_AND_ASSIGN(int64_t p2, repo_->ReplaceHead(second, HeadCheck::Of(Load()), 0));
  ASSERT_GT(p2, p1);
  EXPECT_EQ(payload_on_b(kRecord, 0), "payload1");   // B's copy, not notified
  EXPECT_EQ(payload_on_b(kRecord, p1), "payload1");  // an older token accepts it
  EXPECT_EQ(payload_on_b(kRecord, p2), "payload2");  // the writer's token reads the write

  // The position is the space's: a write to another record of the space makes B read again.
  StoredRevision other = first;
  other.record_id = "44444444-4444-4444-8444-444444444444";
  COFFER_ASSERT_OK_AND_ASSIGN(int64_t p3, repo_->Insert(other));
  ASSERT_GT(p3, p2);
  const int64_t misses = b_cache.stats().misses;
  EXPECT_EQ(payload_on_b(kRecord, p3), "payload2");
  EXPECT_EQ(b_cache.stats().misses, misses + 1);
  EXPECT_EQ(payload_on_b(kRecord, p3), "payload2");
  EXPECT_EQ(b_cache.stats().misses, misses + 1);

  // A write in another space does not move this space's position.
  PgSpaceRepository spaces(*pool_);
  const std::string elsewhere = "33333333-3333-4333-8333-333333333333";
  COFFER_ASSERT_OK(spaces.EnsurePersonalSpace(elsewhere, "bob", 1));
  StoredRevision theirs = first;
  theirs.space_id = elsewhere;
  COFFER_ASSERT_OK_AND_ASSIGN(int64_t p4, repo_->Insert(theirs));
  ASSERT_GT(p4, p3);
  EXPECT_EQ(Load().space_position, p3);
  // A check-and-set that fails returns 0 and moves nothing.
  COFFER_ASSERT_OK_AND_ASSIGN(int64_t stale, repo_->ReplaceHead(second, {1, 0, 0, "a"}, 0));
  EXPECT_EQ(stale, 0);
  EXPECT_EQ(Load().space_position, p3);
}

}  // namespace
}  // namespace coffer::vault::repository

namespace coffer::vault::repository {
namespace {

// Group commit (pg_write_batcher.h) against real PostgreSQL. One leader at a time; the first
// batch holds its transaction open until the other writes have queued behind it, so they form
// the second batch deterministically.
class WriteBatcherPgTest : public RecordRepositoryPgTest {
 protected:
  static constexpr int kQueued = 5;

  // A repository whose batches run `on_batch(n, txn)` before COMMIT (n = 1, 2, ...); the first
  // one waits until kQueued writes are queued.
  std::unique_ptr<PgRecordRepository> Batching(
      std::function<void(int, pqxx::transaction_base&)> on_batch, int attempts = 5) {
    WriteBatcherConfig config;
    config.max_batch = 16;
    config.max_leaders = 1;
    config.retry.max_attempts = attempts;
    config.before_commit_for_test = [this, on_batch](pqxx::transaction_base& txn) {
      const int n = ++batches_;
      if (n == 1) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (batching_->batch_stats().queued < kQueued &&
               std::chrono::steady_clock::now() < deadline) {
          std::this_thread::yield();
        }
      }
      on_batch(n, txn);
    };
    auto repo = std::make_unique<PgRecordRepository>(*pool_, &committed_, std::move(config));
    batching_ = repo.get();
    return repo;
  }

  static StoredRevision Record(int i) {
    StoredRevision r = Rev(1, domain::VersionVector({{"a", 1}}), 100 << 16, "a");
    char id[37];
    std::snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", i);
    r.record_id = id;
    return r;
  }

  int64_t Count(const std::string& sql) {
    pqxx::connection conn(db_->dsn());
    pqxx::nontransaction txn(conn);
    return txn.exec1(sql)[0].as<int64_t>();
  }

  std::atomic<int> batches_{0};
  PgRecordRepository* batching_ = nullptr;
};

TEST_F(WriteBatcherPgTest, WritesShareATransactionAndAStaleCheckAndSetFailsOnlyItsOwnCall) {
  std::unique_ptr<PgRecordRepository> repo = Batching([](int, pqxx::transaction_base&) {});
  // Record 0 exists; the batch updates it twice from the same read: one of the two check-and-sets
  // is stale by the time it runs (the other changed state_seq in the same transaction).
  COFFER_ASSERT_OK(repo_->Insert(Record(0)).status());
  COFFER_ASSERT_OK_AND_ASSIGN(std::optional<StoredRecord> read,
                              repo_->Get(kSpace, Record(0).record_id));
  ASSERT_TRUE(read.has_value());
  StoredRevision update = Record(0);
  update.stamp = {2, domain::VersionVector({{"a", 2}}), 200 << 16, "a"};

  std::vector<absl::StatusOr<int64_t>> results(kQueued + 1, absl::UnknownError("not run"));
  std::vector<std::thread> writers;
  writers.emplace_back([&] { results[0] = repo->Insert(Record(100)); });  // the first batch
  while (batches_ == 0) std::this_thread::yield();
  for (int i = 1; i <= kQueued; ++i) {
    writers.emplace_back([&, i] {
      results[i] =
          i <= 2 ? repo->ReplaceHead(update, HeadCheck::Of(*read), 0) : repo->Insert(Record(i));
    });
  }
  for (std::thread& t : writers) t.join();

  for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(*results[0], 0);
  // Exactly one of the two concurrent check-and-sets won; the others all wrote.
  EXPECT_EQ((*results[1] > 0) + (*results[2] > 0), 1);
  for (int i = 3; i <= kQueued; ++i) EXPECT_GT(*results[i], 0) << i;
  PgWriteBatcher::Stats stats = repo->batch_stats();
  EXPECT_EQ(stats.batches, 2);
  EXPECT_EQ(stats.writes, kQueued + 1);
  EXPECT_EQ(stats.largest, kQueued);
  EXPECT_EQ(Count("SELECT count(*) FROM records"), kQueued);
  EXPECT_EQ(Count("SELECT version FROM records WHERE record_id = '" + Record(0).record_id + "'"),
            2);
  // Every write has a change_seq of its own.
  std::set<int64_t> positions;
  for (const auto& r : results) {
    if (*r > 0) positions.insert(*r);
  }
  EXPECT_EQ(positions.size(), static_cast<size_t>(kQueued));
}

TEST_F(WriteBatcherPgTest, ABatchLostWithItsConnectionAppliesNothingAndFailsEachCallRetryably) {
  // The second batch's connection is killed before its COMMIT; no retries, to see the failure.
  std::unique_ptr<PgRecordRepository> repo = Batching(
      [](int n, pqxx::transaction_base& txn) {
        if (n == 2) txn.exec("SELECT pg_terminate_backend(pg_backend_pid())");
      },
      /*attempts=*/1);
  std::vector<absl::StatusOr<int64_t>> results(kQueued + 1, absl::UnknownError("not run"));
  std::vector<std::thread> writers;
  writers.emplace_back([&] { results[0] = repo->Insert(Record(0)); });
  while (batches_ == 0) std::this_thread::yield();
  for (int i = 1; i <= kQueued; ++i) {
    writers.emplace_back([&, i] { results[i] = repo->Insert(Record(i)); });
  }
  for (std::thread& t : writers) t.join();
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  for (int i = 1; i <= kQueued; ++i) {
    EXPECT_EQ(results[i].status().code(), absl::StatusCode::kUnavailable) << results[i].status();
  }
  EXPECT_EQ(Count("SELECT count(*) FROM records"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM record_history"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), 1);
}

TEST_F(WriteBatcherPgTest, OneFailingStatementFailsOnlyItsOwnWrite) {
  std::unique_ptr<PgRecordRepository> repo = Batching([](int, pqxx::transaction_base&) {});
  std::vector<absl::StatusOr<int64_t>> results(kQueued + 1, absl::UnknownError("not run"));
  std::vector<std::thread> writers;
  writers.emplace_back([&] { results[0] = repo->Insert(Record(0)); });
  while (batches_ == 0) std::this_thread::yield();
  for (int i = 1; i <= kQueued; ++i) {
    writers.emplace_back([&, i] {
      StoredRevision r = Record(i);
      if (i == 3) r.space_id = "not-a-uuid";  // PostgreSQL refuses the cast
      results[i] = repo->Insert(r);
    });
  }
  for (std::thread& t : writers) t.join();
  for (int i = 0; i <= kQueued; ++i) {
    if (i == 3) {
      EXPECT_FALSE(results[i].ok());
    } else {
      ASSERT_TRUE(results[i].ok()) << i << results[i].status();
      EXPECT_GT(*results[i], 0) << i;
    }
  }
  EXPECT_EQ(Count("SELECT count(*) FROM records"), kQueued);
}

}  // namespace
}  // namespace coffer::vault::repository

namespace coffer::vault::repository {
namespace {

// A new user's first calls often arrive together (a client opening several streams): every one
// of them must find the personal space, whichever inserted it (found by scripts/bench).
TEST_F(RecordRepositoryPgTest, ConcurrentFirstCallsOfOneUserAllEnsureThePersonalSpace) {
  PgSpaceRepository spaces(*pool_);
  constexpr int kUsers = 20;
  constexpr int kCalls = 4;
  std::atomic<int> failures{0};
  for (int u = 0; u < kUsers; ++u) {
    char id[37];
    std::snprintf(id, sizeof(id), "99999999-0000-4000-8000-%012d", u);
    const std::string space = id;
    const std::string user = "user" + std::to_string(u);
    std::atomic<int> ready{0};
    std::vector<std::thread> calls;
    for (int c = 0; c < kCalls; ++c) {
      calls.emplace_back([&] {
        ++ready;
        while (ready.load() < kCalls) std::this_thread::yield();
        absl::Status s = spaces.EnsurePersonalSpace(space, user, 1);
        if (!s.ok()) {
          ++failures;
          ADD_FAILURE() << s;
        }
      });
    }
    for (std::thread& t : calls) t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  // Another user's id stays refused.
  EXPECT_EQ(spaces.EnsurePersonalSpace("99999999-0000-4000-8000-000000000000", "mallory", 1).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace coffer::vault::repository
