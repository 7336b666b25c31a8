// OutboxRelay: publishes this shard's local writes (outbox rows) to the change topic
// (docs/architecture.md §4). One replica per shard leads (LeaderLoop, role "relay"; in production
// the advisory lock "coffer.vault.outbox_relay"); the others stand by and take over when the
// leader's session ends.
//
// One leader round: confirm leadership; make sure a producer exists; publish a progress marker
// when due; publish a few queued blobs when due; publish queued membership changes
// (PublishSpaceChanges); read a batch of outbox rows and publish it (PublishBatch), or, with
// nothing to do, wait for a local write (WaitForWrites).
//
// The leader is woken by the replica's ChangeNotifier (in-process for local writes, via
// LISTEN/NOTIFY for writes committed on the other replicas) and also polls every
// `poll_interval`; without a notifier it only polls. It reads outbox rows oldest first, produces
// one ChangeEvent per row (key `origin|space|record`, partition = PartitionForSpace), waits for the
// acknowledgements (idempotent producer, acks=all) and deletes exactly the rows Kafka confirmed.
// Rows whose delivery failed stay and are sent again (consumers merge idempotently). A row Kafka
// refuses for good (INVALID_ARGUMENT: over message.max.bytes, invalid) is moved to the dead
// letters (V008) with the cause logged and counted, so no row blocks the rows behind it. A
// fatal producer error recreates the producer. Every event carries a MAC (event_auth.h).
//
// Blobs (FileService, V007): the leader also publishes queued blobs, a few per round, one
// ChangeEvent.blob_chunk per chunk (key `blob|<blob_id>`, the partition of its space), and
// deletes a blob's queue row once every chunk was acknowledged. It looks at the blob queue every
// round while that yields blobs and otherwise at most every 200 ms, so the record path does not
// pay an empty query per round; a blob therefore leaves within about 200 ms.
//
// Progress markers: every `progress_interval` the leader also publishes this shard's settled
// consumer offsets (events.proto ShardProgress) to every partition. Offsets are "settled" once
// every outbox row that existed when they were read has been acknowledged and deleted, i.e. every
// local write the shard had committed when it had applied that far precedes the marker in each
// partition. Snapshots wait in memory until they settle (a new leader starts over).
//
// Lifecycle: Start() spawns the thread; Stop() (or the destructor) ends it within about
// `poll_interval` and releases leadership. Threading: is_leader() from any thread.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pkg/kafka/producer.h"
#include "services/vault/repository/sync_stores.h"
#include "services/vault/sync/change_notifier.h"
#include "services/vault/sync/event_auth.h"
#include "services/vault/sync/leader_loop.h"
#include "services/vault/sync/sync_metrics.h"

namespace coffer::vault::sync {

struct OutboxRelayOptions {
  std::string shard_id;
  std::string topic = "coffer.vault.changes.v1";
  kafka::ProducerConfig producer;
  int batch_size = 500;
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds delivery_timeout{15000};
  // Signs every event (required; must outlive the relay).
  const EventAuthenticator* auth = nullptr;
  // How often the leader publishes a progress marker to every partition (tombstone GC horizon,
  // README "Tombstone GC"); 0 = never.
  std::chrono::milliseconds progress_interval{0};
};

class OutboxRelay {
 public:
  // `store` and `notifier` (may be null: poll only) must outlive the relay; start the notifier
  // first. `leadership` decides which replica leads (PgLeadership in production).
  OutboxRelay(OutboxRelayOptions options, repository::OutboxStore& store,
              std::unique_ptr<Leadership> leadership, SyncMetrics& metrics,
              ChangeNotifier* notifier = nullptr);
  ~OutboxRelay();

  void Start();
  void Stop();
  bool is_leader() const { return loop_.is_leader(); }

 private:
  // One leader round (see the top of this file).
  void Round();
  // Leadership lost or given up: a new leader (maybe another replica) starts over.
  void Reset();
  // A producer and the topic's partition count; false (logged) when Kafka is not reachable.
  bool EnsureProducer();
  // Produces one batch of outbox rows, deletes the rows Kafka acknowledged and moves the rows it
  // refused for good to the dead letters.
  void PublishBatch(const std::vector<repository::OutboxEntry>& batch);
  // Nothing to publish: waits until a local write (notifier generation past `generation`), the
  // next progress marker or blob check is due, or `poll_interval` passed.
  void WaitForWrites(uint64_t generation);
  // Reads a progress snapshot, settles the pending ones and publishes the newest settled
  // offsets to every partition. False when nothing was published.
  bool PublishProgress();
  // Publishes a few queued blobs (V007), chunk by chunk, deleting each one's queue row once
  // Kafka acknowledged all of its chunks. Returns how many blobs it published, or an error when
  // a delivery failed (the blob is sent again later; consumers store chunks idempotently).
  absl::StatusOr<int> PublishBlobs();
  // Publishes queued register writes of shared spaces (V010), deleting those Kafka
  // acknowledged. False when a delivery failed (the rest is sent again next round).
  bool PublishSpaceChanges();

  // A record for the change topic, signed (event_auth.h).
  kafka::ProducerRecord Signed(int32_t partition, std::string key, std::string value) const;
  // The signed event of an outbox row.
  kafka::ProducerRecord EventRecord(const repository::StoredRevision& revision) const;
  // Moves an outbox row Kafka refused for good (`why`) to the dead letters, so the rows behind
  // it flow on; logs the cause and counts it.
  void DeadLetter(const repository::OutboxEntry& entry, const absl::Status& why);

  const OutboxRelayOptions options_;
  repository::OutboxStore& store_;
  SyncMetrics& metrics_;
  ChangeNotifier* const notifier_;

  // Leader state: only the loop thread touches it.
  std::unique_ptr<kafka::Producer> producer_;
  int partitions_ = 0;
  std::chrono::steady_clock::time_point next_progress_;
  std::chrono::steady_clock::time_point next_blob_check_;
  // Progress snapshots not yet settled (outbox_seq_last, applied offsets), oldest first.
  std::deque<std::pair<int64_t, std::map<int32_t, int64_t>>> unsettled_;

  LeaderLoop loop_;  // last: its thread uses everything above
};

}  // namespace coffer::vault::sync
