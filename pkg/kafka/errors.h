// Translation of librdkafka errors into absl::Status, done once at the adapter (STYLE habit 5).
//
// Every librdkafka error falls in one of three classes, which is what owners act on:
//
//   kRetryable  the broker or the network is (maybe briefly) unavailable; the same request may
//               succeed later (transport failures, leader changes, timeouts, full queues).
//               Status codes: UNAVAILABLE, DEADLINE_EXCEEDED (timeouts),
//               RESOURCE_EXHAUSTED (local queue full).
//   kPermanent  this request will never succeed as is (message too large, unknown topic or
//               partition, authorization, offset out of range, invalid arguments).
//               Status codes: INVALID_ARGUMENT, NOT_FOUND, OUT_OF_RANGE, PERMISSION_DENIED,
//               UNAUTHENTICATED, UNIMPLEMENTED, FAILED_PRECONDITION.
//   kFatal      the client instance is unusable (an idempotent producer lost its guarantee:
//               out-of-order sequence, fenced epoch, rd_kafka_fatal_error). The owner must
//               destroy and recreate the Producer. Status code: INTERNAL, marked so that
//               IsFatal(status) is true.
//
// Messages name the librdkafka error ("_TRANSPORT", "MSG_SIZE_TOO_LARGE") and its text; they
// never contain message keys or values.
#pragma once

#include <librdkafka/rdkafka.h>

#include <string_view>

#include "absl/status/status.h"

namespace coffer::kafka {

// What an owner does about an error: the three classes of the table above.
enum class ErrorClass {
  kRetryable,
  kPermanent,
  kFatal,
};

// Classifies `err`. `is_fatal` is librdkafka's own fatal flag (rd_kafka_error_is_fatal, or an
// error_cb/delivery report carrying RD_KAFKA_RESP_ERR__FATAL); it forces kFatal. Must not be
// called with RD_KAFKA_RESP_ERR_NO_ERROR (classified kPermanent, since it is a caller bug).
ErrorClass Classify(rd_kafka_resp_err_t err, bool is_fatal = false);

// Converts `err` to a Status following the table above; NO_ERROR gives OK. `context` (e.g.
// "producing to coffer.vault.changes.v1") prefixes the message; `detail` (librdkafka's
// human-readable reason, if any) is appended.
absl::Status ToStatus(rd_kafka_resp_err_t err, bool is_fatal = false, std::string_view context = {},
                      std::string_view detail = {});

// True if `status` came from ToStatus for a kFatal error: recreate the client.
bool IsFatal(const absl::Status& status);

// True if `status` came from ToStatus for a kRetryable error: try again later.
bool IsRetryable(const absl::Status& status);

}  // namespace coffer::kafka
