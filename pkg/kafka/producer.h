// Producer: an idempotent Kafka producer with one delivery callback per message.
//
// Why: the outbox relay must know, per event, whether Kafka has it (acks=all), and must never
// publish duplicates or reorder a partition on retries; librdkafka's idempotent producer gives
// both. This class only adds RAII, Status errors and per-message callbacks.
//
// Lifecycle: Create() -> Produce()* with Poll()/Flush() to receive delivery reports -> destroy.
// If IsFatal() becomes true (or a report's status satisfies kafka::IsFatal), the instance will
// never deliver again: destroy it and Create() a new one. The destructor purges what is still
// queued or in flight and invokes those callbacks with a retryable status, so every accepted
// message gets exactly one callback; destroy the Producer before the state its callbacks use.
//
// Threading: Produce, Poll, Flush, IsFatal, FatalError, PartitionCount and QueryWatermarks may
// be called from any thread. Delivery callbacks and ClientConfig::on_error run on the thread
// calling Poll or Flush (or the destructor), one at a time if only one thread polls.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/kafka/client.h"
#include "pkg/kafka/client_internal.h"

namespace coffer::kafka {

struct ProducerConfig : ClientConfig {
  // enable.idempotence=true and acks=all (no duplicates or reordering on retries, writes
  // survive a broker loss). Turn off only in tests of non-idempotent behaviour.
  bool idempotent = true;
};

// What to produce. Key, value and headers are copied; the record may be discarded after
// Produce returns.
struct ProducerRecord {
  std::string topic;
  // Chosen by the caller (Coffer derives it from the space id); kAnyPartition lets librdkafka
  // hash the key.
  int32_t partition = kAnyPartition;
  // nullopt sends a null key.
  std::optional<std::string> key;
  // An empty value is sent as null.
  std::string value;
  std::vector<Header> headers;
};

// Outcome of one message. On success `partition`/`offset` tell where it was written. On failure
// `status` is classified as in errors.h: retryable ones (timeouts, brokers down, purged at
// destruction) may or may not have been written, so owners resend (consumers must be
// idempotent, which Coffer's merge is).
struct DeliveryReport {
  absl::Status status;
  std::string topic;
  int32_t partition = kAnyPartition;
  int64_t offset = -1;
};

// Runs exactly once per message Produce() accepted, on the thread in Poll, Flush or the
// destructor. Keep it short: the reports after it wait.
using DeliveryCallback = std::function<void(const DeliveryReport& report)>;

class Producer {
 public:
  // Creates the client; it connects lazily. INVALID_ARGUMENT for bad properties.
  static absl::StatusOr<std::unique_ptr<Producer>> Create(const ProducerConfig& config);

  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues `record` asynchronously. OK means librdkafka accepted it and `on_delivery` (may be
  // empty) will be invoked exactly once from Poll/Flush/the destructor. On error nothing was
  // enqueued and the callback is never invoked: RESOURCE_EXHAUSTED when the local queue is full
  // (Poll, then retry), NOT_FOUND for an unknown partition, INVALID_ARGUMENT for a message over
  // message.max.bytes, a fatal status when the producer is unusable.
  absl::Status Produce(const ProducerRecord& record, DeliveryCallback on_delivery);

  // Serves delivery reports and errors, waiting up to `timeout` for the first one. Returns the
  // number of events served.
  int Poll(std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  // Polls until every enqueued message has been reported or `timeout` passes.
  // DEADLINE_EXCEEDED if messages are still outstanding (their callbacks come later).
  absl::Status Flush(std::chrono::milliseconds timeout);

  // Messages enqueued or in flight whose callbacks have not run yet.
  int OutstandingCount() const;

  // True once librdkafka raised a fatal error: recreate the producer.
  bool IsFatal() const;
  // The fatal error as a Status (IsFatal(status) holds), or OK.
  absl::Status FatalError() const;

  // Number of partitions of `topic` from cluster metadata; NOT_FOUND if it does not exist.
  absl::StatusOr<int> PartitionCount(const std::string& topic,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Low/high watermarks of one partition, asked of its leader.
  absl::StatusOr<Watermarks> QueryWatermarks(
      const std::string& topic, int32_t partition,
      std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // The underlying handle, for librdkafka features not wrapped here. Owned by this object.
  rd_kafka_t* handle() const { return rk_.get(); }

 private:
  Producer() = default;

  // Declared first so it outlives rk_, whose callbacks reach it.
  std::unique_ptr<internal::CallbackContext> context_;
  internal::KafkaHandle rk_;
};

}  // namespace coffer::kafka
