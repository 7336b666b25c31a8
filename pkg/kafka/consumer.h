// Consumer: reads manually assigned topic partitions from explicit offsets.
//
// Why: every shard must read every partition (DESIGN §4) and keeps its offsets in PostgreSQL,
// so Kafka consumer groups (rebalances, committed offsets) are not used: the owner assigns all
// partitions at the offsets it stored. Offsets are never committed to Kafka.
//
// Truncation: auto.offset.reset is "error" by default, so asking for an offset the log no longer
// holds (below the low watermark) or beyond its end makes Poll return OUT_OF_RANGE instead of
// silently skipping records; the owner then re-bootstraps. QueryWatermarks tells where the log
// starts and ends.
//
// Lifecycle: Create() -> Assign() -> Poll()* -> destroy (closes the consumer).
// Threading: one thread at a time may call Assign/Poll; QueryWatermarks and PartitionCount may
// be called from any thread. Errors (including client-level ones such as all brokers down) come
// back from Poll as Status; ClientConfig::on_error is not used.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/kafka/client.h"
#include "pkg/kafka/client_internal.h"

namespace coffer::kafka {

// Nothing beyond ClientConfig. Create() sets the manual-assignment defaults (a group.id that is
// never joined, no offset commits or stores, auto.offset.reset=error, no topic auto-creation);
// `properties` can override them, which the design above does not expect.
struct ConsumerConfig : ClientConfig {};

// A partition to read and where to start: an absolute offset, kOffsetBeginning or kOffsetEnd.
struct TopicPartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = kOffsetBeginning;
};

class Consumer {
 public:
  // Creates the client without waiting for a broker. INVALID_ARGUMENT for a bad property.
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(const ConsumerConfig& config);

  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Replaces the whole assignment (an empty list stops reading). Records of a partition come in
  // offset order from the given offset on.
  absl::Status Assign(const std::vector<TopicPartitionOffset>& partitions);

  // Waits up to `timeout` for the next record. nullopt when none arrived in time. Errors are
  // classified as in errors.h: retryable ones (brokers down) can be ignored and polling
  // continued; OUT_OF_RANGE means the requested offset is gone (truncated log) or not yet
  // written.
  absl::StatusOr<std::optional<Message>> Poll(std::chrono::milliseconds timeout);

  // Low/high watermarks of one partition, asked of its leader.
  absl::StatusOr<Watermarks> QueryWatermarks(
      const std::string& topic, int32_t partition,
      std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Number of partitions of `topic` from cluster metadata; NOT_FOUND if it does not exist.
  absl::StatusOr<int> PartitionCount(const std::string& topic,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // The underlying handle, for librdkafka features not wrapped here. Owned by this object.
  rd_kafka_t* handle() const { return rk_.get(); }

 private:
  Consumer() = default;

  std::unique_ptr<internal::CallbackContext> context_;
  internal::KafkaHandle rk_;
};

}  // namespace coffer::kafka
