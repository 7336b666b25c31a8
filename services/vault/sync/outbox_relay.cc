#include "services/vault/sync/outbox_relay.h"

#include <pqxx/connection>
#include <pqxx/notification>

#include "pkg/crypto/random.h"
#include "pkg/kafka/errors.h"
#include "pkg/log/log.h"
#include "pkg/postgres/connection_pool.h"
#include "pkg/postgres/leader_lock.h"
#include "services/vault/domain/ids.h"
#include "services/vault/sync/change_event.h"

namespace coffer::vault::sync {
namespace {

constexpr char kNotifyChannel[] = "coffer_vault_changes";

// Counts notifications; the relay only needs "something arrived".
class Wakeup final : public pqxx::notification_receiver {
 public:
  Wakeup(pqxx::connection_base& conn, const std::string& channel)
      : pqxx::notification_receiver(conn, channel) {}
  void operator()(const std::string&, int) override {}
};

}  // namespace

OutboxRelay::OutboxRelay(OutboxRelayOptions options, repository::PgSyncRepository& repo,
                         SyncMetrics& metrics)
    : options_(std::move(options)), repo_(repo), metrics_(metrics) {}

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
  std::unique_ptr<pqxx::connection> listen_conn;
  std::unique_ptr<Wakeup> wakeup;
  auto sleep_for = [this](std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, d, [this] { return stop_.load(); });
  };
  auto lose = [&](const char* why) {
    if (leader_.exchange(false)) {
      metrics_.leadership_changes.Add({{"role", "relay"}, {"change", "lost"}}).Increment();
      log::Info("outbox relay leadership released or lost", {{"reason", std::string(why)}});
    }
    wakeup.reset();
    listen_conn.reset();
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
    if (!listen_conn) {
      // Wake-ups are an optimisation: without them the relay still polls.
      absl::StatusOr<std::unique_ptr<pqxx::connection>> conn =
          postgres::Connect(options_.db_dsn, std::chrono::seconds(5));
      if (conn.ok()) {
        try {
          listen_conn = *std::move(conn);
          wakeup = std::make_unique<Wakeup>(*listen_conn, kNotifyChannel);
        } catch (const std::exception&) {
          wakeup.reset();
          listen_conn.reset();
        }
      }
    }

    absl::StatusOr<std::vector<repository::OutboxEntry>> batch =
        repo_.ReadOutbox(options_.batch_size);
    if (!batch.ok()) {
      log::Warn("cannot read the outbox", {{"status", batch.status()}});
      sleep_for(options_.poll_interval);
      continue;
    }
    if (batch->empty()) {
      metrics_.outbox_backlog.Set(0);
      if (listen_conn) {
        try {
          long ms = static_cast<long>(options_.poll_interval.count());
          listen_conn->await_notification(ms / 1000, (ms % 1000) * 1000);
        } catch (const std::exception&) {
          wakeup.reset();
          listen_conn.reset();
        }
      } else {
        sleep_for(options_.poll_interval);
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
