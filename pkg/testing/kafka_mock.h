// KafkaMockCluster: librdkafka's in-process mock Kafka cluster, for tests and the dev broker.
//
// Why: tests need a real Kafka wire protocol (produce/fetch, keys, headers, idempotent producer,
// several partitions) plus fault injection, without a JVM. The brokers listen on 127.0.0.1 at
// ports the OS picks, so other rd_kafka_t instances — in this process or in another one — reach
// them through bootstrap_servers(). librdkafka 2.0.2 cannot choose the ports.
//
// Limits (DESIGN §9): no Admin API (create topics with CreateTopic), no compaction, data in
// memory only, at most ~5 MiB / 100k batches kept per partition (older data silently dropped:
// check low watermarks), group rejoins wait the session timeout (use manual assignment).
//
// Lifecycle: Create() -> use -> destroy (stops the brokers; connected clients see transport
// errors). Threading: every method may be called from any thread.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace coffer::testing {

// Kafka protocol request types (ApiKey) for error injection.
enum class KafkaApi : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kFindCoordinator = 10,
  kInitProducerId = 22,
};

class KafkaMockCluster {
 public:
  // Starts `broker_count` (>= 1) brokers with ids 1..broker_count.
  static absl::StatusOr<std::unique_ptr<KafkaMockCluster>> Create(int broker_count = 1);

  ~KafkaMockCluster();
  KafkaMockCluster(const KafkaMockCluster&) = delete;
  KafkaMockCluster& operator=(const KafkaMockCluster&) = delete;

  // "127.0.0.1:port,..." for ClientConfig::bootstrap_servers.
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  int broker_count() const { return broker_count_; }

  // Creates `name` with `partitions` partitions (replication factor 1, leaders spread over the
  // brokers).
  absl::Status CreateTopic(const std::string& name, int partitions);

  // A down broker closes its connections and refuses requests until SetBrokerUp.
  absl::Status SetBrokerDown(int32_t broker_id);
  absl::Status SetBrokerUp(int32_t broker_id);
  // Delays every response of `broker_id` by `rtt_ms` (0 = none).
  absl::Status SetRtt(int32_t broker_id, int rtt_ms);
  // Moves the leadership of one partition (e.g. to a broker that is down).
  absl::Status SetPartitionLeader(const std::string& topic, int32_t partition, int32_t broker_id);

  // The next errors.size() requests of `api` (to any broker) fail with these errors, in order.
  // RD_KAFKA_RESP_ERR__TRANSPORT makes the broker drop the connection instead.
  void PushRequestErrors(KafkaApi api, const std::vector<rd_kafka_resp_err_t>& errors);
  // PushRequestErrors for produce requests.
  void PushProduceErrors(const std::vector<rd_kafka_resp_err_t>& errors);
  // Per broker: the next requests of `api` answer after a delay of `second` ms, with error
  // `first` (NO_ERROR for a successful, merely late answer — e.g. a produce that is written but
  // whose acknowledgement arrives after the client's timeout).
  absl::Status PushBrokerErrorRtts(
      int32_t broker_id, KafkaApi api,
      const std::vector<std::pair<rd_kafka_resp_err_t, int>>& errors_and_rtts_ms);
  // Drops errors queued by PushRequestErrors for `api`.
  void ClearRequestErrors(KafkaApi api);

  // The raw mock cluster, for librdkafka mock functions not wrapped here.
  rd_kafka_mock_cluster_t* handle() const { return cluster_; }

 private:
  KafkaMockCluster() = default;

  rd_kafka_t* rk_ = nullptr;  // owns the mock cluster's threads; destroyed after it
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_servers_;
  int broker_count_ = 0;
};

}  // namespace coffer::testing
