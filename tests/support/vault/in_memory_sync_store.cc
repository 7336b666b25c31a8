#include "tests/support/vault/in_memory_sync_store.h"

#include <algorithm>
#include <set>

#include "services/vault/domain/merge.h"

namespace coffer::vault::testing {

using repository::StoredRevision;

#define COFFER_FAKE_DOWN() \
  if (down_) return ++down_refusals_, *down_

int64_t InMemorySyncStore::AddOutbox(const StoredRevision& revision) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t id = next_id_++;
  repository::OutboxEntry e;
  e.id = id;
  e.revision = revision;
  outbox_[id] = e;
  return id;
}

int64_t InMemorySyncStore::AddUnreadableOutbox(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t id = next_id_++;
  repository::OutboxEntry e;
  e.id = id;
  e.read_error = absl::DataLossError(why);
  outbox_[id] = e;
  return id;
}

void InMemorySyncStore::AddBlob(const repository::StoredBlob& blob,
                                std::vector<std::string> chunks) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t id = next_id_++;
  blob_outbox_[id] = {repository::BlobOutboxEntry{id, blob}, std::move(chunks)};
}

void InMemorySyncStore::AddSpaceChange(const repository::SpaceRegister& change) {
  std::lock_guard<std::mutex> lock(mu_);
  space_outbox_[next_id_++] = change;
}

size_t InMemorySyncStore::space_outbox_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return space_outbox_.size();
}

std::vector<repository::SpaceRegister> InMemorySyncStore::received_space_changes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return received_space_changes_;
}

absl::StatusOr<std::vector<repository::SpaceOutboxEntry>> InMemorySyncStore::ReadSpaceOutbox(
    int limit) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  std::vector<repository::SpaceOutboxEntry> out;
  for (const auto& [id, change] : space_outbox_) {
    if (static_cast<int>(out.size()) >= limit) break;
    out.push_back({id, change, absl::OkStatus()});
  }
  return out;
}

absl::Status InMemorySyncStore::DeleteSpaceOutbox(const std::vector<int64_t>& ids) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  for (int64_t id : ids) space_outbox_.erase(id);
  return absl::OkStatus();
}

absl::StatusOr<bool> InMemorySyncStore::DeadLetterSpaceOutbox(
    int64_t id, const repository::DeadLetter& letter) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  if (space_outbox_.erase(id) == 0) return false;
  repository::DeadLetter stored = letter;
  stored.id = next_id_++;
  dead_letters_[stored.id] = stored;
  return true;
}

void InMemorySyncStore::SetMergeFault(std::function<absl::Status(const StoredRevision&)> fault) {
  std::lock_guard<std::mutex> lock(mu_);
  merge_fault_ = std::move(fault);
}

void InMemorySyncStore::SetDown(std::optional<absl::Status> error) {
  std::lock_guard<std::mutex> lock(mu_);
  down_ = std::move(error);
}

void InMemorySyncStore::SetOffsets(std::map<int32_t, int64_t> offsets) {
  std::lock_guard<std::mutex> lock(mu_);
  offsets_ = std::move(offsets);
}

std::optional<repository::StoredRecord> InMemorySyncStore::Record(
    const std::string& space_id, const std::string& record_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rows_.find({space_id, record_id});
  if (it == rows_.end() || it->second.revisions.empty()) return std::nullopt;
  repository::StoredRecord r;
  r.head = it->second.revisions.front();
  r.siblings.assign(it->second.revisions.begin() + 1, it->second.revisions.end());
  return r;
}

size_t InMemorySyncStore::record_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rows_.size();
}

size_t InMemorySyncStore::outbox_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outbox_.size();
}

std::vector<repository::DeadLetter> InMemorySyncStore::dead_letters() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<repository::DeadLetter> out;
  for (const auto& [id, d] : dead_letters_) out.push_back(d);
  return out;
}

std::map<int32_t, int64_t> InMemorySyncStore::offsets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return offsets_;
}

std::vector<repository::ShardProgressRow> InMemorySyncStore::progress() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<repository::ShardProgressRow> out;
  for (const auto& [key, settled] : progress_) out.push_back({key.first, key.second, settled});
  return out;
}

int InMemorySyncStore::apply_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return apply_calls_;
}

int InMemorySyncStore::down_refusals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return down_refusals_;
}

size_t InMemorySyncStore::incoming_blob_chunks(const std::string& blob_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = incoming_chunks_.find(blob_id);
  return it == incoming_chunks_.end() ? 0 : it->second.size();
}

// --- OutboxStore ---

absl::StatusOr<std::vector<repository::OutboxEntry>> InMemorySyncStore::ReadOutbox(int limit) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  std::vector<repository::OutboxEntry> out;
  for (const auto& [id, e] : outbox_) {
    if (static_cast<int>(out.size()) >= limit) break;
    out.push_back(e);
  }
  return out;
}

absl::Status InMemorySyncStore::DeleteOutbox(const std::vector<int64_t>& ids) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  for (int64_t id : ids) outbox_.erase(id);
  return absl::OkStatus();
}

absl::StatusOr<bool> InMemorySyncStore::DeadLetterOutbox(int64_t outbox_id,
                                                         const repository::DeadLetter& letter) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  if (outbox_.erase(outbox_id) == 0) return false;
  const int64_t id = next_id_++;
  repository::DeadLetter stored = letter;
  stored.id = id;
  stored.value_bytes = static_cast<int64_t>(stored.value.size());
  dead_letters_[id] = stored;
  return true;
}

absl::StatusOr<std::vector<repository::BlobOutboxEntry>> InMemorySyncStore::ReadBlobOutbox(
    int limit) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  std::vector<repository::BlobOutboxEntry> out;
  for (const auto& [id, q] : blob_outbox_) {
    if (static_cast<int>(out.size()) >= limit) break;
    out.push_back(q.first);
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> InMemorySyncStore::ReadBlobChunk(
    const std::string& blob_id, int index) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  for (const auto& [id, q] : blob_outbox_) {
    if (q.first.blob.blob_id != blob_id) continue;
    if (index < 0 || index >= static_cast<int>(q.second.size())) return std::nullopt;
    return q.second[index];
  }
  return std::nullopt;
}

absl::Status InMemorySyncStore::DeleteBlobOutbox(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  blob_outbox_.erase(id);
  return absl::OkStatus();
}

absl::StatusOr<repository::ProgressSnapshot> InMemorySyncStore::ReadProgressSnapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  repository::ProgressSnapshot snap;
  snap.applied = offsets_;
  snap.outbox_seq_last = next_id_ - 1;
  if (!outbox_.empty()) snap.outbox_min_id = outbox_.begin()->first;
  return snap;
}

// --- ReplicaStateStore ---

void InMemorySyncStore::MergeLocked(std::map<Key, Row>& rows, const StoredRevision& r,
                                    repository::MergeOutcome& outcome, int64_t& seq) const {
  Row& row = rows[{r.space_id, r.record_id}];
  const std::vector<StoredRevision> before = row.revisions;
  std::vector<StoredRevision> after = domain::IsNewIncarnation(before, r)
                                          ? std::vector<StoredRevision>{r}
                                          : domain::MergeSiblings(before, {r});
  if (after == before) {
    ++outcome.unchanged;
    return;
  }
  ++outcome.applied;
  if (before.size() <= 1 && after.size() > 1) ++outcome.conflicts_created;
  if (before.size() > 1 && after.size() == 1) ++outcome.conflicts_resolved;
  row.revisions = std::move(after);
  row.change_seq = ++seq;
}

absl::StatusOr<repository::MergeOutcome> InMemorySyncStore::ApplyBatch(
    const std::vector<repository::IncomingRevision>& batch, int /*history_keep*/) {
  std::lock_guard<std::mutex> lock(mu_);
  ++apply_calls_;
  COFFER_FAKE_DOWN();
  // All or nothing: work on copies, commit at the end.
  std::map<Key, Row> rows = rows_;
  int64_t seq = change_seq_;
  int64_t next_id = next_id_;
  auto progress = progress_;
  auto letters = dead_letters_;
  auto chunks = incoming_chunks_;
  auto offsets = offsets_;
  auto received = received_space_changes_;
  repository::MergeOutcome outcome;
  for (const repository::IncomingRevision& e : batch) {
    if (e.progress_settled >= 0) {
      int64_t& settled = progress[{e.progress_shard, e.partition}];
      settled = std::max(settled, e.progress_settled);
    }
    if (e.own_tombstone) {
      rows[{e.revision.space_id, e.revision.record_id}].gc_position = {e.partition, e.offset};
    }
    if (e.dead_letter) {
      repository::DeadLetter d = *e.dead_letter;
      d.id = next_id++;
      d.value_bytes = static_cast<int64_t>(d.value.size());
      letters[d.id] = d;
    }
    if (e.resolves_dead_letter > 0) letters.erase(e.resolves_dead_letter);
    if (e.blob_chunk) chunks[e.blob_chunk->blob_id][e.blob_chunk_index] = e.blob_chunk_ct;
    if (e.space_change) received.push_back(*e.space_change);
    if (!e.merge) continue;
    if (merge_fault_) {
      if (absl::Status fault = merge_fault_(e.revision); !fault.ok()) return fault;
    }
    MergeLocked(rows, e.revision, outcome, seq);
  }
  for (const repository::IncomingRevision& e : batch) {
    int64_t& next = offsets[e.partition];
    next = std::max(next, e.offset + 1);
  }
  rows_ = std::move(rows);
  change_seq_ = seq;
  next_id_ = next_id;
  progress_ = std::move(progress);
  dead_letters_ = std::move(letters);
  incoming_chunks_ = std::move(chunks);
  offsets_ = std::move(offsets);
  received_space_changes_ = std::move(received);
  return outcome;
}

absl::StatusOr<std::map<int32_t, int64_t>> InMemorySyncStore::LoadOffsets() {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  return offsets_;
}

absl::StatusOr<std::map<int32_t, int64_t>> InMemorySyncStore::LoadMergeOwnUntil() {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  return merge_own_until_;
}

absl::StatusOr<std::vector<int32_t>> InMemorySyncStore::OwnProgressPartitions(
    const std::string& shard_id) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  std::vector<int32_t> out;
  for (const auto& [key, settled] : progress_) {
    if (key.first == shard_id) out.push_back(key.second);
  }
  return out;
}

// --- TombstoneStore ---

absl::StatusOr<std::vector<repository::ShardProgressRow>> InMemorySyncStore::ListProgress() {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  std::vector<repository::ShardProgressRow> out;
  for (const auto& [key, settled] : progress_) out.push_back({key.first, key.second, settled});
  return out;
}

absl::StatusOr<int64_t> InMemorySyncStore::CollectTombstones(int64_t written_before_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  std::set<std::string> shards;
  std::map<int32_t, std::pair<int64_t, size_t>> per_partition;  // min settled, reporters
  for (const auto& [key, settled] : progress_) {
    shards.insert(key.first);
    auto [it, fresh] = per_partition.try_emplace(key.second, settled, 0);
    it->second.first = std::min(it->second.first, settled);
    ++it->second.second;
  }
  int64_t collected = 0;
  for (auto it = rows_.begin(); it != rows_.end();) {
    const Row& row = it->second;
    bool gone = false;
    if (row.gc_position && row.revisions.size() == 1 && row.revisions[0].purged &&
        row.revisions[0].updated_at_ms < written_before_ms) {
      auto h = per_partition.find(row.gc_position->first);
      gone = h != per_partition.end() && h->second.second == shards.size() &&
             row.gc_position->second < h->second.first;
    }
    if (gone) {
      ++collected;
      int64_t& floor = gc_floor_[it->first.first];
      floor = std::max(floor, row.change_seq);
      it = rows_.erase(it);
    } else {
      ++it;
    }
  }
  return collected;
}

// --- ChangeFeedStore ---

absl::StatusOr<std::vector<repository::ChangeEntry>> InMemorySyncStore::ListChanges(
    const std::string& space_id, int64_t after_seq, int limit, int64_t* gc_floor) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  std::vector<repository::ChangeEntry> out;
  for (const auto& [key, row] : rows_) {
    if (key.first != space_id || row.change_seq <= after_seq || row.revisions.empty()) continue;
    out.push_back(
        {row.change_seq, static_cast<int>(row.revisions.size()) - 1, row.revisions.front()});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.change_seq < b.change_seq; });
  if (static_cast<int>(out.size()) > limit) out.resize(limit);
  if (gc_floor != nullptr) {
    auto floor = gc_floor_.find(space_id);
    *gc_floor = floor == gc_floor_.end() ? 0 : floor->second;
  }
  return out;
}

absl::StatusOr<int64_t> InMemorySyncStore::LastChangeSeq() {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  return change_seq_;
}

// --- SnapshotStore ---

absl::Status InMemorySyncStore::ExportSnapshot(
    const std::function<bool(const repository::SnapshotHeader&)>& header,
    const std::function<bool(std::vector<StoredRevision>&&)>& chunk) {
  repository::SnapshotHeader h;
  std::vector<StoredRevision> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    COFFER_FAKE_DOWN();
    h.positions = offsets_;
    for (const auto& [key, settled] : progress_) {
      h.progress.push_back({key.first, key.second, settled});
    }
    for (const auto& [key, row] : rows_) {
      if (row.gc_position) {
        h.tombstones.push_back(
            {key.second, row.gc_position->first, row.gc_position->second, key.first});
      }
      all.insert(all.end(), row.revisions.begin(), row.revisions.end());
    }
  }
  if (!header(h)) return absl::CancelledError("snapshot: stopped by the reader");
  if (!all.empty() && !chunk(std::move(all))) {
    return absl::CancelledError("snapshot: stopped by the reader");
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> InMemorySyncStore::IsEmpty() {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  return rows_.empty() && offsets_.empty();
}

absl::Status InMemorySyncStore::ImportSnapshot(const repository::SnapshotHeader& header,
                                               const std::vector<StoredRevision>& revisions,
                                               const std::map<int32_t, int64_t>& merge_own_until) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  if (!rows_.empty() || !offsets_.empty()) {
    return absl::FailedPreconditionError("snapshot import: the database is not empty");
  }
  repository::MergeOutcome ignored;
  for (const StoredRevision& r : revisions) MergeLocked(rows_, r, ignored, change_seq_);
  offsets_ = header.positions;
  merge_own_until_ = merge_own_until;
  for (const auto& p : header.progress) progress_[{p.shard_id, p.partition}] = p.settled_offset;
  for (const auto& t : header.tombstones) {
    auto it = rows_.find({t.space_id, t.record_id});
    if (it != rows_.end()) it->second.gc_position = {t.partition, t.offset};
  }
  return absl::OkStatus();
}

absl::Status InMemorySyncStore::MergeSnapshot(const repository::SnapshotHeader& header,
                                              const std::vector<StoredRevision>& revisions) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  repository::MergeOutcome ignored;
  for (const StoredRevision& r : revisions) MergeLocked(rows_, r, ignored, change_seq_);
  for (const auto& [p, next] : header.positions) offsets_[p] = std::max(offsets_[p], next);
  for (const auto& p : header.progress) {
    int64_t& settled = progress_[{p.shard_id, p.partition}];
    settled = std::max(settled, p.settled_offset);
  }
  for (const auto& t : header.tombstones) {
    auto it = rows_.find({t.space_id, t.record_id});
    if (it != rows_.end()) it->second.gc_position = {t.partition, t.offset};
  }
  return absl::OkStatus();
}

// --- DeadLetterStore ---

absl::StatusOr<std::vector<repository::DeadLetter>> InMemorySyncStore::ListDeadLetters(
    const std::string& direction, int64_t after_id, int limit) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  std::vector<repository::DeadLetter> out;
  for (auto it = dead_letters_.upper_bound(after_id);
       it != dead_letters_.end() && static_cast<int>(out.size()) < limit; ++it) {
    if (!direction.empty() && it->second.direction != direction) continue;
    repository::DeadLetter d = it->second;
    d.key.reset();
    d.value.clear();
    d.mac.clear();
    out.push_back(std::move(d));
  }
  return out;
}

absl::StatusOr<std::optional<repository::DeadLetter>> InMemorySyncStore::GetDeadLetter(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  auto it = dead_letters_.find(id);
  if (it == dead_letters_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<bool> InMemorySyncStore::DeleteDeadLetter(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  return dead_letters_.erase(id) > 0;
}

absl::StatusOr<bool> InMemorySyncStore::RequeueOutgoing(int64_t id,
                                                        const StoredRevision& revision) {
  std::lock_guard<std::mutex> lock(mu_);
  COFFER_FAKE_DOWN();
  if (dead_letters_.erase(id) == 0) return false;
  const int64_t row = next_id_++;
  repository::OutboxEntry e;
  e.id = row;
  e.revision = revision;
  outbox_[row] = e;
  return true;
}

// --- leadership ---

class ArbitratedLeadership final : public sync::Leadership {
 public:
  explicit ArbitratedLeadership(std::shared_ptr<LeaderArbiter> arbiter)
      : arbiter_(std::move(arbiter)) {}
  ~ArbitratedLeadership() override { Release(); }

  absl::StatusOr<bool> TryAcquire() override {
    std::lock_guard<std::mutex> lock(arbiter_->mu_);
    if (!arbiter_->reachable_) return absl::UnavailableError("arbiter unreachable");
    if (arbiter_->holder_ == this) return true;
    if (arbiter_->holder_ != nullptr) return false;
    arbiter_->holder_ = this;
    ++arbiter_->acquisitions_;
    return true;
  }
  bool IsHeld() override {
    std::lock_guard<std::mutex> lock(arbiter_->mu_);
    return arbiter_->reachable_ && arbiter_->holder_ == this;
  }
  void Release() override {
    std::lock_guard<std::mutex> lock(arbiter_->mu_);
    if (arbiter_->holder_ == this) arbiter_->holder_ = nullptr;
  }

 private:
  std::shared_ptr<LeaderArbiter> arbiter_;
};

std::unique_ptr<sync::Leadership> LeaderArbiter::Make() {
  return std::make_unique<ArbitratedLeadership>(shared_from_this());
}

void LeaderArbiter::RevokeHolder() {
  std::lock_guard<std::mutex> lock(mu_);
  holder_ = nullptr;
}

void LeaderArbiter::SetReachable(bool reachable) {
  std::lock_guard<std::mutex> lock(mu_);
  reachable_ = reachable;
}

int LeaderArbiter::acquisitions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acquisitions_;
}

}  // namespace coffer::vault::testing
