// Watermarks that honour their timeout.
//
// Why: in librdkafka < 2.3.0, rd_kafka_query_watermark_offsets (pkg/kafka QueryWatermarks)
// blocks forever while the partition leader's broker is down (librdkafka issue #2588, fixed by
// PR #4460 in 2.3.0); Debian 12 ships 2.0.2. A relay/consumer thread or an admin RPC stuck
// there would also block shutdown. rd_kafka_offsets_for_times honours its timeout, and the
// ListOffsets special timestamps -2 (earliest) and -1 (latest) give the low and high
// watermarks.
//
// Threading: any thread (librdkafka handles are thread-safe for this call).
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "pkg/kafka/client.h"

namespace coffer::vault::sync {

absl::StatusOr<kafka::Watermarks> QueryWatermarksBounded(rd_kafka_t* rk, const std::string& topic,
                                                         int32_t partition,
                                                         std::chrono::milliseconds timeout);

}  // namespace coffer::vault::sync
