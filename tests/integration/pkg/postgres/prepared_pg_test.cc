// ExecPrepared against a real server (pkg/postgres/prepared.h): one server-side statement per
// connection and constant, prepared lazily, surviving rollbacks and schema changes, and prepared
// again on a connection the pool opened anew; ArrayLiteral's elements arrive unchanged.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <string>
#include <vector>

#include "pkg/postgres/prepared.h"
#include "pkg/postgres/transaction.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"

namespace coffer::postgres {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::PgTestDatabase;
using ::coffer::testing::StatusIs;

constexpr char kSelectItem[] = "SELECT name FROM items WHERE id = $1";
constexpr char kCountItems[] = "SELECT count(*) FROM items";
constexpr char kInsertItem[] = "INSERT INTO items (id, name) VALUES ($1, $2)";
constexpr char kPreparedHere[] =
    "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'coffer\\_%'";
constexpr char kBackendPid[] = "SELECT pg_backend_pid()";
constexpr char kUnnestText[] =
    "SELECT e FROM unnest($1::text[]) WITH ORDINALITY AS u(e, i) ORDER BY i";
constexpr char kSumBigints[] = "SELECT count(*), coalesce(sum(x), 0) FROM unnest($1::bigint[]) x";

class PreparedPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COFFER_PG_TEST_DATABASE(db_);
    ASSERT_THAT(db_->Exec("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);"
                          "INSERT INTO items VALUES (1, 'one'), (2, 'two')"),
                IsOk());
    // One connection: every call below runs on the same session unless it breaks.
    COFFER_ASSERT_OK_AND_ASSIGN(pool_, db_->NewPool(1));
  }

  // Runs fn in autocommit on the pool's connection.
  absl::Status Run(const TransactionFn& fn) {
    return RunSingleStatement(*pool_, Statement::kIdempotent, fn);
  }

  // The one value `sql` returns, run prepared in autocommit (T{} when the call fails, failing
  // the test).
  template <typename T, typename... Args>
  T One(const char* sql, const Args&... args) {
    T value{};
    EXPECT_THAT(Run([&](pqxx::transaction_base& txn) {
                  value = ExecPrepared1(txn, sql, args...)[0].template as<T>();
                  return absl::OkStatus();
                }),
                IsOk());
    return value;
  }

  std::string Name(int id) { return One<std::string>(kSelectItem, id); }
  int64_t BackendPid() { return One<int64_t>(kBackendPid); }
  int64_t PreparedOnSession() { return One<int64_t>(kPreparedHere); }

  std::unique_ptr<PgTestDatabase> db_;
  std::unique_ptr<ConnectionPool> pool_;
};

TEST_F(PreparedPgTest, OneServerStatementPerConstantAndConnection) {
  EXPECT_EQ(Name(1), "one");
  EXPECT_EQ(Name(2), "two");
  EXPECT_EQ(Name(1), "one");
  // kSelectItem and kPreparedHere itself: two statements however often they ran.
  EXPECT_EQ(PreparedOnSession(), 2);
  EXPECT_EQ(PreparedOnSession(), 2);
  EXPECT_NE(PreparedName(kSelectItem), PreparedName(kCountItems));
  EXPECT_EQ(PreparedName(kSelectItem), PreparedName(kSelectItem));
}

TEST_F(PreparedPgTest, ParametersAreBoundNotSpliced) {
  ASSERT_THAT(Run([&](pqxx::transaction_base& txn) {
                ExecPrepared(txn, kInsertItem, 3, "it's'); DROP TABLE items; --");
                return absl::OkStatus();
              }),
              IsOk());
  EXPECT_EQ(Name(3), "it's'); DROP TABLE items; --");
  EXPECT_EQ(Name(1), "one");
}

TEST_F(PreparedPgTest, StatementSurvivesARolledBackTransaction) {
  EXPECT_EQ(Name(1), "one");
  // Executed (and first prepared) inside a transaction that rolls back: the statement stays.
  EXPECT_THAT(RunInTransaction(*pool_, IsolationLevel::kReadCommitted,
                               [&](pqxx::transaction_base& txn) {
                                 ExecPrepared(txn, kInsertItem, 4, "four");
                                 return absl::FailedPreconditionError("roll back");
                               }),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Run([&](pqxx::transaction_base& txn) {
                ExecPrepared(txn, kInsertItem, 4, "four");
                return absl::OkStatus();
              }),
              IsOk());
  EXPECT_EQ(Name(4), "four");
}

TEST_F(PreparedPgTest, StatementSurvivesASchemaChange) {
  EXPECT_EQ(Name(1), "one");
  // A migration adding a column while replicas run: explicit columns keep the result type, and
  // PostgreSQL re-plans the cached statement.
  ASSERT_THAT(db_->Exec("ALTER TABLE items ADD COLUMN note text"), IsOk());
  EXPECT_EQ(Name(2), "two");
}

TEST_F(PreparedPgTest, NewConnectionPreparesAgain) {
  EXPECT_EQ(Name(1), "one");
  const int64_t pid = BackendPid();
  // Kill the pooled session; the pool notices, replaces it, and the statement is prepared anew.
  pqxx::connection admin(db_->dsn());
  pqxx::nontransaction(admin).exec("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
  // The first call may meet the dead session (retried: the read is idempotent).
  EXPECT_EQ(Name(2), "two");
  EXPECT_NE(BackendPid(), pid);
  EXPECT_EQ(Name(1), "one");
}

TEST_F(PreparedPgTest, SessionThatLostItsStatementsIsReplaced) {
  EXPECT_EQ(Name(1), "one");
  {
    // Someone (a pooler, an operator) drops the session's prepared statements behind libpqxx.
    COFFER_ASSERT_OK_AND_ASSIGN(auto lease, pool_->Acquire());
    pqxx::nontransaction(lease.get()).exec("DEALLOCATE ALL");
  }
  // The read and a (non-idempotent) write still succeed: the statement never ran on the old
  // session, so the runner retries it on a new one.
  EXPECT_EQ(Name(2), "two");
  {
    COFFER_ASSERT_OK_AND_ASSIGN(auto lease, pool_->Acquire());
    pqxx::nontransaction(lease.get()).exec("DEALLOCATE ALL");
  }
  EXPECT_THAT(RunSingleStatement(*pool_, Statement::kNotIdempotent,
                                 [&](pqxx::transaction_base& txn) {
                                   ExecPrepared(txn, kInsertItem, 5, "five");
                                   return absl::OkStatus();
                                 }),
              IsOk());
  EXPECT_EQ(Name(5), "five");
}

TEST_F(PreparedPgTest, ExecPrepared1RejectsOtherRowCounts) {
  EXPECT_THAT(Run([&](pqxx::transaction_base& txn) {
                ExecPrepared1(txn, kSelectItem, 99);
                return absl::OkStatus();
              }),
              StatusIs(absl::StatusCode::kInternal));
}

TEST_F(PreparedPgTest, ArrayLiteralArrivesAsTheSameElements) {
  const std::vector<std::string> tricky = {"plain",       "with,comma", "{braces}", "say \"hi\"",
                                           "back\\slash", " spaced ",   "NULL",     "",
                                           "ünï"};
  for (const std::vector<std::string>& items :
       {tricky, std::vector<std::string>{}, std::vector<std::string>{"one"}}) {
    std::vector<std::string> back;
    ASSERT_THAT(Run([&](pqxx::transaction_base& txn) {
                  for (const auto& row : ExecPrepared(txn, kUnnestText, ArrayLiteral(items))) {
                    EXPECT_FALSE(row[0].is_null());
                    back.push_back(row[0].as<std::string>());
                  }
                  return absl::OkStatus();
                }),
                IsOk());
    EXPECT_EQ(back, items);
  }
  int64_t count = 0, sum = 0;
  ASSERT_THAT(Run([&](pqxx::transaction_base& txn) {
                pqxx::row r = ExecPrepared1(txn, kSumBigints,
                                            ArrayLiteral(std::vector<int64_t>{-5, 7, 1LL << 40}));
                count = r[0].as<int64_t>();
                sum = r[1].as<int64_t>();
                return absl::OkStatus();
              }),
              IsOk());
  EXPECT_EQ(count, 3);
  EXPECT_EQ(sum, 2 + (1LL << 40));
}

}  // namespace
}  // namespace coffer::postgres
