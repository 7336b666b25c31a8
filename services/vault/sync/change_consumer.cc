#include "services/vault/sync/change_consumer.h"

#include <set>
#include <type_traits>
#include <variant>

#include "pkg/kafka/errors.h"
#include "pkg/log/log.h"
#include "pkg/postgres/leader_lock.h"
#include "services/vault/sync/change_event.h"
#include "services/vault/sync/received_event.h"
#include "services/vault/sync/watermarks.h"

namespace coffer::vault::sync {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t OwnMergeLimit(const std::map<int32_t, int64_t>& limits, int32_t partition) {
  auto it = limits.find(partition);
  return it == limits.end() ? 0 : it->second;
}

// More events than this failing to merge one after another is not bad events but a broken
// shard: the consumer stops (stalled) instead of quarantining the whole topic.
constexpr int kMaxMergeQuarantinesInARow = 20;

}  // namespace

absl::Status ChangeConsumer::ApplyOrQuarantine(std::vector<repository::IncomingRevision>& batch,
                                               const std::vector<kafka::Message>& raw,
                                               std::map<int32_t, int64_t>& next) {
  const auto apply_start = std::chrono::steady_clock::now();
  absl::StatusOr<repository::MergeOutcome> outcome = repo_.ApplyBatch(batch, options_.history_keep);
  log::Debug(
      "change batch applied",
      {{"events", static_cast<int64_t>(batch.size())},
       {"apply_ms", static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - apply_start)
                                             .count())}});
  if (outcome.ok()) {
    Committed(batch, *outcome, next);
    return absl::OkStatus();
  }
  if (!IsEventsFault(outcome.status())) return outcome.status();
  log::Warn("a change batch failed for good; applying its events one by one",
            {{"events", static_cast<int64_t>(batch.size())}, {"status", outcome.status()}});
  for (size_t i = 0; i < batch.size(); ++i) {
    std::vector<repository::IncomingRevision> one{std::move(batch[i])};
    absl::StatusOr<repository::MergeOutcome> single = repo_.ApplyBatch(one, options_.history_keep);
    if (!single.ok() && !IsEventsFault(single.status())) return single.status();
    if (!single.ok()) {
      if (merge_failures_in_a_row_ >= kMaxMergeQuarantinesInARow) {
        SetStall(std::to_string(merge_failures_in_a_row_) +
                 " events in a row failed to apply; not quarantining more (last: " +
                 std::string(single.status().message()) + ")");
        return single.status();
      }
      // This event alone fails: keep it as a dead letter and move past it. Should even that row
      // be refused, keep where and why only, so the partition still moves on.
      const absl::Status why = single.status();
      for (bool whole : {true, false}) {
        repository::IncomingRevision kept;
        kept.partition = one[0].partition;
        kept.offset = one[0].offset;
        kept.merge = false;
        kept.dead_letter = DeadLetterOf(raw[i], "merge", std::string(why.message()));
        if (!whole) {
          kept.dead_letter->key.reset();
          kept.dead_letter->value.clear();
          kept.dead_letter->mac.clear();
          kept.dead_letter->error = "(the event could not be stored) " + kept.dead_letter->error;
        }
        std::vector<repository::IncomingRevision> letter{std::move(kept)};
        single = repo_.ApplyBatch(letter, options_.history_keep);
        if (single.ok()) {
          one = std::move(letter);
          break;
        }
        if (!IsEventsFault(single.status())) return single.status();
      }
      if (!single.ok()) return single.status();
      ++merge_failures_in_a_row_;
    } else {
      merge_failures_in_a_row_ = 0;
      if (!stall_reason().empty() && stall_reason().find("in a row") != std::string::npos) {
        SetStall("");
      }
    }
    Committed(one, *single, next);
  }
  return absl::OkStatus();
}

void ChangeConsumer::Committed(const std::vector<repository::IncomingRevision>& batch,
                               const repository::MergeOutcome& outcome,
                               std::map<int32_t, int64_t>& next) {
  const int64_t now = NowMs();
  for (const repository::IncomingRevision& in : batch) {
    next[in.partition] = std::max(next[in.partition], in.offset + 1);
    if (in.dead_letter) {
      metrics_.Quarantined(in.dead_letter->kind);
      log::Error("change event quarantined (dead letter; AdminService lists it)",
                 {{"kind", in.dead_letter->kind},
                  {"partition", static_cast<int64_t>(in.partition)},
                  {"offset", in.offset},
                  {"claimed_origin", in.dead_letter->origin_shard},
                  {"error", in.dead_letter->error}});
    }
    if (!in.merge) continue;
    const int64_t physical =
        static_cast<int64_t>(domain::HlcTimestamp::PhysicalMs(in.revision.stamp.hlc));
    if (physical - now > options_.max_clock_skew.count()) {
      metrics_.clock_skew_ignored.Increment();
    } else {
      hlc_.Observe(in.revision.stamp.hlc);
    }
    metrics_.replication_delay.Observe(
        static_cast<double>(std::max<int64_t>(0, now - in.revision.updated_at_ms)) / 1000.0);
  }
  metrics_.merges_applied.Increment(outcome.applied);
  metrics_.merges_unchanged.Increment(outcome.unchanged);
  metrics_.conflicts_created.Increment(outcome.conflicts_created);
  metrics_.conflicts_resolved.Increment(outcome.conflicts_resolved);
}

ChangeConsumer::ChangeConsumer(ChangeConsumerOptions options, repository::PgSyncRepository& repo,
                               domain::Hlc& hlc, SyncMetrics& metrics)
    : options_(std::move(options)), repo_(repo), hlc_(hlc), metrics_(metrics) {}

ChangeConsumer::~ChangeConsumer() { Stop(); }

void ChangeConsumer::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void ChangeConsumer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string ChangeConsumer::stall_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stall_reason_;
}

void ChangeConsumer::SetStall(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (reason == stall_reason_) return;
    stall_reason_ = reason;
  }
  metrics_.consumer_stalled.Set(reason.empty() ? 0 : 1);
  if (!reason.empty()) {
    log::Error("change consumer refuses to resume", {{"reason", reason}});
  } else {
    log::Info("change consumer resumed");
  }
}

void ChangeConsumer::CheckJoined(int partitions) {
  absl::StatusOr<std::vector<int32_t>> own = repo_.OwnProgressPartitions(options_.shard_id);
  if (!own.ok() || partitions <= 0 || own->size() < static_cast<size_t>(partitions)) return;
  options_.gate->Open();
  metrics_.replication_joined.Set(1);
  log::Info("joined replication: own progress markers came back on every partition",
            {{"partitions", static_cast<int64_t>(partitions)}});
}

void ChangeConsumer::CollectTombstones() {
  absl::StatusOr<std::vector<repository::ShardProgressRow>> progress = repo_.ListProgress();
  if (progress.ok()) {
    std::set<std::string> shards;
    for (const auto& row : *progress) shards.insert(row.shard_id);
    metrics_.registered_shards.Set(static_cast<double>(shards.size()));
  }
  absl::StatusOr<int64_t> n = repo_.CollectTombstones(NowMs() - options_.gc_min_age.count());
  if (!n.ok()) {
    log::Warn("tombstone GC failed (retried at the next interval)", {{"status", n.status()}});
    return;
  }
  if (*n > 0) {
    metrics_.tombstones_collected.Increment(static_cast<double>(*n));
    log::Info("tombstones collected behind the GC horizon", {{"records", *n}});
  }
}

void ChangeConsumer::Run() {
  postgres::LeaderLock lock(options_.db_dsn,
                            postgres::AdvisoryLockKey("coffer.vault.change_consumer"));
  std::unique_ptr<kafka::Consumer> consumer;
  std::map<int32_t, int64_t> next;  // in-memory positions (mirror of consumer_offsets)
  // After a re-bootstrap: own-origin events below these offsets are merged, not skipped.
  std::map<int32_t, int64_t> merge_own_until;
  auto last_lag = std::chrono::steady_clock::now() - options_.lag_refresh;
  auto last_gc = std::chrono::steady_clock::now();
  auto sleep_for = [this](std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, d, [this] { return stop_.load(); });
  };
  auto lose = [&](const char* why) {
    if (leader_.exchange(false)) {
      metrics_.leadership_changes.Add({{"role", "consumer"}, {"change", "lost"}}).Increment();
      log::Info("change consumer leadership released or lost", {{"reason", std::string(why)}});
    }
    consumer.reset();
  };

  while (!stop_) {
    if (!leader_) {
      absl::StatusOr<bool> got = lock.TryAcquire();
      if (!got.ok() || !*got) {
        // A standby replica shares the leader's database: it may accept writes as soon as the
        // shard has joined (its markers are in shard_progress for every stored partition).
        if (options_.gate != nullptr && !options_.gate->is_open()) {
          absl::StatusOr<std::map<int32_t, int64_t>> stored = repo_.LoadOffsets();
          if (stored.ok()) CheckJoined(static_cast<int>(stored->size()));
        }
        sleep_for(std::chrono::milliseconds(1000));
        continue;
      }
      leader_ = true;
      metrics_.leadership_changes.Add({{"role", "consumer"}, {"change", "acquired"}}).Increment();
      log::Info("change consumer leadership acquired", {{"shard_id", options_.shard_id}});
    }
    if (!consumer) {
      absl::StatusOr<std::unique_ptr<kafka::Consumer>> c =
          kafka::Consumer::Create(options_.consumer);
      if (!c.ok()) {
        log::Error("cannot create the Kafka consumer", {{"status", c.status()}});
        sleep_for(options_.stall_recheck);
        continue;
      }
      absl::StatusOr<int> n = (*c)->PartitionCount(options_.topic);
      absl::StatusOr<std::map<int32_t, int64_t>> stored = repo_.LoadOffsets();
      absl::StatusOr<std::map<int32_t, int64_t>> own = repo_.LoadMergeOwnUntil();
      if (own.ok()) merge_own_until = *std::move(own);
      if (!n.ok() || !stored.ok() || !own.ok()) {
        log::Warn("change consumer cannot start yet",
                  {{"topic", options_.topic}, {"status", n.ok() ? stored.status() : n.status()}});
        sleep_for(std::chrono::milliseconds(1000));
        continue;
      }
      std::vector<kafka::TopicPartitionOffset> assignment;
      std::string stall;
      next.clear();
      for (int32_t p = 0; p < *n; ++p) {
        int64_t offset = stored->count(p) ? stored->at(p) : 0;
        absl::StatusOr<kafka::Watermarks> wm = QueryWatermarksBounded(
            (*c)->handle(), options_.topic, p, std::chrono::milliseconds(2000));
        if (!wm.ok()) {
          stall = "";  // unknown: try again, this is not a refusal
          assignment.clear();
          break;
        }
        if (offset < wm->low) {
          stall = "partition " + std::to_string(p) + ": stored offset " + std::to_string(offset) +
                  " is below the log start " + std::to_string(wm->low) +
                  " (events were truncated before this shard applied them; re-bootstrap)";
          break;
        }
        next[p] = offset;
        assignment.push_back({options_.topic, p, offset});
      }
      if (!stall.empty()) {
        SetStall(stall);
        if (options_.recover) {
          log::Warn("change consumer: recovering from the peer's snapshot", {{"reason", stall}});
          absl::Status recovered = options_.recover();
          metrics_.recoveries.Add({{"result", recovered.ok() ? "ok" : "failed"}}).Increment();
          if (recovered.ok()) {
            SetStall("");
            continue;  // re-assign from the positions the snapshot moved forward
          }
          log::Error("change consumer: recovery from the peer failed; retrying later",
                     {{"status", recovered}});
        }
        sleep_for(options_.stall_recheck);
        continue;
      }
      if (assignment.size() != static_cast<size_t>(*n)) {
        sleep_for(std::chrono::milliseconds(1000));
        continue;
      }
      if (absl::Status s = (*c)->Assign(assignment); !s.ok()) {
        log::Warn("cannot assign the change topic", {{"status", s}});
        sleep_for(std::chrono::milliseconds(1000));
        continue;
      }
      SetStall("");
      consumer = *std::move(c);
      if (options_.gate != nullptr && !options_.gate->is_open()) CheckJoined(*n);
    }

    // Collect a batch: wait for the first event, then take what is already there.
    std::vector<repository::IncomingRevision> batch;
    std::vector<kafka::Message> raw;  // the batch's messages as read, for dead letters
    bool restart = false;
    for (int i = 0; i < options_.batch_size && !stop_; ++i) {
      absl::StatusOr<std::optional<kafka::Message>> m =
          consumer->Poll(i == 0 ? options_.poll_timeout : std::chrono::milliseconds(0));
      if (!m.ok()) {
        if (absl::IsOutOfRange(m.status())) {
          SetStall("offset out of range: " + std::string(m.status().message()));
          restart = true;
        } else if (!kafka::IsRetryable(m.status())) {
          log::Warn("change consumer poll failed", {{"status", m.status()}});
        }
        break;
      }
      if (!m->has_value()) break;
      kafka::Message& msg = **m;
      const ClassifyContext context{options_.shard_id,
                                    OwnMergeLimit(merge_own_until, msg.partition), options_.auth};
      ReceivedEvent event = ClassifyEvent(msg, context);
      if (std::holds_alternative<OwnEcho>(event)) metrics_.echoes_skipped.Increment();
      batch.push_back(ToIncoming(std::move(event), msg));
      raw.push_back(std::move(msg));
    }

    if (!batch.empty()) {
      if (!lock.IsHeld()) {
        lose("advisory lock session lost");
        continue;
      }
      if (absl::Status s = ApplyOrQuarantine(batch, raw, next); !s.ok()) {
        log::Warn("cannot apply change events, re-reading from the stored offsets",
                  {{"status", s}});
        consumer.reset();  // re-assign from the stored offsets
        sleep_for(std::chrono::milliseconds(500));
        continue;
      }
    }
    if (restart) {
      consumer.reset();
      sleep_for(options_.stall_recheck);
      continue;
    }
    if (options_.gate != nullptr && !options_.gate->is_open() && !batch.empty()) {
      CheckJoined(static_cast<int>(next.size()));
    }
    if (options_.gc_interval.count() > 0 &&
        std::chrono::steady_clock::now() - last_gc >= options_.gc_interval) {
      last_gc = std::chrono::steady_clock::now();
      CollectTombstones();
    }
    if (std::chrono::steady_clock::now() - last_lag >= options_.lag_refresh) {
      last_lag = std::chrono::steady_clock::now();
      if (batch.empty() && !lock.IsHeld()) {
        lose("advisory lock session lost");
        continue;
      }
      // The high watermarks the fetch responses carried (cached by librdkafka): no request, so
      // the apply loop never waits here. A ListOffsets request on this handle queues behind the
      // in-flight fetch (up to fetch.wait.max.ms each), which once stalled every batch by
      // seconds (docs/benchmarks.md, "Replication").
      for (const auto& [p, offset] : next) {
        int64_t low = -1, high = -1;
        if (rd_kafka_get_watermark_offsets(consumer->handle(), options_.topic.c_str(), p, &low,
                                           &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            high < 0) {
          continue;  // nothing fetched from this partition yet
        }
        metrics_.SetLag(p, std::max<int64_t>(0, high - offset));
      }
    }
  }
  lose("stopping");
  (void)lock.Release();
}

}  // namespace coffer::vault::sync
