#include <cstdio>
#include <limits>
#include <string>
#include <utility>

#include "pkg/kafka/client_internal.h"
#include "pkg/kafka/errors.h"

namespace coffer::kafka::internal {
namespace {

void LogCallback(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  auto* context = static_cast<CallbackContext*>(rd_kafka_opaque(rk));
  if (context == nullptr || level > context->log_level) return;
  if (context->log_sink) {
    context->log_sink(level, facility, message);
  } else {
    std::fprintf(stderr, "rdkafka %s: %s\n", facility, message);
  }
}

void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* context = static_cast<CallbackContext*>(opaque);
  if (context == nullptr || !context->on_error) return;
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    // The real cause is kept by librdkafka; report it instead of the generic _FATAL.
    char text[512] = {};
    rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk, text, sizeof(text));
    context->on_error(ToStatus(cause, /*is_fatal=*/true, "kafka client", text));
    return;
  }
  context->on_error(ToStatus(code, /*is_fatal=*/false, "kafka client", reason));
}

absl::Status Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char errstr[512] = {};
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK) {
    // errstr may quote the value; name the property only.
    return absl::InvalidArgumentError("invalid kafka client property \"" + name + "\"");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ConfHandle> BuildConf(const ClientConfig& config,
                                     const std::map<std::string, std::string>& defaults,
                                     CallbackContext* context) {
  ConfHandle conf(rd_kafka_conf_new());
  context->log_level = config.log_level;
  context->log_sink = config.log_sink;
  context->on_error = config.on_error;
  rd_kafka_conf_set_opaque(conf.get(), context);
  rd_kafka_conf_set_log_cb(conf.get(), &LogCallback);
  rd_kafka_conf_set_error_cb(conf.get(), &ErrorCallback);

  auto level = std::to_string(config.log_level < 0 ? 0 : config.log_level);
  if (auto s = Set(conf.get(), "log_level", level); !s.ok()) return s;
  if (!config.bootstrap_servers.empty()) {
    if (auto s = Set(conf.get(), "bootstrap.servers", config.bootstrap_servers); !s.ok()) {
      return s;
    }
  }
  if (auto s = Set(conf.get(), "client.id", config.client_id); !s.ok()) return s;
  for (const auto& [name, value] : defaults) {
    if (auto s = Set(conf.get(), name, value); !s.ok()) return s;
  }
  for (const auto& [name, value] : config.properties) {
    if (auto s = Set(conf.get(), name, value); !s.ok()) return s;
  }
  return conf;
}

absl::StatusOr<KafkaHandle> NewClient(rd_kafka_type_t type, ConfHandle conf) {
  char errstr[512] = {};
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof(errstr));
  if (rk == nullptr) {
    // On failure librdkafka leaves conf with the caller; the handle destroys it.
    return absl::InvalidArgumentError(std::string("creating kafka client: ") + errstr);
  }
  static_cast<void>(conf.release());  // rk owns and destroys conf from here on
  return KafkaHandle(rk);
}

int TimeoutMs(std::chrono::milliseconds timeout) {
  if (timeout.count() < 0) return 0;
  if (timeout.count() > std::numeric_limits<int>::max()) return std::numeric_limits<int>::max();
  return static_cast<int>(timeout.count());
}

absl::StatusOr<int> PartitionCount(rd_kafka_t* rk, const std::string& topic,
                                   std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* metadata = nullptr;
  // all_topics=1 so asking never auto-creates the topic.
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &metadata, TimeoutMs(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ToStatus(err, false, "reading metadata for topic " + topic);
  }
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> guard(
      metadata, &rd_kafka_metadata_destroy);
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[i];
    if (topic != t.topic) continue;
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return ToStatus(t.err, false, "reading metadata for topic " + topic);
    }
    return t.partition_cnt;
  }
  return absl::NotFoundError("kafka topic " + topic + " does not exist");
}

absl::StatusOr<Watermarks> QueryWatermarks(rd_kafka_t* rk, const std::string& topic,
                                           int32_t partition, std::chrono::milliseconds timeout) {
  Watermarks marks;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
      rk, topic.c_str(), partition, &marks.low, &marks.high, TimeoutMs(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ToStatus(err, false,
                    "querying watermarks of " + topic + " [" + std::to_string(partition) + "]");
  }
  return marks;
}

}  // namespace coffer::kafka::internal
