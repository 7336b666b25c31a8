// GoogleMock matchers for absl::Status and absl::StatusOr<T> (Debian's Abseil ships none).
//
//   EXPECT_THAT(DoIt(), IsOk());
//   EXPECT_THAT(Find(id), StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(Put(r), StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("records_pkey")));
//   EXPECT_THAT(lock.TryAcquire(), IsOkAndHolds(true));
//   COFFER_ASSERT_OK_AND_ASSIGN(auto pool, ConnectionPool::Create(config));
//   COFFER_ASSERT_OK(Migrate()); COFFER_EXPECT_OK(Ping());
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/status/status.h"

namespace coffer::testing {
namespace internal {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }

template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

inline std::string Describe(const absl::Status& status) { return status.ToString(); }

// Polymorphic: works on Status and StatusOr<T> alike.
template <typename MessageMatcher>
class StatusIsMatcher {
 public:
  StatusIsMatcher(absl::StatusCode code, MessageMatcher message)
      : code_(code), message_(std::move(message)) {}

  template <typename T>
  bool MatchAndExplain(const T& value, ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(value);
    *listener << "whose status is " << Describe(status);
    if (status.code() != code_) return false;
    return ::testing::SafeMatcherCast<const std::string&>(message_).MatchAndExplain(
        std::string(status.message()), listener);
  }

  void DescribeTo(std::ostream* os) const {
    *os << "has status code " << absl::StatusCodeToString(code_) << " and a message that ";
    ::testing::SafeMatcherCast<const std::string&>(message_).DescribeTo(os);
  }

  void DescribeNegationTo(std::ostream* os) const {
    *os << "does not have status code " << absl::StatusCodeToString(code_)
        << " or has a message that ";
    ::testing::SafeMatcherCast<const std::string&>(message_).DescribeNegationTo(os);
  }

 private:
  absl::StatusCode code_;
  MessageMatcher message_;
};

class IsOkMatcher {
 public:
  template <typename T>
  bool MatchAndExplain(const T& value, ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(value);
    if (!status.ok()) *listener << "whose status is " << Describe(status);
    return status.ok();
  }
  void DescribeTo(std::ostream* os) const { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is not OK"; }
};

// Matches an OK StatusOr<T> whose value matches an inner matcher. Converts to a typed matcher
// so the inner one can be described.
template <typename StatusOrT>
class IsOkAndHoldsImpl : public ::testing::MatcherInterface<const StatusOrT&> {
 public:
  using Value = typename std::decay_t<StatusOrT>::value_type;

  template <typename ValueMatcher>
  explicit IsOkAndHoldsImpl(ValueMatcher&& value)
      : value_(::testing::SafeMatcherCast<const Value&>(std::forward<ValueMatcher>(value))) {}

  bool MatchAndExplain(const StatusOrT& status_or,
                       ::testing::MatchResultListener* listener) const override {
    if (!status_or.ok()) {
      *listener << "whose status is " << Describe(status_or.status());
      return false;
    }
    *listener << "whose value " << ::testing::PrintToString(*status_or) << " ";
    return value_.MatchAndExplain(*status_or, listener);
  }
  void DescribeTo(std::ostream* os) const override {
    *os << "is OK and has a value that ";
    value_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const override {
    *os << "is not OK or has a value that ";
    value_.DescribeNegationTo(os);
  }

 private:
  const ::testing::Matcher<const Value&> value_;
};

template <typename ValueMatcher>
class IsOkAndHoldsMatcher {
 public:
  explicit IsOkAndHoldsMatcher(ValueMatcher value) : value_(std::move(value)) {}

  template <typename StatusOrT>
  operator ::testing::Matcher<StatusOrT>() const {  // NOLINT: implicit by design (gmock idiom)
    return ::testing::Matcher<StatusOrT>(
        new IsOkAndHoldsImpl<const std::decay_t<StatusOrT>&>(value_));
  }

 private:
  ValueMatcher value_;
};

}  // namespace internal

// Matches an OK StatusOr<T> whose value matches `value` (a matcher or a plain value).
template <typename ValueMatcher>
internal::IsOkAndHoldsMatcher<ValueMatcher> IsOkAndHolds(ValueMatcher value) {
  return internal::IsOkAndHoldsMatcher<ValueMatcher>(std::move(value));
}

// Matches an OK absl::Status or an absl::StatusOr<T> holding a value.
inline ::testing::PolymorphicMatcher<internal::IsOkMatcher> IsOk() {
  return ::testing::MakePolymorphicMatcher(internal::IsOkMatcher());
}

// Matches a Status / StatusOr with the given code (and a message matching `message`).
template <typename MessageMatcher>
::testing::PolymorphicMatcher<internal::StatusIsMatcher<MessageMatcher>> StatusIs(
    absl::StatusCode code, MessageMatcher message) {
  return ::testing::MakePolymorphicMatcher(
      internal::StatusIsMatcher<MessageMatcher>(code, std::move(message)));
}

inline auto StatusIs(absl::StatusCode code) { return StatusIs(code, ::testing::_); }

}  // namespace coffer::testing

#define COFFER_ASSERT_OK(expr) ASSERT_THAT((expr), ::coffer::testing::IsOk())
#define COFFER_EXPECT_OK(expr) EXPECT_THAT((expr), ::coffer::testing::IsOk())

// `COFFER_ASSERT_OK_AND_ASSIGN(auto x, Foo());` asserts that the StatusOr is OK (failing the
// test and returning otherwise) and moves its value into the declaration.
#define COFFER_ASSERT_OK_AND_ASSIGN(lhs, expr)                                                     \
  COFFER_ASSERT_OK_AND_ASSIGN_IMPL_(COFFER_STATUS_CONCAT_(coffer_assert_statusor_, __LINE__), lhs, \
                                    expr)

#define COFFER_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr)             \
  auto statusor = (expr);                                                  \
  ASSERT_TRUE(statusor.ok()) << #expr << " failed: " << statusor.status(); \
  lhs = std::move(statusor).value()
