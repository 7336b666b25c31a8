#include "pkg/kafka/consumer.h"

#include <map>
#include <string>
#include <utility>

#include "pkg/kafka/errors.h"

namespace coffer::kafka {
namespace {

struct MessageDeleter {
  void operator()(rd_kafka_message_t* msg) const { rd_kafka_message_destroy(msg); }
};

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};

std::string Where(const rd_kafka_message_t& msg) {
  std::string where = "consuming";
  if (msg.rkt != nullptr) {
    where += std::string(" ") + rd_kafka_topic_name(msg.rkt) + " [" +
             std::to_string(msg.partition) + "] at offset " + std::to_string(msg.offset);
  }
  return where;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(const ConsumerConfig& config) {
  std::unique_ptr<Consumer> consumer(new Consumer());
  consumer->context_ = std::make_unique<internal::CallbackContext>();
  const std::map<std::string, std::string> defaults = {
      // rd_kafka_assign needs a group handle; the group is never joined (no subscribe) and no
      // offsets are committed, so the id only has to be well-formed.
      {"group.id", "coffer-manual-assign." + config.client_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"auto.offset.reset", "error"},
      {"allow.auto.create.topics", "false"},
  };
  auto conf = internal::BuildConf(config, defaults, consumer->context_.get());
  if (!conf.ok()) return conf.status();
  // Client-level errors are returned by rd_kafka_consumer_poll as messages; no error_cb.
  rd_kafka_conf_set_error_cb(conf->get(), nullptr);
  auto rk = internal::NewClient(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk.ok()) return rk.status();
  consumer->rk_ = std::move(*rk);
  // Route the main queue (errors, logs kept on it) to the consumer queue served by Poll.
  rd_kafka_poll_set_consumer(consumer->rk_.get());
  return consumer;
}

Consumer::~Consumer() {
  if (rk_ == nullptr) return;
  rd_kafka_consumer_close(rk_.get());
  rk_.reset();
}

absl::Status Consumer::Assign(const std::vector<TopicPartitionOffset>& partitions) {
  std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter> list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const TopicPartitionOffset& tp : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset =
        tp.offset;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk_.get(), list.get());
  return ToStatus(err, false, "assigning kafka partitions");
}

absl::StatusOr<std::optional<Message>> Consumer::Poll(std::chrono::milliseconds timeout) {
  std::unique_ptr<rd_kafka_message_t, MessageDeleter> msg(
      rd_kafka_consumer_poll(rk_.get(), internal::TimeoutMs(timeout)));
  if (msg == nullptr) return std::nullopt;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* detail = rd_kafka_message_errstr(msg.get());
    if (msg->err == RD_KAFKA_RESP_ERR__FATAL) {
      char text[512] = {};
      rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk_.get(), text, sizeof(text));
      return ToStatus(cause, /*is_fatal=*/true, Where(*msg), text);
    }
    return ToStatus(msg->err, false, Where(*msg), detail != nullptr ? detail : "");
  }
  Message out;
  out.topic = rd_kafka_topic_name(msg->rkt);
  out.partition = msg->partition;
  out.offset = msg->offset;
  if (msg->key != nullptr) {
    out.key.emplace(static_cast<const char*>(msg->key), msg->key_len);
  }
  if (msg->payload != nullptr) {
    out.value.assign(static_cast<const char*>(msg->payload), msg->len);
  }
  rd_kafka_headers_t* headers = nullptr;  // owned by the message
  if (rd_kafka_message_headers(msg.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      Header h;
      h.key = name;
      if (value != nullptr) h.value.assign(static_cast<const char*>(value), size);
      out.headers.push_back(std::move(h));
    }
  }
  rd_kafka_timestamp_type_t ts_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  int64_t ts = rd_kafka_message_timestamp(msg.get(), &ts_type);
  out.timestamp_ms = ts_type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts;
  return std::optional<Message>(std::move(out));
}

absl::StatusOr<Watermarks> Consumer::QueryWatermarks(const std::string& topic, int32_t partition,
                                                     std::chrono::milliseconds timeout) {
  return internal::QueryWatermarks(rk_.get(), topic, partition, timeout);
}

absl::StatusOr<int> Consumer::PartitionCount(const std::string& topic,
                                             std::chrono::milliseconds timeout) {
  return internal::PartitionCount(rk_.get(), topic, timeout);
}

}  // namespace coffer::kafka
