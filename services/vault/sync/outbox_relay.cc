#include "services/vault/sync/outbox_relay.h"

#include <algorithm>

#include "pkg/crypto/random.h"
#include "pkg/failpoint/failpoint.h"
#include "pkg/kafka/errors.h"
#include "pkg/log/log.h"
#include "pkg/postgres/connection_pool.h"
#include "pkg/postgres/leader_lock.h"
#include "services/vault/domain/ids.h"
#include "services/vault/sync/change_event.h"

namespace coffer::vault::sync {

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

void OutboxRelay::Run() {
  postgres::LeaderLock lock(options_.db_dsn,
                            postgres::AdvisoryLockKey("coffer.vault.outbox_relay"));
  std::unique_ptr<kafka::Producer> producer;
  int partitions = 0;
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
    // Read before the outbox, so a write committed meanwhile wakes the wait below at once.
    uint64_t generation = notifier_ != nullptr ? notifier_->AnyGeneration() : 0;
    absl::StatusOr<std::vector<repository::OutboxEntry>> batch =
        repo_.ReadOutbox(options_.batch_size);
    if (!batch.ok()) {
      log::Warn("cannot read the outbox", {{"status", batch.status()}});
      sleep_for(options_.poll_interval);
      continue;
    }
    if (batch->empty()) {
      metrics_.outbox_backlog.Set(0);
      // Wake-ups are an optimisation: without them the relay still polls. Wait in slices so
      // Stop() is noticed promptly.
      if (notifier_ == nullptr) {
        sleep_for(options_.poll_interval);
        continue;
      }
      auto deadline = std::chrono::steady_clock::now() + options_.poll_interval;
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
    bool failed = false;
    bool fatal = false;
    for (const repository::OutboxEntry& e : *batch) {
      kafka::ProducerRecord record;
      record.topic = options_.topic;
      record.partition = PartitionForSpace(e.revision.space_id, partitions);
      record.key = EventKey(e.revision);
      record.value =
          EncodeChangeEvent(e.revision, domain::UuidV4FromBytes(crypto::RandomBytes(16)));
      int64_t id = e.id;
      absl::Status s = producer->Produce(
          record, [&delivered, &failed, &fatal, id](const kafka::DeliveryReport& r) {
            if (r.status.ok()) {
              delivered.push_back(id);
            } else {
              failed = true;
              fatal = fatal || kafka::IsFatal(r.status);
            }
          });
      if (!s.ok()) {
        failed = true;
        fatal = fatal || kafka::IsFatal(s);
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
    int64_t undelivered = static_cast<int64_t>(batch->size() - delivered.size());
    metrics_.outbox_backlog.Set(static_cast<double>(undelivered));
    if (failed) {
      metrics_.produce_failures.Increment(static_cast<double>(undelivered));
      log::Warn("outbox relay: some events were not delivered, retrying",
                {{"undelivered", undelivered}, {"fatal", fatal}});
      sleep_for(std::chrono::milliseconds(500));
    }
  }
  lose("stopping");
  (void)lock.Release();
}

}  // namespace coffer::vault::sync
