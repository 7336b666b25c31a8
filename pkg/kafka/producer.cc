#include "pkg/kafka/producer.h"

#include <map>
#include <string>
#include <utility>

#include "pkg/kafka/errors.h"

namespace coffer::kafka {
namespace {

// Delivery report callback: runs on the polling thread, once per message.
void DeliveryReportCallback(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* /*opaque*/) {
  std::unique_ptr<DeliveryCallback> callback(static_cast<DeliveryCallback*>(msg->_private));
  if (callback == nullptr || !*callback) return;
  DeliveryReport report;
  report.topic = msg->rkt != nullptr ? rd_kafka_topic_name(msg->rkt) : "";
  report.partition = msg->partition;
  report.offset = msg->offset;
  if (msg->err == RD_KAFKA_RESP_ERR__FATAL) {
    char text[512] = {};
    rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk, text, sizeof(text));
    report.status = ToStatus(cause, /*is_fatal=*/true, "delivering to " + report.topic, text);
  } else if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    report.status = ToStatus(msg->err, /*is_fatal=*/false, "delivering to " + report.topic);
  }
  (*callback)(report);
}

struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* headers) const { rd_kafka_headers_destroy(headers); }
};

}  // namespace

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(const ProducerConfig& config) {
  std::unique_ptr<Producer> producer(new Producer());
  producer->context_ = std::make_unique<internal::CallbackContext>();
  std::map<std::string, std::string> defaults;
  if (config.idempotent) {
    defaults["enable.idempotence"] = "true";
    defaults["acks"] = "all";
  }
  auto conf = internal::BuildConf(config, defaults, producer->context_.get());
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &DeliveryReportCallback);
  auto rk = internal::NewClient(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!rk.ok()) return rk.status();
  producer->rk_ = std::move(*rk);
  return producer;
}

Producer::~Producer() {
  if (rk_ == nullptr) return;
  // Hand every outstanding message back to its callback (as _PURGE_QUEUE/_PURGE_INFLIGHT,
  // retryable) instead of leaking callbacks or blocking on unreachable brokers.
  rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  for (int i = 0; i < 100 && rd_kafka_outq_len(rk_.get()) > 0; ++i) {
    rd_kafka_poll(rk_.get(), 10);
  }
  rd_kafka_poll(rk_.get(), 0);
  rk_.reset();
}

absl::Status Producer::Produce(const ProducerRecord& record, DeliveryCallback on_delivery) {
  std::unique_ptr<rd_kafka_headers_t, HeadersDeleter> headers;
  if (!record.headers.empty()) {
    headers.reset(rd_kafka_headers_new(record.headers.size()));
    for (const Header& h : record.headers) {
      rd_kafka_header_add(headers.get(), h.key.data(), static_cast<ssize_t>(h.key.size()),
                          h.value.data(), static_cast<ssize_t>(h.value.size()));
    }
  }
  auto callback = std::make_unique<DeliveryCallback>(std::move(on_delivery));
  const void* key = record.key.has_value() ? record.key->data() : nullptr;
  size_t key_size = record.key.has_value() ? record.key->size() : 0;
  const void* value = record.value.empty() ? nullptr : record.value.data();

  rd_kafka_resp_err_t err;
  if (headers != nullptr) {
    err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(record.topic.c_str()), RD_KAFKA_V_PARTITION(record.partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(const_cast<void*>(key), key_size),
        RD_KAFKA_V_VALUE(const_cast<void*>(value), record.value.size()),
        RD_KAFKA_V_HEADERS(headers.get()), RD_KAFKA_V_OPAQUE(callback.get()), RD_KAFKA_V_END);
  } else {
    err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(record.topic.c_str()), RD_KAFKA_V_PARTITION(record.partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(const_cast<void*>(key), key_size),
        RD_KAFKA_V_VALUE(const_cast<void*>(value), record.value.size()),
        RD_KAFKA_V_OPAQUE(callback.get()), RD_KAFKA_V_END);
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (err == RD_KAFKA_RESP_ERR__FATAL) return FatalError();
    return ToStatus(err, false, "producing to " + record.topic);
  }
  // On success librdkafka owns the headers and our callback travels as the message opaque.
  (void)headers.release();
  (void)callback.release();
  return absl::OkStatus();
}

int Producer::Poll(std::chrono::milliseconds timeout) {
  return rd_kafka_poll(rk_.get(), internal::TimeoutMs(timeout));
}

absl::Status Producer::Flush(std::chrono::milliseconds timeout) {
  rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), internal::TimeoutMs(timeout));
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    return absl::DeadlineExceededError(
        "flushing kafka producer: " + std::to_string(OutstandingCount()) +
        " messages still outstanding");
  }
  return ToStatus(err, false, "flushing kafka producer");
}

int Producer::OutstandingCount() const { return rd_kafka_outq_len(rk_.get()); }

bool Producer::IsFatal() const {
  return rd_kafka_fatal_error(rk_.get(), nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

absl::Status Producer::FatalError() const {
  char text[512] = {};
  rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk_.get(), text, sizeof(text));
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  return ToStatus(err, /*is_fatal=*/true, "kafka producer", text);
}

absl::StatusOr<int> Producer::PartitionCount(const std::string& topic,
                                             std::chrono::milliseconds timeout) {
  return internal::PartitionCount(rk_.get(), topic, timeout);
}

absl::StatusOr<Watermarks> Producer::QueryWatermarks(const std::string& topic, int32_t partition,
                                                     std::chrono::milliseconds timeout) {
  return internal::QueryWatermarks(rk_.get(), topic, partition, timeout);
}

}  // namespace coffer::kafka
