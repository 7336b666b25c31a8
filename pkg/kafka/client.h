// Settings and value types shared by Producer and Consumer.
//
// ClientConfig carries what every librdkafka client needs: bootstrap servers, a client id,
// extra librdkafka properties (see librdkafka's CONFIGURATION.md) and where its log lines and
// client-level errors go. librdkafka logs are quiet by default (only LOG_CRIT and worse reach
// stderr); errors such as "all brokers down" are reported as Status through `on_error` instead,
// so owners decide how to log them (never with message contents).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace coffer::kafka {

// Let the partitioner choose (by key hash; random for a null key).
inline constexpr int32_t kAnyPartition = -1;
// Special start offsets for Consumer::Assign (librdkafka's RD_KAFKA_OFFSET_*).
inline constexpr int64_t kOffsetBeginning = -2;
inline constexpr int64_t kOffsetEnd = -1;

// Syslog levels used by librdkafka's log callback.
inline constexpr int kLogCritical = 2;
inline constexpr int kLogError = 3;
inline constexpr int kLogWarning = 4;
inline constexpr int kLogInfo = 6;
inline constexpr int kLogDebug = 7;

// Receives librdkafka log lines. Called from librdkafka's internal threads, so it must be
// thread-safe. `level` is a syslog level, `facility` a short librdkafka tag ("FAIL", "BROKER").
using LogSink =
    std::function<void(int level, const std::string& facility, const std::string& message)>;

// Receives client-level errors (broker connections failing, all brokers down, fatal errors)
// converted with ToStatus. Called from the thread running Producer::Poll/Flush (for a
// Consumer, from Consumer::Poll), never concurrently with itself for one client.
using ErrorSink = std::function<void(const absl::Status& status)>;

// What every client is built with; ProducerConfig and ConsumerConfig derive from it.
struct ClientConfig {
  // Comma-separated host:port list, e.g. "127.0.0.1:9092".
  std::string bootstrap_servers;
  // librdkafka's client.id: names this client in broker logs and quotas (and in a Consumer's
  // group.id).
  std::string client_id = "coffer";
  // Extra librdkafka properties applied after Coffer's defaults, so they override them
  // (e.g. {"message.timeout.ms", "30000"}, {"debug", "broker,msg"}).
  std::map<std::string, std::string> properties;
  // Log lines at or below this syslog level are passed on; raise to kLogDebug with a "debug"
  // property to troubleshoot.
  int log_level = kLogCritical;
  // Where log lines go; writes "rdkafka <facility>: <message>" to stderr when empty.
  LogSink log_sink;
  // Optional; see ErrorSink.
  ErrorSink on_error;
};

// One Kafka record header. Header values are plain bytes.
struct Header {
  std::string key;
  std::string value;

  friend bool operator==(const Header&, const Header&) = default;
};

// A record read by a Consumer.
struct Message {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  // nullopt for a null key.
  std::optional<std::string> key;
  // Empty for a null value (tombstone).
  std::string value;
  std::vector<Header> headers;
  // Create/log-append time in milliseconds since the epoch, or -1 when the broker sent none.
  int64_t timestamp_ms = -1;
};

// Low and high watermarks of a partition: offsets [low, high) are readable. `high` is the offset
// the next record will get; `low` rises when the log is truncated (retention, or the mock
// cluster's in-memory limit), so a consumer whose next offset is below `low` missed records.
struct Watermarks {
  int64_t low = 0;
  int64_t high = 0;
};

}  // namespace coffer::kafka
