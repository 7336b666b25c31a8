#include "services/vault/sync/outbox_relay.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>

#include "pkg/crypto/random.h"
#include "pkg/failpoint/failpoint.h"
#include "pkg/kafka/errors.h"
#include "pkg/log/log.h"
#include "pkg/postgres/connection_pool.h"
#include "pkg/postgres/leader_lock.h"
#include "pkg/status/status.h"
#include "services/vault/domain/ids.h"
#include "services/vault/sync/change_event.h"

namespace coffer::vault::sync {
namespace {

// Only a refusal that is this one event's fault goes to the dead letters: Kafka refused it for
// its size. Every other refusal (a bad timestamp, a policy, a configuration error) would hit
// every event alike, so those rows stay and are retried, with the cause logged.
bool RefusedForItsSize(const absl::Status& s) {
  if (!absl::IsInvalidArgument(s)) return false;
  const std::string m(s.message());
  return m.find("MSG_SIZE_TOO_LARGE") != std::string::npos ||
         m.find("INVALID_MSG_SIZE") != std::string::npos;
}

}  // namespace

OutboxRelay::OutboxRelay(OutboxRelayOptions options, repository::PgSyncRepository& repo,
                         SyncMetrics& metrics, ChangeNotifier* notifier)
    : options_(std::move(options)), repo_(repo), metrics_(metrics), notifier_(notifier) {}

OutboxRelay::~OutboxRelay() { Stop(); }

void OutboxRelay::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void OutboxRelay::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

kafka::ProducerRecord OutboxRelay::Signed(int32_t partition, std::string key,
                                          std::string value) const {
  kafka::ProducerRecord record;
  record.topic = options_.topic;
  record.partition = partition;
  record.key = std::move(key);
  record.value = std::move(value);
  record.headers = options_.auth->Sign(record.key, record.value);
  return record;
}

kafka::ProducerRecord OutboxRelay::EventRecord(const repository::StoredRevision& revision,
                                               int partitions) const {
  return Signed(PartitionForSpace(revision.space_id, partitions), EventKey(revision),
                EncodeChangeEvent(revision, domain::UuidV4FromBytes(crypto::RandomBytes(16))));
}

void OutboxRelay::DeadLetter(const repository::OutboxEntry& entry, int partitions,
                             const absl::Status& why) {
  // An unreadable row has no event to keep: only where it was and why.
  const bool unreadable = !entry.read_error.ok();
  const kafka::ProducerRecord record =
      unreadable ? kafka::ProducerRecord{} : EventRecord(entry.revision, partitions);
  repository::DeadLetter letter;
  letter.direction = "out";
  const std::string message(why.message());
  letter.kind = unreadable ? "unreadable" : "too_large";
  letter.error = message;
  letter.partition = record.partition;
  letter.origin_shard = options_.shard_id;
  letter.key = record.key;
  letter.value = record.value;
  absl::StatusOr<bool> moved = repo_.DeadLetterOutbox(entry.id, letter);
  if (!moved.ok()) {
    // The row stays and is tried again next round.
    log::Warn("cannot move a refused outbox row to the dead letters", {{"status", moved.status()}});
    return;
  }
  metrics_.RelayDeadLetter(letter.kind);
  log::Error("Kafka refused a change event for good; moved to the dead letters",
             {{"kind", letter.kind},
              {"error", letter.error},
              {"space_id", entry.revision.space_id},
              {"record_id", entry.revision.record_id},
              {"event_bytes", static_cast<int64_t>(record.value.size())}});
}

bool OutboxRelay::PublishProgress(kafka::Producer& producer, int partitions) {
  absl::StatusOr<repository::ProgressSnapshot> snap = repo_.ReadProgressSnapshot();
  if (!snap.ok()) {
    log::Warn("cannot read the progress snapshot", {{"status", snap.status()}});
    return false;
  }
  unsettled_.emplace_back(snap->outbox_seq_last, snap->applied);
  // The newest snapshot whose writes are all published: no outbox row at or below its sequence
  // value is left.
  std::optional<std::map<int32_t, int64_t>> settled;
  while (!unsettled_.empty() &&
         (!snap->outbox_min_id || *snap->outbox_min_id > unsettled_.front().first)) {
    settled = std::move(unsettled_.front().second);
    unsettled_.pop_front();
  }
  if (unsettled_.size() > 1000) unsettled_.pop_front();  // bound memory while Kafka is away
  if (!settled) return false;
  // A partition the consumer has not read from yet is settled at 0: "applied nothing". Every
  // partition must be reported, or the others could never count this shard (and it would never
  // see its own marker come back, which is what lets it accept writes).
  for (int32_t p = 0; p < partitions; ++p) settled->emplace(p, 0);
  ProgressMarker marker{options_.shard_id, *std::move(settled)};
  const std::string value =
      EncodeProgressMarker(marker, domain::UuidV4FromBytes(crypto::RandomBytes(16)));
  // Shared: a report may still arrive after a timed-out Flush, from a later Poll or Flush.
  auto failed = std::make_shared<std::atomic<bool>>(false);
  for (int32_t p = 0; p < partitions; ++p) {
    kafka::ProducerRecord record = Signed(p, ProgressKey(options_.shard_id), value);
    absl::Status s = producer.Produce(record, [failed](const kafka::DeliveryReport& r) {
      if (!r.status.ok()) *failed = true;
    });
    if (!s.ok()) {
      *failed = true;
      break;
    }
  }
  // A marker that is lost or late only delays GC; the next one says as much or more.
  if (!producer.Flush(options_.delivery_timeout).ok() || *failed) return false;
  metrics_.progress_markers.Increment();
  return true;
}

absl::StatusOr<int> OutboxRelay::PublishBlobs(kafka::Producer& producer, int partitions) {
  constexpr int kBlobsPerRound = 4;
  COFFER_ASSIGN_OR_RETURN(std::vector<repository::BlobOutboxEntry> queued,
                          repo_.ReadBlobOutbox(kBlobsPerRound));
  int published = 0;
  for (const repository::BlobOutboxEntry& q : queued) {
    int acked = 0;
    bool failed = false;
    // An empty blob still travels, as one event without content.
    const int events = std::max(1, q.blob.chunk_count);
    for (int i = 0; i < events && !failed; ++i) {
      BlobChunk chunk{options_.shard_id, q.blob, i, ""};
      if (q.blob.chunk_count > 0) {
        COFFER_ASSIGN_OR_RETURN(std::optional<std::string> ct,
                                repo_.ReadBlobChunk(q.blob.blob_id, i));
        if (!ct) {
          log::Error("a stored blob lacks a chunk; it is not replicated",
                     {{"blob_id", q.blob.blob_id}, {"chunk", static_cast<int64_t>(i)}});
          failed = true;
          break;
        }
        chunk.chunk_ct = *std::move(ct);
      }
      kafka::ProducerRecord record =
          Signed(PartitionForSpace(q.blob.space_id, partitions), BlobChunkKey(q.blob.blob_id),
                 EncodeBlobChunkEvent(chunk, domain::UuidV4FromBytes(crypto::RandomBytes(16))));
      absl::Status s = producer.Produce(record, [&acked, &failed](const kafka::DeliveryReport& r) {
        if (r.status.ok()) {
          ++acked;
        } else {
          failed = true;
        }
      });
      if (!s.ok()) failed = true;
    }
    absl::Status flushed = producer.Flush(options_.delivery_timeout);
    if (!flushed.ok() || failed || acked != events) {
      return absl::UnavailableError("blob " + q.blob.blob_id + ": " +
                                    std::to_string(events - acked) + " chunk event(s) undelivered");
    }
    metrics_.events_produced.Increment(static_cast<double>(events));
    COFFER_RETURN_IF_ERROR(repo_.DeleteBlobOutbox(q.id));
    ++published;
  }
  return published;
}

void OutboxRelay::Run() {
  postgres::LeaderLock lock(options_.db_dsn,
                            postgres::AdvisoryLockKey("coffer.vault.outbox_relay"));
  std::unique_ptr<kafka::Producer> producer;
  int partitions = 0;
  auto next_progress = std::chrono::steady_clock::now();
  // The blob queue is looked at every round while it yields blobs, else at most every
  // kBlobCheckInterval: an empty check is a query that the record path need not pay each round.
  constexpr std::chrono::milliseconds kBlobCheckInterval{200};
  auto next_blob_check = std::chrono::steady_clock::now();
  auto sleep_for = [this](std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, d, [this] { return stop_.load(); });
  };
  auto lose = [&](const char* why) {
    if (leader_.exchange(false)) {
      metrics_.leadership_changes.Add({{"role", "relay"}, {"change", "lost"}}).Increment();
      log::Info("outbox relay leadership released or lost", {{"reason", std::string(why)}});
    }
    producer.reset();
    unsettled_.clear();  // a new leader (maybe another replica) starts over
  };

  while (!stop_) {
    if (!leader_) {
      absl::StatusOr<bool> got = lock.TryAcquire();
      if (!got.ok() || !*got) {
        sleep_for(options_.poll_interval);
        continue;
      }
      leader_ = true;
      metrics_.leadership_changes.Add({{"role", "relay"}, {"change", "acquired"}}).Increment();
      log::Info("outbox relay leadership acquired", {{"shard_id", options_.shard_id}});
    } else if (!lock.IsHeld()) {
      lose("advisory lock session lost");
      continue;
    }
    if (!producer) {
      absl::StatusOr<std::unique_ptr<kafka::Producer>> p =
          kafka::Producer::Create(options_.producer);
      if (!p.ok()) {
        log::Error("cannot create the Kafka producer", {{"status", p.status()}});
        sleep_for(options_.poll_interval);
        continue;
      }
      absl::StatusOr<int> n = (*p)->PartitionCount(options_.topic);
      if (!n.ok()) {
        log::Warn("change topic unavailable", {{"topic", options_.topic}, {"status", n.status()}});
        sleep_for(options_.poll_interval);
        continue;
      }
      producer = *std::move(p);
      partitions = *n;
    }
    if (options_.progress_interval.count() > 0 &&
        std::chrono::steady_clock::now() >= next_progress) {
      next_progress = std::chrono::steady_clock::now() + options_.progress_interval;
      if (!PublishProgress(*producer, partitions) && producer->IsFatal()) {
        producer.reset();
        continue;
      }
    }
    // Read before the outboxes, so a write committed meanwhile wakes the wait below at once.
    uint64_t generation = notifier_ != nullptr ? notifier_->AnyGeneration() : 0;
    absl::StatusOr<int> blobs = 0;
    if (std::chrono::steady_clock::now() >= next_blob_check) {
      blobs = PublishBlobs(*producer, partitions);
      if (!blobs.ok()) {
        log::Warn("outbox relay: blob not published, retrying", {{"status", blobs.status()}});
        if (producer->IsFatal()) producer.reset();
        sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      next_blob_check = std::chrono::steady_clock::now() +
                        (*blobs > 0 ? std::chrono::milliseconds(0) : kBlobCheckInterval);
    }
    absl::StatusOr<std::vector<repository::OutboxEntry>> batch =
        repo_.ReadOutbox(options_.batch_size);
    if (!batch.ok()) {
      log::Warn("cannot read the outbox", {{"status", batch.status()}});
      sleep_for(options_.poll_interval);
      continue;
    }
    if (batch->empty() && *blobs > 0) continue;  // more blobs may be queued
    if (batch->empty()) {
      metrics_.outbox_backlog.Set(0);
      // Wake-ups are an optimisation: without them the relay still polls. Wait in slices so
      // Stop() is noticed promptly.
      if (notifier_ == nullptr) {
        sleep_for(options_.poll_interval);
        continue;
      }
      auto deadline = std::chrono::steady_clock::now() + options_.poll_interval;
      if (options_.progress_interval.count() > 0) deadline = std::min(deadline, next_progress);
      deadline = std::min(deadline, next_blob_check);
      while (!stop_ && std::chrono::steady_clock::now() < deadline) {
        auto slice = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now()),
                                std::chrono::milliseconds(1), std::chrono::milliseconds(100));
        auto before = std::chrono::steady_clock::now();
        if (notifier_->WaitForAnyChange(generation, slice)) break;
        // Returned at once without a change: the notifier is stopped, so just sleep.
        if (std::chrono::steady_clock::now() - before < slice / 2) sleep_for(slice);
      }
      continue;
    }

    std::vector<int64_t> delivered;
    // Rows Kafka refused for their size, or unreadable rows, by batch index: they go to the dead
    // letters so the rows behind them flow on.
    std::vector<std::pair<size_t, absl::Status>> refused;
    std::string last_error;  // why the last undelivered row was not delivered, for the log
    bool failed = false;
    bool fatal = false;
    for (size_t i = 0; i < batch->size(); ++i) {
      const repository::OutboxEntry& e = (*batch)[i];
      if (!e.read_error.ok()) {
        refused.emplace_back(i, e.read_error);
        continue;
      }
      kafka::ProducerRecord record = EventRecord(e.revision, partitions);
      absl::Status s =
          producer->Produce(record, [&delivered, &refused, &failed, &fatal, &last_error, id = e.id,
                                     i](const kafka::DeliveryReport& r) {
            if (r.status.ok()) {
              delivered.push_back(id);
            } else if (RefusedForItsSize(r.status)) {
              refused.emplace_back(i, r.status);
            } else {
              failed = true;
              fatal = fatal || kafka::IsFatal(r.status);
              last_error = r.status.ToString();
            }
          });
      if (RefusedForItsSize(s)) {
        refused.emplace_back(i, s);
        continue;
      }
      if (!s.ok()) {
        failed = true;
        fatal = fatal || kafka::IsFatal(s);
        last_error = s.ToString();
        break;  // the rest goes in a later round
      }
    }
    absl::Status flushed = producer->Flush(options_.delivery_timeout);
    if (!flushed.ok()) failed = true;
    if (producer->IsFatal()) fatal = true;
    if (fatal || !flushed.ok()) {
      // Destroying the producer purges what is outstanding and reports it (not delivered).
      producer.reset();
    }
    metrics_.events_produced.Increment(static_cast<double>(delivered.size()));
    // Tests kill the relay here: Kafka has the events, the outbox still has their rows, so they
    // are sent again after the restart and the consumers must merge the duplicates as no-ops.
    if (!delivered.empty()) failpoint::CrashIfFired("vault-relay-crash-after-produce");
    if (absl::Status s = repo_.DeleteOutbox(delivered); !s.ok()) {
      // Rows stay and are sent again: duplicates merge as no-ops.
      log::Warn("cannot delete published outbox rows", {{"status", s}});
    }
    for (const auto& [index, why] : refused) DeadLetter((*batch)[index], partitions, why);
    int64_t undelivered = static_cast<int64_t>(batch->size() - delivered.size() - refused.size());
    metrics_.outbox_backlog.Set(static_cast<double>(undelivered));
    if (failed) {
      metrics_.produce_failures.Increment(static_cast<double>(undelivered));
      log::Warn("outbox relay: some events were not delivered, retrying",
                {{"undelivered", undelivered}, {"fatal", fatal}, {"cause", last_error}});
      sleep_for(std::chrono::milliseconds(500));
    }
  }
  lose("stopping");
  (void)lock.Release();
}

}  // namespace coffer::vault::sync
