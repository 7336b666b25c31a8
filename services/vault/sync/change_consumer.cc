#include "services/vault/sync/change_consumer.h"

#include <type_traits>
#include <variant>

#include "pkg/kafka/errors.h"
#include "pkg/log/log.h"
#include "pkg/wallclock/wallclock.h"
#include "services/vault/sync/change_event.h"
#include "services/vault/sync/received_event.h"
#include "services/vault/sync/watermarks.h"

namespace coffer::vault::sync {
namespace {

int64_t OwnMergeLimit(const std::map<int32_t, int64_t>& limits, int32_t partition) {
  auto it = limits.find(partition);
  return it == limits.end() ? 0 : it->second;
}

// More events than this failing to merge one after another is not bad events but a broken
// shard: the consumer stops (stalled) instead of quarantining the whole topic.
constexpr int kMaxMergeQuarantinesInARow = 20;

}  // namespace

absl::Status ChangeConsumer::ApplyOrQuarantine(std::vector<repository::IncomingRevision>& batch,
                                               const std::vector<kafka::Message>& raw) {
  const auto apply_start = std::chrono::steady_clock::now();
  absl::StatusOr<repository::MergeOutcome> outcome =
      store_.ApplyBatch(batch, options_.history_keep);
  log::Debug(
      "change batch applied",
      {{"events", static_cast<int64_t>(batch.size())},
       {"apply_ms", static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - apply_start)
                                             .count())}});
  if (outcome.ok()) {
    MergesSucceeded();
    Committed(batch, *outcome);
    return absl::OkStatus();
  }
  if (!IsEventsFault(outcome.status())) return outcome.status();
  log::Warn("a change batch failed for good; applying its events one by one",
            {{"events", static_cast<int64_t>(batch.size())}, {"status", outcome.status()}});
  for (size_t i = 0; i < batch.size(); ++i) {
    std::vector<repository::IncomingRevision> one{std::move(batch[i])};
    absl::StatusOr<repository::MergeOutcome> single = store_.ApplyBatch(one, options_.history_keep);
    if (!single.ok() && !IsEventsFault(single.status())) return single.status();
    if (!single.ok()) {
      if (merge_failures_in_a_row_ >= kMaxMergeQuarantinesInARow) {
        stalled_on_merges_ = true;
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
        single = store_.ApplyBatch(letter, options_.history_keep);
        if (single.ok()) {
          one = std::move(letter);
          break;
        }
        if (!IsEventsFault(single.status())) return single.status();
      }
      if (!single.ok()) return single.status();
      ++merge_failures_in_a_row_;
    } else {
      MergesSucceeded();
    }
    Committed(one, *single);
  }
  return absl::OkStatus();
}

void ChangeConsumer::MergesSucceeded() {
  merge_failures_in_a_row_ = 0;
  if (stalled_on_merges_) {
    stalled_on_merges_ = false;
    SetStall("");
  }
}

void ChangeConsumer::Committed(const std::vector<repository::IncomingRevision>& batch,
                               const repository::MergeOutcome& outcome) {
  const int64_t now = wallclock::NowMs();
  for (const repository::IncomingRevision& in : batch) {
    next_[in.partition] = std::max(next_[in.partition], in.offset + 1);
    if (in.dead_letter) {
      metrics_.Quarantined(in.dead_letter->kind);
      log::Error("change event quarantined (dead letter; AdminService lists it)",
                 {{"kind", in.dead_letter->kind},
                  {"partition", static_cast<int64_t>(in.partition)},
                  {"offset", in.offset},
                  {"claimed_origin", in.dead_letter->origin_shard},
                  {"error", in.dead_letter->error}});
    }
    if (in.space_change) {
      // Membership writes order after every register write seen, as records do.
      const int64_t stamp =
          static_cast<int64_t>(domain::HlcTimestamp::PhysicalMs(in.space_change->hlc));
      if (stamp - now > options_.max_clock_skew.count()) {
        metrics_.clock_skew_ignored.Increment();
      } else {
        hlc_.Observe(in.space_change->hlc);
      }
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

ChangeConsumer::ChangeConsumer(ChangeConsumerOptions options, repository::ReplicaStateStore& store,
                               std::unique_ptr<Leadership> leadership, domain::Hlc& hlc,
                               SyncMetrics& metrics)
    : options_(std::move(options)),
      store_(store),
      hlc_(hlc),
      metrics_(metrics),
      loop_({"consumer", options_.shard_id, std::chrono::milliseconds(1000)}, std::move(leadership),
            metrics) {}

ChangeConsumer::~ChangeConsumer() { Stop(); }

void ChangeConsumer::Start() {
  loop_.Start({.lead = [this] { Round(); },
               .standby = [this] { StandbyRound(); },
               .lost = [this] { consumer_.reset(); }});
}

void ChangeConsumer::Stop() { loop_.Stop(); }

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
  absl::StatusOr<std::vector<int32_t>> own = store_.OwnProgressPartitions(options_.shard_id);
  if (!own.ok() || partitions <= 0 || own->size() < static_cast<size_t>(partitions)) return;
  options_.gate->Open();
  metrics_.replication_joined.Set(1);
  log::Info("joined replication: own progress markers came back on every partition",
            {{"partitions", static_cast<int64_t>(partitions)}});
}

void ChangeConsumer::StandbyRound() {
  // A standby replica shares the leader's database: it may accept writes as soon as the shard
  // has joined (its markers are in shard_progress for every stored partition).
  if (options_.gate == nullptr || options_.gate->is_open()) return;
  absl::StatusOr<std::map<int32_t, int64_t>> stored = store_.LoadOffsets();
  if (stored.ok()) CheckJoined(static_cast<int>(stored->size()));
}

bool ChangeConsumer::Assign() {
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> c = kafka::Consumer::Create(options_.consumer);
  if (!c.ok()) {
    log::Error("cannot create the Kafka consumer", {{"status", c.status()}});
    loop_.Sleep(options_.stall_recheck);
    return false;
  }
  absl::StatusOr<int> n = (*c)->PartitionCount(options_.topic);
  absl::StatusOr<std::map<int32_t, int64_t>> stored = store_.LoadOffsets();
  absl::StatusOr<std::map<int32_t, int64_t>> own = store_.LoadMergeOwnUntil();
  // The first failure of the three reads, logged as it is.
  const absl::Status not_ready = !n.ok()        ? n.status()
                                 : !stored.ok() ? stored.status()
                                                : own.status();
  if (!not_ready.ok()) {
    log::Warn("change consumer cannot start yet",
              {{"topic", options_.topic}, {"status", not_ready}});
    loop_.Sleep(std::chrono::milliseconds(1000));
    return false;
  }
  merge_own_until_ = *std::move(own);
  std::vector<kafka::TopicPartitionOffset> assignment;
  std::string stall;
  next_.clear();
  for (int32_t p = 0; p < *n; ++p) {
    int64_t offset = stored->count(p) ? stored->at(p) : 0;
    absl::StatusOr<kafka::Watermarks> wm =
        QueryWatermarksBounded((*c)->handle(), options_.topic, p, std::chrono::milliseconds(2000));
    if (!wm.ok()) {
      assignment.clear();  // unknown: try again, this is not a refusal
      break;
    }
    if (offset < wm->low) {
      stall = "partition " + std::to_string(p) + ": stored offset " + std::to_string(offset) +
              " is below the log start " + std::to_string(wm->low) +
              " (events were truncated before this shard applied them; re-bootstrap)";
      break;
    }
    next_[p] = offset;
    assignment.push_back({options_.topic, p, offset});
  }
  if (!stall.empty()) {
    SetStall(stall);
    if (options_.recovery != nullptr) {
      log::Warn("change consumer: recovering from the peer's snapshot", {{"reason", stall}});
      absl::Status recovered = options_.recovery->Recover();
      metrics_.recoveries.Add({{"result", recovered.ok() ? "ok" : "failed"}}).Increment();
      if (recovered.ok()) {
        SetStall("");
        return false;  // assign from the positions the snapshot moved forward, next round
      }
      log::Error("change consumer: recovery from the peer failed; retrying later",
                 {{"status", recovered}});
    }
    loop_.Sleep(options_.stall_recheck);
    return false;
  }
  if (assignment.size() != static_cast<size_t>(*n)) {
    loop_.Sleep(std::chrono::milliseconds(1000));
    return false;
  }
  if (absl::Status s = (*c)->Assign(assignment); !s.ok()) {
    log::Warn("cannot assign the change topic", {{"status", s}});
    loop_.Sleep(std::chrono::milliseconds(1000));
    return false;
  }
  // A stall on merge failures stays until merges succeed again.
  if (!stalled_on_merges_) SetStall("");
  consumer_ = *std::move(c);
  if (options_.gate != nullptr && !options_.gate->is_open()) CheckJoined(*n);
  return true;
}

bool ChangeConsumer::PollBatch(std::vector<repository::IncomingRevision>& batch,
                               std::vector<kafka::Message>& raw) {
  // Wait for the first event, then take what is already there.
  for (int i = 0; i < options_.batch_size && !loop_.stopping(); ++i) {
    absl::StatusOr<std::optional<kafka::Message>> m =
        consumer_->Poll(i == 0 ? options_.poll_timeout : std::chrono::milliseconds(0));
    if (!m.ok()) {
      if (absl::IsOutOfRange(m.status())) {
        SetStall("offset out of range: " + std::string(m.status().message()));
        return true;
      }
      if (!kafka::IsRetryable(m.status())) {
        log::Warn("change consumer poll failed", {{"status", m.status()}});
      }
      return false;
    }
    if (!m->has_value()) return false;
    kafka::Message& msg = **m;
    const ClassifyContext context{options_.shard_id, OwnMergeLimit(merge_own_until_, msg.partition),
                                  options_.auth};
    ReceivedEvent event = ClassifyEvent(msg, context);
    if (std::holds_alternative<OwnEcho>(event)) metrics_.echoes_skipped.Increment();
    batch.push_back(ToIncoming(std::move(event), msg));
    raw.push_back(std::move(msg));
  }
  return false;
}

void ChangeConsumer::RefreshLag() {
  // The high watermarks the fetch responses carried (cached by librdkafka): no request, so the
  // apply loop never waits here. A ListOffsets request on this handle queues behind the
  // in-flight fetch (up to fetch.wait.max.ms each), which once stalled every batch by seconds
  // (docs/benchmarks.md, "Replication").
  for (const auto& [p, offset] : next_) {
    int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(consumer_->handle(), options_.topic.c_str(), p, &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      continue;  // nothing fetched from this partition yet
    }
    metrics_.SetLag(p, std::max<int64_t>(0, high - offset));
  }
}

void ChangeConsumer::Round() {
  if (!consumer_ && !Assign()) return;
  std::vector<repository::IncomingRevision> batch;
  std::vector<kafka::Message> raw;  // the batch's messages as read, for dead letters
  const bool restart = PollBatch(batch, raw);
  if (!batch.empty()) {
    if (!loop_.ConfirmLeadership()) return;
    if (absl::Status s = ApplyOrQuarantine(batch, raw); !s.ok()) {
      log::Warn("cannot apply change events, re-reading from the stored offsets", {{"status", s}});
      consumer_.reset();  // re-assign from the stored offsets
      loop_.Sleep(std::chrono::milliseconds(500));
      return;
    }
  }
  if (restart) {
    consumer_.reset();
    loop_.Sleep(options_.stall_recheck);
    return;
  }
  if (options_.gate != nullptr && !options_.gate->is_open() && !batch.empty()) {
    CheckJoined(static_cast<int>(next_.size()));
  }
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_lag_refresh_) {
    next_lag_refresh_ = now + options_.lag_refresh;
    // An idle leader still notices a lost session within lag_refresh.
    if (batch.empty() && !loop_.ConfirmLeadership()) return;
    RefreshLag();
  }
}

}  // namespace coffer::vault::sync
