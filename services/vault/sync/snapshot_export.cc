#include "services/vault/sync/snapshot_export.h"

#include <utility>
#include <vector>

#include "services/vault/sync/change_event.h"

namespace coffer::vault::sync {
namespace {

constexpr size_t kMessageBytes = size_t{4} << 20;

using EventField =
    google::protobuf::RepeatedPtrField<std::string>* (v1::ExportSnapshotResponse::*)();

// Encodes each of `items` with `encode` into `field` of messages of at most kMessageBytes (one
// event larger than that goes alone), writing each message once full and the last one if not
// empty. False when `write` returned false.
template <typename T, typename Encode>
bool WriteBounded(const std::vector<T>& items, Encode encode, EventField field,
                  SnapshotWriter write) {
  v1::ExportSnapshotResponse msg;
  size_t bytes = 0;
  int count = 0;
  for (const T& item : items) {
    std::string event = encode(item);
    if (bytes > 0 && bytes + event.size() > kMessageBytes) {
      if (!write(msg)) return false;
      msg.Clear();
      bytes = 0;
      count = 0;
    }
    bytes += event.size();
    (msg.*field)()->Add(std::move(event));
    ++count;
  }
  return count == 0 || write(msg);
}

// The first message: everything of the header but the registers.
v1::ExportSnapshotResponse HeaderMessage(const std::string& shard_id,
                                         const repository::SnapshotHeader& h) {
  v1::ExportSnapshotResponse msg;
  msg.set_shard_id(shard_id);
  for (const auto& [partition, next] : h.positions) {
    v1::SnapshotPosition* p = msg.add_positions();
    p->set_partition(partition);
    p->set_next_offset(next);
  }
  for (const repository::ShardProgressRow& row : h.progress) {
    v1::SnapshotProgress* p = msg.add_progress();
    p->set_shard_id(row.shard_id);
    p->set_partition(row.partition);
    p->set_settled_offset(row.settled_offset);
  }
  for (const repository::SnapshotHeader::Tombstone& t : h.tombstones) {
    v1::SnapshotTombstone* out = msg.add_tombstones();
    out->set_record_id(t.record_id);
    out->set_space_id(t.space_id);
    out->set_partition(t.partition);
    out->set_offset(t.offset);
  }
  return msg;
}

}  // namespace

absl::Status WriteSnapshot(const std::string& shard_id, repository::SnapshotStore& store,
                           SnapshotWriter write) {
  return store.ExportSnapshot(
      [&](const repository::SnapshotHeader& h) {
        if (!write(HeaderMessage(shard_id, h))) return false;
        // Membership registers follow in messages of their own, bounded like revisions.
        return WriteBounded(
            h.registers,
            [](const repository::SpaceRegister& r) {
              return EncodeSpaceChangeEvent(r, /*event_id=*/"");
            },
            &v1::ExportSnapshotResponse::mutable_space_changes, write);
      },
      [&](std::vector<repository::StoredRevision>&& chunk) {
        return WriteBounded(
            chunk,
            [](const repository::StoredRevision& r) {
              return EncodeChangeEvent(r, /*event_id=*/"");
            },
            &v1::ExportSnapshotResponse::mutable_revisions, write);
      });
}

}  // namespace coffer::vault::sync
