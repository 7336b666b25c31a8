// ShardReporter: this replica's view of its shard's replication, for AdminService
// (ShardStatusSource: GetShardStatus, ExportSnapshot) and the admin server's /replicationz
// checks.
//
// Positions come from the database (consumer_offsets), so every replica reports them, not only
// the consumer's leader; where Kafka is reachable each partition also gets its high watermark
// and lag (bounded waits: 2 s for the topic's metadata, 1 s per partition's watermarks, and no
// further waiting after the first partition that does not answer).
//
// Lifecycle: borrows everything; all must outlive it. Threading: thread-safe.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "pkg/kafka/consumer.h"
#include "services/vault/repository/record_repository.h"
#include "services/vault/repository/sync_stores.h"
#include "services/vault/sync/change_consumer.h"
#include "services/vault/sync/outbox_relay.h"
#include "services/vault/sync/shard_status.h"

namespace coffer::vault::sync {

// What ShardReporter reads. The relay, the consumer and the Kafka probe are null when the shard
// runs alone (no --kafka-bootstrap).
struct ShardReporterSources {
  std::string shard_id;
  std::string topic;
  repository::RecordRepository& records;   // outbox backlog
  repository::ReplicaStateStore& offsets;  // stored consumer positions
  repository::SnapshotStore& snapshots;
  const OutboxRelay* relay = nullptr;
  const ChangeConsumer* consumer = nullptr;
  kafka::Consumer* probe = nullptr;  // topic metadata and watermarks
};

class ShardReporter final : public ShardStatusSource {
 public:
  explicit ShardReporter(ShardReporterSources sources) : s_(std::move(sources)) {}

  ShardStatus Status() override;
  absl::Status ExportSnapshot(SnapshotWriter write) override;

  // /replicationz "consumer": UNAVAILABLE naming the reason while the change consumer refuses to
  // resume (log truncated under it and no recovery); OK without a consumer.
  absl::Status ConsumerHealth() const;
  // /replicationz "kafka": OK when the change topic's metadata can be read within 2 s, else why
  // not; OK without Kafka.
  absl::Status KafkaHealth();

 private:
  const ShardReporterSources s_;
};

}  // namespace coffer::vault::sync
