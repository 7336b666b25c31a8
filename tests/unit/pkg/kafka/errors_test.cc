#include "pkg/kafka/errors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace coffer::kafka {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ClassifyTest, TransportAndLeadershipErrorsAreRetryable) {
  for (rd_kafka_resp_err_t err :
       {RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TIMED_OUT,
        RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__PURGE_QUEUE,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION}) {
    EXPECT_EQ(Classify(err), ErrorClass::kRetryable) << rd_kafka_err2name(err);
  }
}

TEST(ClassifyTest, RequestProblemsArePermanent) {
  for (rd_kafka_resp_err_t err :
       {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE,
        RD_KAFKA_RESP_ERR__INVALID_ARG, RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE}) {
    EXPECT_EQ(Classify(err), ErrorClass::kPermanent) << rd_kafka_err2name(err);
  }
}

TEST(ClassifyTest, IdempotenceViolationsAreFatal) {
  for (rd_kafka_resp_err_t err :
       {RD_KAFKA_RESP_ERR__FATAL, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
        RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH, RD_KAFKA_RESP_ERR_PRODUCER_FENCED,
        RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED}) {
    EXPECT_EQ(Classify(err), ErrorClass::kFatal) << rd_kafka_err2name(err);
  }
}

TEST(ClassifyTest, FatalFlagOverridesTheCode) {
  EXPECT_EQ(Classify(RD_KAFKA_RESP_ERR__TRANSPORT, /*is_fatal=*/true), ErrorClass::kFatal);
  EXPECT_EQ(Classify(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, /*is_fatal=*/true), ErrorClass::kFatal);
}

TEST(ToStatusTest, NoErrorIsOk) { EXPECT_TRUE(ToStatus(RD_KAFKA_RESP_ERR_NO_ERROR).ok()); }

TEST(ToStatusTest, RetryableTransportErrorsAreUnavailable) {
  absl::Status status = ToStatus(RD_KAFKA_RESP_ERR__TRANSPORT, false, "producing", "conn reset");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()), HasSubstr("producing: "));
  EXPECT_THAT(std::string(status.message()), HasSubstr("_TRANSPORT"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("conn reset"));
  EXPECT_TRUE(IsRetryable(status));
  EXPECT_FALSE(IsFatal(status));

  EXPECT_EQ(ToStatus(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ToStatus(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION).code(),
            absl::StatusCode::kUnavailable);
}

TEST(ToStatusTest, TimeoutsAndFullQueuesHaveTheirOwnRetryableCodes) {
  absl::Status timed_out = ToStatus(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
  EXPECT_EQ(timed_out.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(IsRetryable(timed_out));
  absl::Status full = ToStatus(RD_KAFKA_RESP_ERR__QUEUE_FULL);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(IsRetryable(full));
}

TEST(ToStatusTest, PermanentErrorsMapToSpecificCodes) {
  EXPECT_EQ(ToStatus(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToStatus(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ToStatus(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ToStatus(RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ToStatus(RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ToStatus(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ToStatus(RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED).code(),
            absl::StatusCode::kUnauthenticated);
  absl::Status too_large = ToStatus(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  EXPECT_FALSE(IsRetryable(too_large));
  EXPECT_FALSE(IsFatal(too_large));
}

TEST(ToStatusTest, FatalErrorsAreInternalAndMarked) {
  absl::Status status =
      ToStatus(RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, false, "delivering");
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(IsFatal(status));
  EXPECT_FALSE(IsRetryable(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr("fatal"));

  absl::Status flagged = ToStatus(RD_KAFKA_RESP_ERR__TRANSPORT, /*is_fatal=*/true);
  EXPECT_EQ(flagged.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(IsFatal(flagged));
}

TEST(ToStatusTest, PlainInternalErrorsAreNotFatal) {
  EXPECT_FALSE(IsFatal(absl::InternalError("something else")));
  EXPECT_THAT(std::string(ToStatus(RD_KAFKA_RESP_ERR__TRANSPORT).message()),
              Not(HasSubstr("fatal")));
}

}  // namespace
}  // namespace coffer::kafka
