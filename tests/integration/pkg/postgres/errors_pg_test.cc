// Error translation against real server errors (pkg/postgres/errors.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <thread>

#include "pkg/postgres/errors.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"

namespace coffer::postgres {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::PgTestDatabase;
using ::coffer::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class ErrorsPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COFFER_PG_TEST_DATABASE(db_);
    ASSERT_THAT(db_->Exec("CREATE TABLE items ("
                          "  id bigint PRIMARY KEY,"
                          "  label text NOT NULL UNIQUE CHECK (label <> ''),"
                          "  parent bigint REFERENCES items(id));"
                          "INSERT INTO items (id, label) VALUES (1, 'hunter2-secret')"),
                IsOk());
  }

  // Runs one statement with parameters in autocommit mode, translating any exception.
  template <typename... Args>
  absl::Status Exec(const std::string& sql, Args&&... args) {
    pqxx::connection conn(db_->dsn());
    return CatchPqxx([&] {
      pqxx::nontransaction txn(conn);
      txn.exec_params(sql, std::forward<Args>(args)...);
      return absl::OkStatus();
    });
  }

  std::unique_ptr<PgTestDatabase> db_;
};

TEST_F(ErrorsPgTest, UniqueViolationIsAlreadyExistsAndHidesTheKey) {
  absl::Status s = Exec("INSERT INTO items (id, label) VALUES ($1, $2)", 2, "hunter2-secret");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAlreadyExists,
                          AllOf(HasSubstr("items_label_key"), Not(HasSubstr("hunter2")))));
  EXPECT_THAT(Exec("INSERT INTO items (id, label) VALUES (1, 'other')"),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("items_pkey")));
}

TEST_F(ErrorsPgTest, ConstraintViolations) {
  EXPECT_THAT(Exec("INSERT INTO items (id, label) VALUES (3, NULL)"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("23502")));
  EXPECT_THAT(Exec("INSERT INTO items (id, label) VALUES (3, '')"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("23514")));
  EXPECT_THAT(Exec("INSERT INTO items (id, label, parent) VALUES (3, 'x', 99)"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("23503")));
}

TEST_F(ErrorsPgTest, DataExceptionIsInvalidArgumentWithoutTheValue) {
  EXPECT_THAT(Exec("SELECT $1::bigint", "not-a-number-hunter2"),
              StatusIs(absl::StatusCode::kInvalidArgument, Not(HasSubstr("hunter2"))));
}

TEST_F(ErrorsPgTest, BugsAreInternal) {
  EXPECT_THAT(Exec("SELEC 1"), StatusIs(absl::StatusCode::kInternal, HasSubstr("42601")));
  EXPECT_THAT(Exec("SELECT * FROM no_such_table"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("42P01")));
}

TEST_F(ErrorsPgTest, StatementTimeoutIsDeadlineExceeded) {
  pqxx::connection conn(db_->dsn());
  absl::Status s = CatchPqxx([&] {
    pqxx::nontransaction txn(conn);
    txn.exec("SET statement_timeout = 50");
    txn.exec("SELECT pg_sleep(5)");
    return absl::OkStatus();
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("57014")));
}

TEST_F(ErrorsPgTest, RealSerializationFailureIsAborted) {
  pqxx::connection first(db_->dsn());
  pqxx::connection second(db_->dsn());
  absl::Status s = CatchPqxx([&] {
    pqxx::transaction<pqxx::serializable> txn(first);
    txn.exec("SELECT label FROM items WHERE id = 1");  // takes the snapshot
    {
      pqxx::work other(second);  // a concurrent transaction commits a change to the same row
      other.exec("UPDATE items SET label = 'changed' WHERE id = 1");
      other.commit();
    }
    txn.exec("UPDATE items SET label = 'mine' WHERE id = 1");
    txn.commit();
    return absl::OkStatus();
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAborted, HasSubstr("could not serialize")));
}

TEST_F(ErrorsPgTest, RealDeadlockIsAborted) {
  ASSERT_THAT(db_->Exec("INSERT INTO items (id, label) VALUES (2, 'two')"), IsOk());
  pqxx::connection first(db_->dsn());
  pqxx::connection second(db_->dsn());
  pqxx::work t1(first);
  pqxx::work t2(second);
  t1.exec("UPDATE items SET label = 'a' WHERE id = 1");
  t2.exec("UPDATE items SET label = 'b' WHERE id = 2");
  // t1 now waits for t2's row in another thread while t2 asks for t1's row: a cycle.
  absl::Status s1;
  std::thread waiter([&] {
    s1 = CatchPqxx([&] {
      t1.exec("UPDATE items SET label = 'a' WHERE id = 2");
      return absl::OkStatus();
    });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  absl::Status s2 = CatchPqxx([&] {
    t2.exec("UPDATE items SET label = 'b' WHERE id = 1");
    return absl::OkStatus();
  });
  if (s2.ok()) t2.abort();  // t2 survived: let t1 go on (it was the victim, or will finish)
  waiter.join();
  // PostgreSQL aborts exactly one of the two with deadlock_detected.
  const bool first_aborted = s1.code() == absl::StatusCode::kAborted;
  const bool second_aborted = s2.code() == absl::StatusCode::kAborted;
  EXPECT_NE(first_aborted, second_aborted) << s1 << " / " << s2;
  EXPECT_THAT(first_aborted ? s1 : s2, StatusIs(absl::StatusCode::kAborted, HasSubstr("deadlock")));
}

TEST_F(ErrorsPgTest, TerminatedSessionIsUnavailable) {
  pqxx::connection conn(db_->dsn());
  const int pid = conn.backendpid();
  pqxx::connection admin(db_->cluster_dsn());
  pqxx::nontransaction(admin).exec_params("SELECT pg_terminate_backend($1)", pid);
  absl::Status s = CatchPqxx([&] {
    pqxx::nontransaction txn(conn);
    txn.exec("SELECT 1");
    return absl::OkStatus();
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace coffer::postgres
