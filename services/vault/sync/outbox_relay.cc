#include "services/vault/sync/outbox_relay.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>

#include "pkg/crypto/random.h"
#include "pkg/failpoint/failpoint.h"
#include "pkg/kafka/errors.h"
#include "pkg/log/log.h"
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

// The blob queue is looked at every round while it yields blobs, else at most this often: an
// empty check is a query that the record path need not pay each round.
constexpr std::chrono::milliseconds kBlobCheckInterval{200};
// After a failed delivery, before the next round.
constexpr std::chrono::milliseconds kRetryPause{500};

OutboxRelay::OutboxRelay(OutboxRelayOptions options, repository::OutboxStore& store,
                         std::unique_ptr<Leadership> leadership, SyncMetrics& metrics,
                         ChangeNotifier* notifier)
    : options_(std::move(options)),
      store_(store),
      metrics_(metrics),
      notifier_(notifier),
      loop_({"relay", options_.shard_id, options_.poll_interval}, std::move(leadership), metrics) {}

OutboxRelay::~OutboxRelay() { Stop(); }

void OutboxRelay::Start() {
  loop_.Start({.lead = [this] { Round(); }, .standby = nullptr, .lost = [this] { Reset(); }});
}

void OutboxRelay::Stop() { loop_.Stop(); }

void OutboxRelay::Reset() {
  producer_.reset();
  unsettled_.clear();
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

kafka::ProducerRecord OutboxRelay::EventRecord(const repository::StoredRevision& revision) const {
  return Signed(PartitionForSpace(revision.space_id, partitions_), EventKey(revision),
                EncodeChangeEvent(revision, domain::UuidV4FromBytes(crypto::RandomBytes(16))));
}

void OutboxRelay::DeadLetter(const repository::OutboxEntry& entry, const absl::Status& why) {
  // An unreadable row has no event to keep: only where it was and why.
  const bool unreadable = !entry.read_error.ok();
  const kafka::ProducerRecord record =
      unreadable ? kafka::ProducerRecord{} : EventRecord(entry.revision);
  repository::DeadLetter letter;
  letter.direction = "out";
  const std::string message(why.message());
  letter.kind = unreadable ? "unreadable" : "too_large";
  letter.error = message;
  letter.partition = record.partition;
  letter.origin_shard = options_.shard_id;
  letter.key = record.key;
  letter.value = record.value;
  absl::StatusOr<bool> moved = store_.DeadLetterOutbox(entry.id, letter);
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

bool OutboxRelay::PublishProgress() {
  const int partitions = partitions_;
  kafka::Producer& producer = *producer_;
  absl::StatusOr<repository::ProgressSnapshot> snap = store_.ReadProgressSnapshot();
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

absl::StatusOr<int> OutboxRelay::PublishBlobs() {
  const int partitions = partitions_;
  kafka::Producer& producer = *producer_;
  constexpr int kBlobsPerRound = 4;
  COFFER_ASSIGN_OR_RETURN(std::vector<repository::BlobOutboxEntry> queued,
                          store_.ReadBlobOutbox(kBlobsPerRound));
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
                                store_.ReadBlobChunk(q.blob.blob_id, i));
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
    if (!flushed.ok()) {
      // Reports still outstanding would arrive later into this frame's counters: destroying the
      // producer delivers them now (as failures), while the frame exists.
      producer_.reset();
    }
    if (!flushed.ok() || failed || acked != events) {
      return absl::UnavailableError("blob " + q.blob.blob_id + ": " +
                                    std::to_string(events - acked) + " chunk event(s) undelivered");
    }
    metrics_.events_produced.Increment(static_cast<double>(events));
    COFFER_RETURN_IF_ERROR(store_.DeleteBlobOutbox(q.id));
    ++published;
  }
  return published;
}

bool OutboxRelay::PublishSpaceChanges() {
  constexpr int kChangesPerRound = 200;
  absl::StatusOr<std::vector<repository::SpaceOutboxEntry>> queued =
      store_.ReadSpaceOutbox(kChangesPerRound);
  if (!queued.ok()) {
    log::Warn("cannot read the space outbox", {{"status", queued.status()}});
    return false;
  }
  if (queued->empty()) return true;
  // Shared with the callbacks: a report may still arrive after a timed-out Flush, from a later
  // Poll or Flush, when this frame is gone.
  struct Reports {
    std::mutex mu;
    std::vector<int64_t> delivered;
    bool failed = false;
  };
  auto reports = std::make_shared<Reports>();
  bool failed = false;
  for (const repository::SpaceOutboxEntry& e : *queued) {
    if (!e.read_error.ok()) {
      repository::DeadLetter letter;
      letter.direction = "out";
      letter.kind = "unreadable";
      letter.error = std::string(e.read_error.message());
      letter.origin_shard = options_.shard_id;
      if (absl::StatusOr<bool> moved = store_.DeadLetterSpaceOutbox(e.id, letter);
          moved.ok() && *moved) {
        metrics_.RelayDeadLetter(letter.kind);
        log::Error("a queued membership change cannot be read; moved to the dead letters",
                   {{"error", letter.error}});
      }
      continue;
    }
    kafka::ProducerRecord record =
        Signed(PartitionForSpace(e.change.space_id, partitions_), SpaceChangeKey(e.change),
               EncodeSpaceChangeEvent(e.change, domain::UuidV4FromBytes(crypto::RandomBytes(16))));
    absl::Status s =
        producer_->Produce(record, [reports, id = e.id](const kafka::DeliveryReport& r) {
          std::lock_guard<std::mutex> lock(reports->mu);
          if (r.status.ok()) {
            reports->delivered.push_back(id);
          } else {
            reports->failed = true;
          }
        });
    if (!s.ok()) {
      failed = true;
      break;
    }
  }
  if (!producer_->Flush(options_.delivery_timeout).ok()) failed = true;
  std::vector<int64_t> delivered;
  {
    std::lock_guard<std::mutex> lock(reports->mu);
    delivered = reports->delivered;
    failed = failed || reports->failed;
  }
  metrics_.events_produced.Increment(static_cast<double>(delivered.size()));
  if (absl::Status s = store_.DeleteSpaceOutbox(delivered); !s.ok()) {
    log::Warn("cannot delete published space outbox rows", {{"status", s}});
  }
  return !failed;
}

bool OutboxRelay::EnsureProducer() {
  if (producer_) return true;
  absl::StatusOr<std::unique_ptr<kafka::Producer>> p = kafka::Producer::Create(options_.producer);
  if (!p.ok()) {
    log::Error("cannot create the Kafka producer", {{"status", p.status()}});
    return false;
  }
  absl::StatusOr<int> n = (*p)->PartitionCount(options_.topic);
  if (!n.ok()) {
    log::Warn("change topic unavailable", {{"topic", options_.topic}, {"status", n.status()}});
    return false;
  }
  producer_ = *std::move(p);
  partitions_ = *n;
  return true;
}

void OutboxRelay::Round() {
  if (!loop_.ConfirmLeadership()) return;
  if (!EnsureProducer()) {
    loop_.Sleep(options_.poll_interval);
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (options_.progress_interval.count() > 0 && now >= next_progress_) {
    next_progress_ = now + options_.progress_interval;
    if (!PublishProgress() && producer_->IsFatal()) {
      producer_.reset();
      return;
    }
  }
  // Read before the outboxes, so a write committed meanwhile wakes the wait below at once.
  const uint64_t generation = notifier_ != nullptr ? notifier_->AnyGeneration() : 0;
  int blobs = 0;
  if (std::chrono::steady_clock::now() >= next_blob_check_) {
    absl::StatusOr<int> published = PublishBlobs();
    if (!published.ok()) {
      log::Warn("outbox relay: blob not published, retrying", {{"status", published.status()}});
      if (producer_ && producer_->IsFatal()) producer_.reset();
      loop_.Sleep(kRetryPause);
      return;
    }
    blobs = *published;
    next_blob_check_ = std::chrono::steady_clock::now() +
                       (blobs > 0 ? std::chrono::milliseconds(0) : kBlobCheckInterval);
  }
  if (!PublishSpaceChanges()) {
    log::Warn("outbox relay: membership changes not all delivered, retrying");
    if (producer_ && producer_->IsFatal()) producer_.reset();
    loop_.Sleep(kRetryPause);
    return;
  }
  absl::StatusOr<std::vector<repository::OutboxEntry>> batch =
      store_.ReadOutbox(options_.batch_size);
  if (!batch.ok()) {
    log::Warn("cannot read the outbox", {{"status", batch.status()}});
    loop_.Sleep(options_.poll_interval);
    return;
  }
  if (!batch->empty()) {
    PublishBatch(*batch);
    return;
  }
  if (blobs > 0) return;  // more blobs may be queued
  metrics_.outbox_backlog.Set(0);
  WaitForWrites(generation);
}

void OutboxRelay::WaitForWrites(uint64_t generation) {
  // Wake-ups are an optimisation: without them the relay still polls.
  if (notifier_ == nullptr) {
    loop_.Sleep(options_.poll_interval);
    return;
  }
  auto deadline = std::chrono::steady_clock::now() + options_.poll_interval;
  if (options_.progress_interval.count() > 0) deadline = std::min(deadline, next_progress_);
  deadline = std::min(deadline, next_blob_check_);
  // In slices, so Stop() is noticed promptly.
  while (!loop_.stopping() && std::chrono::steady_clock::now() < deadline) {
    auto slice = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                                deadline - std::chrono::steady_clock::now()),
                            std::chrono::milliseconds(1), std::chrono::milliseconds(100));
    auto before = std::chrono::steady_clock::now();
    if (notifier_->WaitForAnyChange(generation, slice)) return;
    // Returned at once without a change: the notifier is stopped, so just sleep.
    if (std::chrono::steady_clock::now() - before < slice / 2) loop_.Sleep(slice);
  }
}

void OutboxRelay::PublishBatch(const std::vector<repository::OutboxEntry>& batch) {
  std::vector<int64_t> delivered;
  // Rows Kafka refused for their size, or unreadable rows, by batch index: they go to the dead
  // letters so the rows behind them flow on.
  std::vector<std::pair<size_t, absl::Status>> refused;
  std::string last_error;  // why the last undelivered row was not delivered, for the log
  bool failed = false;
  bool fatal = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    const repository::OutboxEntry& e = batch[i];
    if (!e.read_error.ok()) {
      refused.emplace_back(i, e.read_error);
      continue;
    }
    kafka::ProducerRecord record = EventRecord(e.revision);
    absl::Status s = producer_->Produce(record, [&delivered, &refused, &failed, &fatal, &last_error,
                                                 id = e.id, i](const kafka::DeliveryReport& r) {
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
  absl::Status flushed = producer_->Flush(options_.delivery_timeout);
  if (!flushed.ok()) failed = true;
  if (producer_->IsFatal()) fatal = true;
  if (fatal || !flushed.ok()) {
    // Destroying the producer purges what is outstanding and reports it (not delivered).
    producer_.reset();
  }
  metrics_.events_produced.Increment(static_cast<double>(delivered.size()));
  // Tests kill the relay here: Kafka has the events, the outbox still has their rows, so they
  // are sent again after the restart and the consumers must merge the duplicates as no-ops.
  if (!delivered.empty()) failpoint::CrashIfFired("vault-relay-crash-after-produce");
  if (absl::Status s = store_.DeleteOutbox(delivered); !s.ok()) {
    // Rows stay and are sent again: duplicates merge as no-ops.
    log::Warn("cannot delete published outbox rows", {{"status", s}});
  }
  for (const auto& [index, why] : refused) DeadLetter(batch[index], why);
  const int64_t undelivered =
      static_cast<int64_t>(batch.size() - delivered.size() - refused.size());
  metrics_.outbox_backlog.Set(static_cast<double>(undelivered));
  if (failed) {
    metrics_.produce_failures.Increment(static_cast<double>(undelivered));
    log::Warn("outbox relay: some events were not delivered, retrying",
              {{"undelivered", undelivered}, {"fatal", fatal}, {"cause", last_error}});
    loop_.Sleep(kRetryPause);
  }
}

}  // namespace coffer::vault::sync
