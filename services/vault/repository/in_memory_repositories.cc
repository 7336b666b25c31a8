#include "services/vault/repository/in_memory_repositories.h"

#include <algorithm>
#include <tuple>

namespace coffer::vault::repository {

absl::StatusOr<bool> InMemoryRecordRepository::Insert(const StoredRevision& revision) {
  std::lock_guard lock(mu_);
  if (records_.count(Key(revision)) > 0) return false;
  Entry& e = records_[Key(revision)];
  e.record.head = revision;
  e.record.state_seq = 1;
  e.history.push_back(revision);
  outbox_.push_back(revision);
  return true;
}

absl::StatusOr<std::optional<StoredRecord>> InMemoryRecordRepository::Get(
    const std::string& space_id, const std::string& record_id) {
  std::lock_guard lock(mu_);
  auto it = records_.find({space_id, record_id});
  if (it == records_.end()) return std::nullopt;
  return it->second.record;
}

absl::StatusOr<bool> InMemoryRecordRepository::ReplaceHead(const StoredRevision& revision,
                                                           int64_t expected_version,
                                                           int64_t expected_state_seq,
                                                           int history_keep) {
  std::lock_guard lock(mu_);
  auto it = records_.find(Key(revision));
  if (it == records_.end()) return false;
  Entry& e = it->second;
  if (e.record.head.space_id != revision.space_id ||
      e.record.head.stamp.version != expected_version || e.record.state_seq != expected_state_seq) {
    return false;
  }
  StoredRevision head = revision;
  head.created_at_ms = e.record.head.created_at_ms;
  e.record.head = head;
  e.record.siblings.clear();
  ++e.record.state_seq;
  std::erase_if(e.history, [&](const StoredRevision& h) {
    return history_keep > 0 && h.stamp.version <= revision.stamp.version - history_keep;
  });
  e.history.push_back(revision);
  outbox_.push_back(revision);
  return true;
}

absl::StatusOr<bool> InMemoryRecordRepository::Purge(const StoredRevision& tombstone,
                                                     int64_t expected_version,
                                                     int64_t expected_state_seq) {
  std::lock_guard lock(mu_);
  auto it = records_.find(Key(tombstone));
  if (it == records_.end()) return false;
  Entry& e = it->second;
  if (e.record.head.space_id != tombstone.space_id ||
      e.record.head.stamp.version != expected_version || e.record.state_seq != expected_state_seq) {
    return false;
  }
  int64_t created = e.record.head.created_at_ms;
  e.record.head = tombstone;
  e.record.head.created_at_ms = created;
  e.record.siblings.clear();
  ++e.record.state_seq;
  e.history.clear();
  outbox_.push_back(tombstone);
  return true;
}

absl::StatusOr<std::vector<StoredRecord>> InMemoryRecordRepository::ListHeads(
    const std::string& space_id, const HeadFilter& filter) {
  std::lock_guard lock(mu_);
  std::vector<StoredRecord> out;
  for (const auto& [id, e] : records_) {
    const StoredRevision& h = e.record.head;
    if (h.space_id != space_id || h.purged || h.deleted != filter.in_trash) continue;
    if (!filter.types.empty() &&
        std::find(filter.types.begin(), filter.types.end(), h.type) == filter.types.end()) {
      continue;
    }
    if (filter.in_conflict && e.record.siblings.empty()) continue;
    StoredRecord r = e.record;
    if (!filter.in_conflict) r.siblings.clear();
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::vector<StoredRevision>> InMemoryRecordRepository::ListHistory(
    const std::string& space_id, const std::string& record_id,
    const std::optional<HistoryCursor>& after, int limit) {
  std::lock_guard lock(mu_);
  auto it = records_.find({space_id, record_id});
  if (it == records_.end()) return std::vector<StoredRevision>{};
  std::vector<StoredRevision> h = it->second.history;
  auto key = [](const StoredRevision& r) {
    return std::tie(r.stamp.version, r.stamp.hlc, r.stamp.origin_shard);
  };
  std::sort(h.begin(), h.end(), [&](const auto& a, const auto& b) { return key(a) > key(b); });
  std::vector<StoredRevision> out;
  for (const auto& r : h) {
    if (after && key(r) >= std::tie(after->version, after->hlc, after->origin_shard)) continue;
    if (static_cast<int>(out.size()) >= limit) break;
    out.push_back(r);
  }
  return out;
}

absl::StatusOr<std::optional<StoredRevision>> InMemoryRecordRepository::GetHistoryVersion(
    const std::string& space_id, const std::string& record_id, int64_t version) {
  std::lock_guard lock(mu_);
  auto it = records_.find({space_id, record_id});
  if (it == records_.end()) return std::nullopt;
  std::optional<StoredRevision> best;
  for (const auto& r : it->second.history) {
    if (r.stamp.version == version && (!best || domain::HeadGreater(r.stamp, best->stamp))) {
      best = r;
    }
  }
  return best;
}

absl::StatusOr<std::vector<StoredRevision>> InMemoryRecordRepository::ListSpaceState(
    const std::string& space_id) {
  std::lock_guard lock(mu_);
  std::vector<StoredRevision> out;
  for (const auto& [id, e] : records_) {
    if (e.record.head.space_id != space_id) continue;
    std::vector<StoredRevision> revs = e.record.siblings;
    revs.push_back(e.record.head);
    std::sort(revs.begin(), revs.end(), [](const auto& a, const auto& b) {
      return std::tie(a.stamp.origin_shard, a.stamp.hlc) <
             std::tie(b.stamp.origin_shard, b.stamp.hlc);
    });
    out.insert(out.end(), revs.begin(), revs.end());
  }
  return out;
}

absl::StatusOr<int64_t> InMemoryRecordRepository::OutboxBacklog() {
  std::lock_guard lock(mu_);
  return static_cast<int64_t>(outbox_.size());
}

void InMemoryRecordRepository::AddSiblingForTest(const StoredRevision& sibling) {
  std::lock_guard lock(mu_);
  Entry& e = records_.at(Key(sibling));
  e.record.siblings.push_back(sibling);
  ++e.record.state_seq;
}

std::vector<StoredRevision> InMemoryRecordRepository::OutboxForTest() const {
  std::lock_guard lock(mu_);
  return outbox_;
}

absl::Status InMemorySpaceRepository::EnsurePersonalSpace(const std::string& space_id,
                                                          const std::string& user_id,
                                                          int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (spaces_.count(space_id) > 0) return absl::OkStatus();
  Space& s = spaces_[space_id];
  s.view = SpaceView{space_id, "Personal", true, user_id, Role::kOwner, 1, now_ms};
  s.members[user_id] = Role::kOwner;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Role>> InMemorySpaceRepository::GetRole(const std::string& space_id,
                                                                     const std::string& user_id) {
  std::lock_guard lock(mu_);
  auto it = spaces_.find(space_id);
  if (it == spaces_.end()) return std::nullopt;
  auto m = it->second.members.find(user_id);
  if (m == it->second.members.end()) return std::nullopt;
  return m->second;
}

std::optional<SpaceView> InMemorySpaceRepository::ViewLocked(const Space& space,
                                                             const std::string& user_id) const {
  auto m = space.members.find(user_id);
  if (m == space.members.end()) return std::nullopt;
  SpaceView v = space.view;
  v.role = m->second;
  v.member_count = static_cast<int>(space.members.size());
  return v;
}

absl::StatusOr<std::optional<SpaceView>> InMemorySpaceRepository::GetSpace(
    const std::string& space_id, const std::string& user_id) {
  std::lock_guard lock(mu_);
  auto it = spaces_.find(space_id);
  if (it == spaces_.end()) return std::nullopt;
  return ViewLocked(it->second, user_id);
}

absl::StatusOr<std::vector<SpaceView>> InMemorySpaceRepository::ListSpaces(
    const std::string& user_id) {
  std::lock_guard lock(mu_);
  std::vector<SpaceView> out;
  for (const auto& [id, s] : spaces_) {
    if (auto v = ViewLocked(s, user_id)) out.push_back(*v);
  }
  std::sort(out.begin(), out.end(), [](const SpaceView& a, const SpaceView& b) {
    return std::make_tuple(!a.personal, a.name, a.id) < std::make_tuple(!b.personal, b.name, b.id);
  });
  return out;
}

void InMemorySpaceRepository::AddMemberForTest(const std::string& space_id,
                                               const std::string& user_id, Role role) {
  std::lock_guard lock(mu_);
  Space& s = spaces_[space_id];
  if (s.view.id.empty()) s.view = SpaceView{space_id, "Shared", false, user_id, role, 0, 0};
  s.members[user_id] = role;
}

}  // namespace coffer::vault::repository
