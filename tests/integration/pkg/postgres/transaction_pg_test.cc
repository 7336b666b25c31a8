// RunInTransaction against real conflicts (pkg/postgres/transaction.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <thread>
#include <vector>

#include "pkg/postgres/transaction.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"

namespace coffer::postgres {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::PgTestDatabase;
using ::coffer::testing::StatusIs;
using ::testing::HasSubstr;

class TransactionPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COFFER_PG_TEST_DATABASE(db_);
    ASSERT_THAT(db_->Exec("CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL);"
                          "INSERT INTO counters VALUES (1, 0)"),
                IsOk());
    COFFER_ASSERT_OK_AND_ASSIGN(pool_, db_->NewPool(4));
  }

  int64_t Counter() {
    int64_t n = -1;
    EXPECT_THAT(RunInReadOnlyTransaction(
                    *pool_, IsolationLevel::kReadCommitted,
                    [&](pqxx::transaction_base& txn) {
                      n = txn.exec1("SELECT n FROM counters WHERE id = 1")[0].as<int64_t>();
                      return absl::OkStatus();
                    }),
                IsOk());
    return n;
  }

  // Commits `n = n + 100` from a separate session: a transaction concurrent with the caller's.
  void InterfereFromAnotherSession() {
    pqxx::connection other(db_->dsn());
    pqxx::work txn(other);
    txn.exec("UPDATE counters SET n = n + 100 WHERE id = 1");
    txn.commit();
  }

  // A read-modify-write that conflicts (40001) whenever `interfere` commits between its read and
  // its write.
  TransactionFn Increment(std::atomic<int>& calls, const std::function<bool(int)>& interfere) {
    return [this, &calls, interfere](pqxx::transaction_base& txn) {
      const int call = ++calls;
      const auto n = txn.exec1("SELECT n FROM counters WHERE id = 1")[0].as<int64_t>();
      if (interfere(call)) InterfereFromAnotherSession();
      txn.exec_params("UPDATE counters SET n = $1 WHERE id = 1", n + 1);
      return absl::OkStatus();
    };
  }

  std::unique_ptr<PgTestDatabase> db_;
  std::unique_ptr<ConnectionPool> pool_;
};

TEST_F(TransactionPgTest, CommitsWhenFunctionSucceeds) {
  std::atomic<int> calls{0};
  ASSERT_THAT(RunInTransaction(*pool_, IsolationLevel::kSerializable,
                               Increment(calls, [](int) { return false; })),
              IsOk());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Counter(), 1);
}

TEST_F(TransactionPgTest, RollsBackAndDoesNotRetryFunctionError) {
  int calls = 0;
  absl::Status s =
      RunInTransaction(*pool_, IsolationLevel::kReadCommitted, [&](pqxx::transaction_base& txn) {
        ++calls;
        txn.exec("UPDATE counters SET n = 42 WHERE id = 1");
        return absl::FailedPreconditionError("version mismatch");
      });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("version mismatch")));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Counter(), 0);
}

TEST_F(TransactionPgTest, TranslatesEscapingExceptionsWithoutRetry) {
  int calls = 0;
  absl::Status s =
      RunInTransaction(*pool_, IsolationLevel::kReadCommitted, [&](pqxx::transaction_base& txn) {
        ++calls;
        txn.exec("INSERT INTO counters VALUES (1, 5)");
        return absl::OkStatus();
      });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(calls, 1);
}

TEST_F(TransactionPgTest, RetriesRealSerializationFailureAndSucceeds) {
  std::atomic<int> calls{0};
  RetryPolicy policy;
  policy.max_attempts = 3;
  absl::Status s = RunInTransaction(*pool_, IsolationLevel::kSerializable,
                                    Increment(calls, [](int call) { return call == 1; }), policy);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(calls, 2);
  // The interfering +100 committed; the first attempt's write was rolled back; the retry read
  // 100 and wrote 101. Nothing was lost.
  EXPECT_EQ(Counter(), 101);
}

TEST_F(TransactionPgTest, GivesUpAfterMaxAttempts) {
  std::atomic<int> calls{0};
  RetryPolicy policy;
  policy.max_attempts = 3;
  absl::Status s = RunInTransaction(*pool_, IsolationLevel::kRepeatableRead,
                                    Increment(calls, [](int) { return true; }), policy);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAborted, HasSubstr("after 3 attempts")));
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(Counter(), 300);  // only the interfering transactions committed
}

TEST_F(TransactionPgTest, ConcurrentSerializableIncrementsAreNeverLost) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::atomic<int> calls{0};
  std::vector<absl::Status> results(kThreads * kPerThread);
  RetryPolicy policy;
  policy.max_attempts = 100;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        results[t * kPerThread + i] =
            RunInTransaction(*pool_, IsolationLevel::kSerializable,
                             Increment(calls, [](int) { return false; }), policy);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& r : results) EXPECT_THAT(r, IsOk());
  // Read-then-write under READ COMMITTED would lose updates; SERIALIZABLE plus retries does not.
  EXPECT_EQ(Counter(), kThreads * kPerThread);
  RecordProperty("attempts", calls.load());
}

TEST_F(TransactionPgTest, ReadOnlyTransactionRejectsWrites) {
  absl::Status s = RunInReadOnlyTransaction(*pool_, IsolationLevel::kRepeatableRead,
                                            [](pqxx::transaction_base& txn) {
                                              txn.exec("UPDATE counters SET n = 7");
                                              return absl::OkStatus();
                                            });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInternal, HasSubstr("25006")));
  EXPECT_EQ(Counter(), 0);
}

TEST_F(TransactionPgTest, IsolationLevelIsApplied) {
  for (auto [level, name] : {std::pair{IsolationLevel::kReadCommitted, "read committed"},
                             std::pair{IsolationLevel::kRepeatableRead, "repeatable read"},
                             std::pair{IsolationLevel::kSerializable, "serializable"}}) {
    std::string seen;
    ASSERT_THAT(RunInTransaction(*pool_, level,
                                 [&](pqxx::transaction_base& txn) {
                                   seen = txn.exec1("SHOW transaction_isolation")[0].c_str();
                                   return absl::OkStatus();
                                 }),
                IsOk());
    EXPECT_EQ(seen, name);
  }
}

TEST_F(TransactionPgTest, RetriesOnAFreshConnectionWhenTheSessionDies) {
  COFFER_ASSERT_OK_AND_ASSIGN(auto pool, db_->NewPool(1));
  int calls = 0;
  std::vector<int> pids;
  absl::Status s =
      RunInTransaction(*pool, IsolationLevel::kReadCommitted, [&](pqxx::transaction_base& txn) {
        ++calls;
        pids.push_back(txn.conn().backendpid());
        if (calls == 1) {
          pqxx::connection admin(db_->cluster_dsn());
          pqxx::nontransaction(admin).exec_params("SELECT pg_terminate_backend($1)", pids.back());
        }
        txn.exec("UPDATE counters SET n = n + 1 WHERE id = 1");
        return absl::OkStatus();
      });
  ASSERT_THAT(s, IsOk());
  ASSERT_EQ(calls, 2);
  EXPECT_NE(pids[0], pids[1]);
  EXPECT_EQ(Counter(), 1);
  EXPECT_EQ(pool->GetStats().open, 1);
}

// RunSingleStatement: autocommit, so no BEGIN reaches the server (SAVEPOINT needs a transaction
// block and fails), the statement's effect is committed on return, and a failed statement
// leaves nothing behind.
TEST_F(TransactionPgTest, SingleStatementRunsInAutocommitAndCommits) {
  EXPECT_THAT(RunSingleStatement(*pool_, Statement::kNotIdempotent,
                                 [&](pqxx::transaction_base& txn) {
                                   txn.exec("SAVEPOINT probe");
                                   return absl::OkStatus();
                                 }),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("transaction block")));
  ASSERT_THAT(RunSingleStatement(*pool_, Statement::kNotIdempotent,
                                 [&](pqxx::transaction_base& txn) {
                                   txn.exec("UPDATE counters SET n = n + 5 WHERE id = 1");
                                   return absl::OkStatus();
                                 }),
              IsOk());
  EXPECT_EQ(Counter(), 5);
  EXPECT_THAT(RunSingleStatement(*pool_, Statement::kNotIdempotent,
                                 [&](pqxx::transaction_base& txn) {
                                   txn.exec(
                                       "WITH a AS (UPDATE counters SET n = n + 1 WHERE id = 1) "
                                       "INSERT INTO counters VALUES (1, 0)");
                                   return absl::OkStatus();
                                 }),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(Counter(), 5) << "the failed statement's UPDATE must not stick";
}

// A session that dies during an autocommit statement leaves it in doubt: UNKNOWN, no retry.
TEST_F(TransactionPgTest, SingleStatementIsNotRetriedWhenTheSessionDies) {
  COFFER_ASSERT_OK_AND_ASSIGN(auto pool, db_->NewPool(1));
  int calls = 0;
  absl::Status s =
      RunSingleStatement(*pool, Statement::kNotIdempotent, [&](pqxx::transaction_base& txn) {
        ++calls;
        pqxx::connection admin(db_->cluster_dsn());
        pqxx::nontransaction(admin).exec_params("SELECT pg_terminate_backend($1)",
                                                txn.conn().backendpid());
        txn.exec("UPDATE counters SET n = n + 1 WHERE id = 1");
        return absl::OkStatus();
      });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnknown, HasSubstr("may have committed")));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Counter(), 0);
  // A read is retried on a fresh connection instead.
  calls = 0;
  int64_t n = -1;
  ASSERT_THAT(
      RunSingleStatement(*pool, Statement::kIdempotent,
                         [&](pqxx::transaction_base& txn) {
                           if (++calls == 1) {
                             pqxx::connection admin(db_->cluster_dsn());
                             pqxx::nontransaction(admin).exec_params(
                                 "SELECT pg_terminate_backend($1)", txn.conn().backendpid());
                           }
                           n = txn.exec1("SELECT n FROM counters WHERE id = 1")[0].as<int64_t>();
                           return absl::OkStatus();
                         }),
      IsOk());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(n, 0);
}

}  // namespace
}  // namespace coffer::postgres
