// OutboxRelay: publishes this shard's local writes (outbox rows) to the change topic
// (DESIGN.md §4). One replica per shard leads (pkg/postgres LeaderLock
// "coffer.vault.outbox_relay"); the others stand by and take over when the leader's session
// ends.
//
// The leader is woken by the replica's ChangeNotifier (in-process for local writes, via
// LISTEN/NOTIFY for writes committed on the other replicas) and also polls every
// `poll_interval`; without a notifier it only polls. It reads outbox rows oldest first, produces
// one ChangeEvent per row (key `origin|space|record`, partition = PartitionForSpace), waits for the
// acknowledgements (idempotent producer, acks=all) and deletes exactly the rows Kafka confirmed.
// Rows whose delivery failed stay and are sent again (consumers merge idempotently). A fatal
// producer error recreates the producer.
//
// Lifecycle: Start() spawns the thread; Stop() (or the destructor) ends it within about
// `poll_interval` and releases leadership. Threading: is_leader() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "pkg/kafka/producer.h"
#include "services/vault/repository/pg_sync_repository.h"
#include "services/vault/sync/change_notifier.h"
#include "services/vault/sync/sync_metrics.h"

namespace coffer::vault::sync {

struct OutboxRelayOptions {
  std::string shard_id;
  std::string topic = "coffer.vault.changes.v1";
  std::string db_dsn;  // secret: never logged
  kafka::ProducerConfig producer;
  int batch_size = 500;
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds delivery_timeout{15000};
};

class OutboxRelay {
 public:
  // `notifier` (may be null: poll only) must outlive the relay and should be started first.
  OutboxRelay(OutboxRelayOptions options, repository::PgSyncRepository& repo, SyncMetrics& metrics,
              ChangeNotifier* notifier = nullptr);
  ~OutboxRelay();

  void Start();
  void Stop();
  bool is_leader() const { return leader_.load(); }

 private:
  void Run();

  const OutboxRelayOptions options_;
  repository::PgSyncRepository& repo_;
  SyncMetrics& metrics_;
  ChangeNotifier* const notifier_;
  std::atomic<bool> leader_{false};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace coffer::vault::sync
