// Pieces shared by producer.cc and consumer.cc; not part of the public API.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "pkg/kafka/client.h"

namespace coffer::kafka::internal {

// Owning handles of librdkafka objects. Destroying a client handle blocks until librdkafka's
// threads for it have stopped.
struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfHandle = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// The object every librdkafka callback reaches through rd_kafka_opaque(). Owned by the client,
// outlives its rd_kafka_t.
struct CallbackContext {
  int log_level = kLogCritical;
  LogSink log_sink;
  ErrorSink on_error;
};

// Builds a configuration with `defaults` then `config.properties` applied, wired to `context`
// (log and error callbacks). INVALID_ARGUMENT names a bad property (never its value, which may
// be a password).
absl::StatusOr<ConfHandle> BuildConf(const ClientConfig& config,
                                     const std::map<std::string, std::string>& defaults,
                                     CallbackContext* context);

// Creates the client; takes ownership of `conf` only on success (rd_kafka_new's contract).
absl::StatusOr<KafkaHandle> NewClient(rd_kafka_type_t type, ConfHandle conf);

// Consumer/Producer::PartitionCount: asks for the metadata of all topics, so that asking never
// creates `topic`; NOT_FOUND when it does not exist.
absl::StatusOr<int> PartitionCount(rd_kafka_t* rk, const std::string& topic,
                                   std::chrono::milliseconds timeout);

// Consumer/Producer::QueryWatermarks: asks the partition's leader.
absl::StatusOr<Watermarks> QueryWatermarks(rd_kafka_t* rk, const std::string& topic,
                                           int32_t partition, std::chrono::milliseconds timeout);

// `timeout` as librdkafka's int milliseconds: negative gives 0, beyond INT_MAX gives INT_MAX.
int TimeoutMs(std::chrono::milliseconds timeout);

}  // namespace coffer::kafka::internal
