// ChangeConsumer: applies the other shards' change events to this shard
// (docs/architecture.md §3–§4). One replica per shard leads (LeaderLoop, role "consumer"; in
// production the advisory lock "coffer.vault.change_consumer").
//
// One leader round: make sure the topic is assigned at the stored offsets (Assign; refuses or
// recovers when the log was truncated under them); poll a batch and classify each event
// (PollBatch, received_event.h); confirm leadership; apply it or quarantine what fails
// (ApplyOrQuarantine); open the replication gate once joined; refresh the lag gauges.
//
// The leader assigns EVERY partition of the change topic at the offsets stored in PostgreSQL
// (consumer_offsets; 0 for a partition never read), polls batches, skips events whose origin is
// this shard (no echo), merges the rest state-based (PgSyncRepository::ApplyBatch) and stores the
// next offsets in the same transaction. Merged revisions are never written to the outbox.
//
// No event stops a partition (docs/architecture.md §4): every message is classified first
// (received_event.h: MAC, schema, content). One that fails is quarantined: stored as a dead
// letter (V008) in the transaction that moves past it, counted by kind
// (coffer_vault_consumer_events_quarantined_total) and logged with the cause. When a batch fails
// to apply for a reason retrying will not cure, its events are applied one by one: the one that
// fails alone is quarantined ("merge") and the rest apply. A transient failure (database
// unavailable, serialization failure) is retried from the stored offsets, never quarantined.
// Dead letters are listed, re-applied or discarded through AdminService.
//
// Clocks: a received HLC more than `max_clock_skew` ahead of the local clock still merges but
// is not adopted by the local clock (coffer_vault_consumer_clock_skew_ignored_total), so one
// shard with a bad clock, or a forged event, cannot drag every shard's clock forward for good.
//
// Refusing to resume: when a stored offset is below the partition's low watermark (the log was
// truncated past events this shard never applied), the consumer stops applying, reports it
// (stall_reason(), metric coffer_vault_consumer_stalled = 1, error log); it never silently
// skips. With a `recovery` (a peer is configured) it then merges the peer's snapshot and
// resumes from the snapshot's positions by itself (coffer_vault_consumer_recoveries_total
// {result}); otherwise, or when that fails, it checks again every `stall_recheck`.
//
// Progress markers (other shards' and its own) are stored in shard_progress in the batch's
// transaction (TombstoneCollector acts on them); the consumer opens the ReplicationGate once its
// own markers came back on every partition. A standby replica checks the same in the database,
// so it opens its own gate too.
//
// Lifecycle: Start() spawns the thread; Stop() (or the destructor) ends it within about
// `poll_timeout` and releases leadership. Threading: accessors from any thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pkg/kafka/consumer.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/repository/sync_stores.h"
#include "services/vault/sync/event_auth.h"
#include "services/vault/sync/leader_loop.h"
#include "services/vault/sync/replication_gate.h"
#include "services/vault/sync/snapshot_recovery.h"
#include "services/vault/sync/sync_metrics.h"

namespace coffer::vault::sync {

struct ChangeConsumerOptions {
  std::string shard_id;
  std::string topic = "coffer.vault.changes.v1";
  kafka::ConsumerConfig consumer;
  int history_keep = 0;
  int batch_size = 500;
  std::chrono::milliseconds poll_timeout{200};
  std::chrono::milliseconds stall_recheck{5000};
  std::chrono::milliseconds lag_refresh{2000};
  // Opened once this shard's own progress marker came back on every partition (may be null).
  ReplicationGate* gate = nullptr;
  // Verifies every event's MAC (required; must outlive the consumer).
  const EventAuthenticator* auth = nullptr;
  // Recovery when a stored offset fell below the log start (PeerBootstrap with the configured
  // peer; must outlive the consumer); null = stay stalled until an operator re-bootstraps the
  // shard.
  SnapshotRecovery* recovery = nullptr;
  // A received HLC further ahead of the local clock than this is not adopted (see above).
  std::chrono::milliseconds max_clock_skew{60000};
};

class ChangeConsumer {
 public:
  // `store` must outlive the consumer; `hlc` observes every merged revision so later local
  // writes order after it. `leadership` decides which replica leads (PgLeadership in
  // production).
  ChangeConsumer(ChangeConsumerOptions options, repository::ReplicaStateStore& store,
                 std::unique_ptr<Leadership> leadership, domain::Hlc& hlc, SyncMetrics& metrics);
  ~ChangeConsumer();

  void Start();
  void Stop();
  bool is_leader() const { return loop_.is_leader(); }
  // Empty while applying normally; otherwise why the consumer refuses to resume.
  std::string stall_reason() const;

 private:
  // One leader round (see the top of this file), and one while another replica leads.
  void Round();
  void StandbyRound();
  // Creates the Kafka consumer and assigns every partition at the stored offsets. False (after
  // the pause it needs) when it cannot yet, or when a stored offset is below the log start: then
  // it stalls, or recovers from the peer and assigns in a later round.
  bool Assign();
  // Polls up to batch_size events (waiting poll_timeout for the first) and classifies them into
  // `batch`, keeping each as read in `raw`. True when the consumer must be re-created (the
  // broker reported an offset out of range).
  bool PollBatch(std::vector<repository::IncomingRevision>& batch,
                 std::vector<kafka::Message>& raw);
  void SetStall(const std::string& reason);
  // Opens the gate when this shard's markers came back on all `partitions`.
  void CheckJoined(int partitions);
  // Lag gauges from the high watermarks the fetches carried (no request).
  void RefreshLag();
  // Applies `batch` (read as `raw`, same order); when it fails for good, one by one,
  // quarantining what fails alone. Moves next_ past what was applied. A transient error is
  // returned: re-read from the stored offsets.
  absl::Status ApplyOrQuarantine(std::vector<repository::IncomingRevision>& batch,
                                 const std::vector<kafka::Message>& raw);
  // A batch or an event merged: the count of merge failures in a row starts over, and a stall
  // on them ends.
  void MergesSucceeded();
  // Bookkeeping after `batch` committed with `outcome`: positions, clock, metrics.
  void Committed(const std::vector<repository::IncomingRevision>& batch,
                 const repository::MergeOutcome& outcome);

  const ChangeConsumerOptions options_;
  repository::ReplicaStateStore& store_;
  domain::Hlc& hlc_;
  SyncMetrics& metrics_;
  mutable std::mutex mu_;
  std::string stall_reason_;  // guarded by mu_

  // Leader state: only the loop thread touches it.
  std::unique_ptr<kafka::Consumer> consumer_;
  std::map<int32_t, int64_t> next_;  // in-memory positions (mirror of consumer_offsets)
  // After a re-bootstrap: own-origin events below these offsets are merged, not skipped.
  std::map<int32_t, int64_t> merge_own_until_;
  std::chrono::steady_clock::time_point next_lag_refresh_;
  int merge_failures_in_a_row_ = 0;
  bool stalled_on_merges_ = false;  // the stall (if any) is on merge failures in a row

  LeaderLoop loop_;  // last: its thread uses everything above
};

}  // namespace coffer::vault::sync
