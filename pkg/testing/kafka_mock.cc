#include "pkg/testing/kafka_mock.h"

#include <librdkafka/rdkafka_mock.h>

#include <string>

#include "pkg/kafka/errors.h"

namespace coffer::testing {
namespace {

absl::Status Check(rd_kafka_resp_err_t err, const std::string& what) {
  return kafka::ToStatus(err, false, "kafka mock cluster: " + what);
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaMockCluster>> KafkaMockCluster::Create(int broker_count) {
  if (broker_count < 1) {
    return absl::InvalidArgumentError("kafka mock cluster needs at least one broker");
  }
  std::unique_ptr<KafkaMockCluster> mock(new KafkaMockCluster());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512] = {};
  // This handle only hosts the cluster; keep its own logging quiet.
  rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof(errstr));
  mock->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (mock->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(std::string("kafka mock cluster: creating handle: ") + errstr);
  }
  mock->cluster_ = rd_kafka_mock_cluster_new(mock->rk_, broker_count);
  if (mock->cluster_ == nullptr) {
    return absl::InternalError("kafka mock cluster: rd_kafka_mock_cluster_new failed");
  }
  mock->bootstrap_servers_ = rd_kafka_mock_cluster_bootstraps(mock->cluster_);
  mock->broker_count_ = broker_count;
  return mock;
}

KafkaMockCluster::~KafkaMockCluster() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

absl::Status KafkaMockCluster::CreateTopic(const std::string& name, int partitions) {
  return Check(rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1),
               "creating topic " + name);
}

absl::Status KafkaMockCluster::SetBrokerDown(int32_t broker_id) {
  return Check(rd_kafka_mock_broker_set_down(cluster_, broker_id),
               "setting broker " + std::to_string(broker_id) + " down");
}

absl::Status KafkaMockCluster::SetBrokerUp(int32_t broker_id) {
  return Check(rd_kafka_mock_broker_set_up(cluster_, broker_id),
               "setting broker " + std::to_string(broker_id) + " up");
}

absl::Status KafkaMockCluster::SetRtt(int32_t broker_id, int rtt_ms) {
  return Check(rd_kafka_mock_broker_set_rtt(cluster_, broker_id, rtt_ms),
               "setting rtt of broker " + std::to_string(broker_id));
}

absl::Status KafkaMockCluster::SetPartitionLeader(const std::string& topic, int32_t partition,
                                                  int32_t broker_id) {
  return Check(rd_kafka_mock_partition_set_leader(cluster_, topic.c_str(), partition, broker_id),
               "setting leader of " + topic + " [" + std::to_string(partition) + "]");
}

void KafkaMockCluster::PushRequestErrors(KafkaApi api,
                                         const std::vector<rd_kafka_resp_err_t>& errors) {
  if (errors.empty()) return;
  rd_kafka_mock_push_request_errors_array(cluster_, static_cast<int16_t>(api), errors.size(),
                                          errors.data());
}

void KafkaMockCluster::PushProduceErrors(const std::vector<rd_kafka_resp_err_t>& errors) {
  PushRequestErrors(KafkaApi::kProduce, errors);
}

absl::Status KafkaMockCluster::PushBrokerErrorRtts(
    int32_t broker_id, KafkaApi api,
    const std::vector<std::pair<rd_kafka_resp_err_t, int>>& errors_and_rtts_ms) {
  // The C function is variadic; push one tuple at a time (each is appended to the stack).
  for (const auto& [err, rtt_ms] : errors_and_rtts_ms) {
    rd_kafka_resp_err_t result = rd_kafka_mock_broker_push_request_error_rtts(
        cluster_, broker_id, static_cast<int16_t>(api), 1, err, rtt_ms);
    if (result != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Check(result, "pushing errors to broker " + std::to_string(broker_id));
    }
  }
  return absl::OkStatus();
}

void KafkaMockCluster::ClearRequestErrors(KafkaApi api) {
  rd_kafka_mock_clear_request_errors(cluster_, static_cast<int16_t>(api));
}

}  // namespace coffer::testing
