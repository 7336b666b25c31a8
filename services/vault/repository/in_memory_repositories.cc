#include "services/vault/repository/in_memory_repositories.h"

#include <algorithm>
#include <tuple>

#include "services/vault/domain/ids.h"

namespace coffer::vault::repository {
namespace {

bool Matches(const StoredRecord& record, const HeadCheck& expected) {
  return record.head.stamp.version == expected.version && record.state_seq == expected.state_seq &&
         record.head.stamp.hlc == expected.hlc &&
         record.head.stamp.origin_shard == expected.origin_shard;
}

}  // namespace

absl::StatusOr<int64_t> InMemoryRecordRepository::Insert(const StoredRevision& revision) {
  std::lock_guard lock(mu_);
  if (records_.count(Key(revision)) > 0) return 0;
  Entry& e = records_[Key(revision)];
  e.record.head = revision;
  e.record.state_seq = 1;
  e.change_seq = ++last_change_seq_;
  e.history.push_back(revision);
  outbox_.push_back(revision);
  return e.change_seq;
}

absl::StatusOr<std::optional<StoredRecord>> InMemoryRecordRepository::Get(
    const std::string& space_id, const std::string& record_id) {
  std::lock_guard lock(mu_);
  auto it = records_.find({space_id, record_id});
  if (it == records_.end()) return std::nullopt;
  StoredRecord record = it->second.record;
  // One lock serializes every change, so the read reflects all of them.
  record.space_position = last_change_seq_;
  return record;
}

absl::StatusOr<int64_t> InMemoryRecordRepository::ReplaceHead(const StoredRevision& revision,
                                                              const HeadCheck& expected,
                                                              int history_keep) {
  std::lock_guard lock(mu_);
  auto it = records_.find(Key(revision));
  if (it == records_.end()) return 0;
  Entry& e = it->second;
  if (e.record.head.space_id != revision.space_id || !Matches(e.record, expected)) {
    return 0;
  }
  StoredRevision head = revision;
  head.created_at_ms = e.record.head.created_at_ms;
  e.record.head = head;
  e.record.siblings.clear();
  ++e.record.state_seq;
  e.change_seq = ++last_change_seq_;
  std::erase_if(e.history, [&](const StoredRevision& h) {
    return history_keep > 0 && h.stamp.version <= revision.stamp.version - history_keep;
  });
  e.history.push_back(revision);
  outbox_.push_back(revision);
  return e.change_seq;
}

absl::StatusOr<int64_t> InMemoryRecordRepository::Purge(const StoredRevision& tombstone,
                                                        const HeadCheck& expected) {
  std::lock_guard lock(mu_);
  auto it = records_.find(Key(tombstone));
  if (it == records_.end()) return 0;
  Entry& e = it->second;
  if (e.record.head.space_id != tombstone.space_id || !Matches(e.record, expected)) {
    return 0;
  }
  int64_t created = e.record.head.created_at_ms;
  e.record.head = tombstone;
  e.record.head.created_at_ms = created;
  e.record.siblings.clear();
  ++e.record.state_seq;
  e.change_seq = ++last_change_seq_;
  e.history.clear();
  outbox_.push_back(tombstone);
  return e.change_seq;
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
  e.change_seq = ++last_change_seq_;
}

absl::StatusOr<std::vector<ChangeEntry>> InMemoryRecordRepository::ListChanges(
    const std::string& space_id, int64_t after_seq, int limit, int64_t* gc_floor) {
  std::lock_guard lock(mu_);
  std::vector<ChangeEntry> out;
  for (const auto& [key, e] : records_) {
    if (key.first != space_id || e.change_seq <= after_seq) continue;
    ChangeEntry c;
    c.change_seq = e.change_seq;
    c.sibling_count = static_cast<int>(e.record.siblings.size());
    c.head = e.record.head;
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(),
            [](const ChangeEntry& a, const ChangeEntry& b) { return a.change_seq < b.change_seq; });
  if (limit >= 0 && out.size() > static_cast<size_t>(limit)) out.resize(static_cast<size_t>(limit));
  if (gc_floor != nullptr) {
    auto it = gc_floor_.find(space_id);
    *gc_floor = it == gc_floor_.end() ? 0 : it->second;
  }
  return out;
}

absl::StatusOr<int64_t> InMemoryRecordRepository::LastChangeSeq() {
  std::lock_guard lock(mu_);
  return last_change_seq_;
}

bool InMemoryRecordRepository::CollectTombstoneForTest(const std::string& space_id,
                                                       const std::string& record_id) {
  std::lock_guard lock(mu_);
  auto it = records_.find({space_id, record_id});
  if (it == records_.end() || !it->second.record.head.purged) return false;
  int64_t& floor = gc_floor_[space_id];
  floor = std::max(floor, it->second.change_seq);
  records_.erase(it);
  return true;
}

void InMemoryRecordRepository::RestoreForTest(int64_t seq) {
  std::lock_guard lock(mu_);
  last_change_seq_ = seq;
  std::erase_if(records_, [seq](const auto& kv) { return kv.second.change_seq > seq; });
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
  s.view.id = space_id;
  s.view.name = "Personal";
  s.view.personal = true;
  s.view.owner_id = user_id;
  s.view.created_at_ms = now_ms;
  s.members[user_id] = Member{"owner", now_ms, {}};
  return absl::OkStatus();
}

std::optional<Role> InMemorySpaceRepository::RoleLocked(const Space& space,
                                                        const std::string& user_id) const {
  if (space.deleted) return std::nullopt;
  if (!space.view.personal && space.view.owner_id == user_id) return Role::kOwner;
  auto m = space.members.find(user_id);
  if (m == space.members.end()) return std::nullopt;
  return RoleFromName(m->second.role);
}

absl::StatusOr<std::optional<Role>> InMemorySpaceRepository::GetRole(const std::string& space_id,
                                                                     const std::string& user_id) {
  std::lock_guard lock(mu_);
  auto it = spaces_.find(space_id);
  if (it == spaces_.end()) return std::nullopt;
  return RoleLocked(it->second, user_id);
}

std::optional<SpaceView> InMemorySpaceRepository::ViewLocked(const Space& space,
                                                             const std::string& user_id) const {
  std::optional<Role> role = RoleLocked(space, user_id);
  if (!role) return std::nullopt;
  SpaceView v = space.view;
  v.role = *role;
  v.member_count = 1;
  for (const auto& [id, m] : space.members) {
    if (m.role != "removed" && id != space.view.owner_id) ++v.member_count;
  }
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
    return std::make_tuple(!a.personal, a.id) < std::make_tuple(!b.personal, b.id);
  });
  return out;
}

absl::StatusOr<std::vector<MemberView>> InMemorySpaceRepository::ListMembers(
    const std::string& space_id) {
  std::lock_guard lock(mu_);
  std::vector<MemberView> out;
  auto it = spaces_.find(space_id);
  if (it == spaces_.end() || it->second.deleted) return out;
  const Space& s = it->second;
  if (!s.view.personal && !s.view.owner_id.empty()) {
    out.push_back({s.view.owner_id, Role::kOwner, s.view.created_at_ms});
  }
  for (const auto& [id, m] : s.members) {
    if (!s.view.personal && id == s.view.owner_id) continue;
    if (std::optional<Role> role = RoleFromName(m.role)) out.push_back({id, *role, m.joined_at_ms});
  }
  return out;
}

absl::StatusOr<std::optional<InvitationRow>> InMemorySpaceRepository::GetInvitation(
    const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = invitations_.find(id);
  if (it == invitations_.end()) return std::nullopt;
  return it->second.first;
}

absl::StatusOr<std::vector<InvitationRow>> InMemorySpaceRepository::ListPendingInvitations(
    const std::string& invitee_id, const std::string& space_id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  std::vector<InvitationRow> out;
  for (const auto& [id, entry] : invitations_) {
    const InvitationRow& i = entry.first;
    auto space = spaces_.find(i.space_id);
    if (i.state != "pending" || i.expires_at_ms <= now_ms || space == spaces_.end() ||
        space->second.deleted) {
      continue;
    }
    if (!invitee_id.empty() && i.invitee_id != invitee_id) continue;
    if (!space_id.empty() && i.space_id != space_id) continue;
    out.push_back(i);
  }
  std::sort(out.begin(), out.end(), [](const InvitationRow& a, const InvitationRow& b) {
    return std::tie(a.created_at_ms, a.id) < std::tie(b.created_at_ms, b.id);
  });
  return out;
}

absl::StatusOr<std::optional<std::string>> InMemorySpaceRepository::GetSpaceNameCt(
    const std::string& space_id) {
  std::lock_guard lock(mu_);
  auto it = spaces_.find(space_id);
  if (it == spaces_.end() || it->second.deleted || it->second.view.personal) return std::nullopt;
  return it->second.view.name_ct;
}

bool InMemorySpaceRepository::MergeLocked(const SpaceRegister& r) {
  if (!domain::IsSharedSpaceId(r.space_id)) return false;  // never a personal space
  Space& s = spaces_[r.space_id];
  if (s.view.personal) return false;
  s.view.id = r.space_id;
  const Stamp stamp{r.hlc, r.origin_shard};
  switch (r.kind) {
    case SpaceRegister::Kind::kInfo: {
      // Name: last writer wins; deleted: only ever turns on (as kMergeSpaceInfo).
      const bool newer = s.info < stamp;
      if (!newer && !(r.deleted && !s.deleted)) return false;
      if (newer) {
        s.info = stamp;
        s.view.name_ct = r.name_ct;
        s.view.created_at_ms = r.created_at_ms;
      }
      s.deleted = s.deleted || r.deleted;
      return true;
    }
    case SpaceRegister::Kind::kOwner:
      if (!(s.owner < stamp)) return false;
      s.owner = stamp;
      s.view.owner_id = r.owner_id;
      return true;
    case SpaceRegister::Kind::kMember: {
      auto [it, fresh] = s.members.try_emplace(r.user_id);
      if (!fresh && !(it->second.stamp < stamp)) return false;
      it->second = Member{r.member_role, r.joined_at_ms, stamp};
      return true;
    }
    case SpaceRegister::Kind::kInvitation: {
      auto [it, fresh] = invitations_.try_emplace(r.invitation.id);
      if (!fresh && !(it->second.second < stamp)) return false;
      it->second = {r.invitation, stamp};
      it->second.first.space_id = r.space_id;
      return true;
    }
  }
  return false;
}

absl::Status InMemorySpaceRepository::WriteRegisters(const std::vector<SpaceRegister>& writes) {
  std::lock_guard lock(mu_);
  const auto spaces = spaces_;
  const auto invitations = invitations_;
  for (const SpaceRegister& r : writes) {
    if (!MergeLocked(r)) {  // all or nothing, as the PostgreSQL transaction
      spaces_ = spaces;
      invitations_ = invitations;
      return absl::AbortedError(
          "a newer change of this space arrived meanwhile; read it and retry");
    }
  }
  queued_.insert(queued_.end(), writes.begin(), writes.end());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SpaceRegister>> InMemorySpaceRepository::ListRegisters(
    const std::string& space_id) {
  std::lock_guard lock(mu_);
  std::vector<SpaceRegister> out;
  auto it = spaces_.find(space_id);
  if (it == spaces_.end() || it->second.view.personal) return out;
  const Space& s = it->second;
  auto base = [&](SpaceRegister::Kind kind, const Stamp& stamp) {
    SpaceRegister r;
    r.kind = kind;
    r.space_id = space_id;
    r.hlc = stamp.hlc;
    r.origin_shard = stamp.origin;
    return r;
  };
  if (s.info.hlc > 0) {
    SpaceRegister r = base(SpaceRegister::Kind::kInfo, s.info);
    r.name_ct = s.view.name_ct;
    r.deleted = s.deleted;
    r.created_at_ms = s.view.created_at_ms;
    out.push_back(r);
  }
  for (const auto& [id, m] : s.members) {
    if (m.stamp.hlc == 0) continue;
    SpaceRegister r = base(SpaceRegister::Kind::kMember, m.stamp);
    r.user_id = id;
    r.member_role = m.role;
    r.joined_at_ms = m.joined_at_ms;
    out.push_back(r);
  }
  if (s.owner.hlc > 0) {
    SpaceRegister r = base(SpaceRegister::Kind::kOwner, s.owner);
    r.owner_id = s.view.owner_id;
    out.push_back(r);
  }
  for (const auto& [id, entry] : invitations_) {
    if (entry.first.space_id != space_id) continue;
    SpaceRegister r = base(SpaceRegister::Kind::kInvitation, entry.second);
    r.invitation = entry.first;
    out.push_back(r);
  }
  return out;
}

bool InMemorySpaceRepository::MergeForTest(const SpaceRegister& r) {
  std::lock_guard lock(mu_);
  return MergeLocked(r);
}

std::vector<SpaceRegister> InMemorySpaceRepository::queued() const {
  std::lock_guard lock(mu_);
  return queued_;
}

void InMemorySpaceRepository::AddMemberForTest(const std::string& space_id,
                                               const std::string& user_id, Role role) {
  std::lock_guard lock(mu_);
  Space& s = spaces_[space_id];
  if (s.view.id.empty()) {
    s.view.id = space_id;
    s.view.name = "Shared";
  }
  if (role == Role::kOwner) {
    s.view.owner_id = user_id;
  } else {
    s.members[user_id] = Member{std::string(RoleName(role)), 0, {}};
  }
}

}  // namespace coffer::vault::repository
