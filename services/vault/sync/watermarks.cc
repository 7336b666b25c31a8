#include "services/vault/sync/watermarks.h"

#include <memory>

#include "pkg/kafka/errors.h"

namespace coffer::vault::sync {
namespace {

struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};

// ListOffsets with a special timestamp: -2 = earliest offset, -1 = next offset to be written.
absl::StatusOr<int64_t> OffsetAt(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                                 int64_t special, std::chrono::milliseconds timeout) {
  std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter> list(
      rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = special;
  rd_kafka_resp_err_t err =
      rd_kafka_offsets_for_times(rk, list.get(), static_cast<int>(timeout.count()));
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = list->elems[0].err;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka::ToStatus(err, false,
                           "listing offsets of " + topic + " [" + std::to_string(partition) + "]");
  }
  return list->elems[0].offset;
}

}  // namespace

absl::StatusOr<kafka::Watermarks> QueryWatermarksBounded(rd_kafka_t* rk, const std::string& topic,
                                                         int32_t partition,
                                                         std::chrono::milliseconds timeout) {
  kafka::Watermarks marks;
  absl::StatusOr<int64_t> low = OffsetAt(rk, topic, partition, -2, timeout);
  if (!low.ok()) return low.status();
  absl::StatusOr<int64_t> high = OffsetAt(rk, topic, partition, -1, timeout);
  if (!high.ok()) return high.status();
  marks.low = *low;
  marks.high = *high;
  return marks;
}

}  // namespace coffer::vault::sync
