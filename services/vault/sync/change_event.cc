#include "services/vault/sync/change_event.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <limits>

#include "coffer/vault/v1/events.pb.h"
#include "pkg/status/status.h"
#include "services/vault/domain/hlc.h"
#include "services/vault/domain/ids.h"
#include "services/vault/domain/validation.h"
#include "services/vault/wire/record_type.h"

namespace coffer::vault::sync {
namespace {

void AppendField(std::string& out, const std::string& field) {
  uint32_t n = static_cast<uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out += field;
}

bool ReadField(const std::string& in, size_t& pos, std::string* field) {
  if (in.size() - pos < 4) return false;
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>(in[pos + i]);
  pos += 4;
  if (in.size() - pos < n) return false;
  field->assign(in, pos, n);
  pos += n;
  return true;
}

void SetTime(int64_t ms, google::protobuf::Timestamp* out) {
  out->set_seconds(ms / 1000);
  out->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
}

// The event's bytes with map entries (vector counters, settled offsets) in key order: protobuf
// writes maps in hash order otherwise, which differs between two copies of one event.
std::string Serialize(const v1::ChangeEvent& e) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    e.SerializeToCodedStream(&coded);
  }
  return out;
}

// Reads `t` as milliseconds since the epoch into `*ms`. INVALID_ARGUMENT only where the
// milliseconds would not fit in int64 (|seconds| beyond ~292 million years) or nanos is a second
// or more: every time a shard can write (SetTime of a wall clock or of an HLC's 48-bit physical
// part, far beyond year 9999) reads back exactly, so no peer refuses what a shard published.
absl::Status TimeMs(const google::protobuf::Timestamp& t, int64_t* ms) {
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1000 - 1;
  constexpr int32_t kNanosPerSecond = 1000000000;
  if (t.seconds() < -kMaxSeconds || t.seconds() > kMaxSeconds || t.nanos() <= -kNanosPerSecond ||
      t.nanos() >= kNanosPerSecond) {
    return absl::InvalidArgumentError("change event: timestamp out of range");
  }
  *ms = t.seconds() * 1000 + t.nanos() / 1000000;
  return absl::OkStatus();
}

}  // namespace

std::string EventKey(const repository::StoredRevision& r) {
  return r.stamp.origin_shard + "|" + r.space_id + "|" + r.record_id;
}

int32_t PartitionForSpace(const std::string& space_id, int partition_count) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : space_id) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return partition_count <= 0 ? 0
                              : static_cast<int32_t>(hash % static_cast<uint64_t>(partition_count));
}

std::string EncodeChangeEvent(const repository::StoredRevision& r, const std::string& event_id) {
  v1::ChangeEvent e;
  e.set_schema_version(kChangeEventSchemaVersion);
  e.set_event_id(event_id);
  e.set_origin_shard(r.stamp.origin_shard);
  e.set_space_id(r.space_id);
  e.set_record_id(r.record_id);
  e.set_type(wire::TypeToProto(r.type));
  e.set_version(static_cast<uint64_t>(r.stamp.version));
  for (const auto& [shard, counter] : r.stamp.vector.counters()) {
    (*e.mutable_vector()->mutable_counters())[shard] = counter;
  }
  e.mutable_hlc()->set_physical_ms(domain::HlcTimestamp::PhysicalMs(r.stamp.hlc));
  e.mutable_hlc()->set_logical(static_cast<uint32_t>(domain::HlcTimestamp::Logical(r.stamp.hlc)));
  e.set_deleted(r.deleted);
  e.set_purged(r.purged);
  if (!r.purged) {
    std::string content;
    AppendField(content, r.name_ct);
    AppendField(content, r.metadata_ct);
    AppendField(content, r.payload_ct);
    e.set_encrypted_content(std::move(content));
  }
  e.set_key_id(r.key_id);
  SetTime(r.created_at_ms, e.mutable_create_time());
  SetTime(r.updated_at_ms, e.mutable_update_time());
  return Serialize(e);
}

namespace {

absl::Status CheckHeader(const v1::ChangeEvent& e) {
  if (e.schema_version() == 0) return absl::InvalidArgumentError("change event: no schema_version");
  if (e.schema_version() > kChangeEventSchemaVersion) {
    return absl::FailedPreconditionError("change event: schema_version " +
                                         std::to_string(e.schema_version()) +
                                         " is newer than this build understands");
  }
  return absl::OkStatus();
}

absl::StatusOr<repository::StoredRevision> RevisionFromEvent(const v1::ChangeEvent& e) {
  if (e.has_progress()) return absl::InvalidArgumentError("change event: a progress marker");
  if (e.has_blob_chunk()) return absl::InvalidArgumentError("change event: a blob chunk");
  if (e.has_space_change()) return absl::InvalidArgumentError("change event: a space change");
  if (!domain::IsUuid(e.space_id()) || !domain::IsUuid(e.record_id()) || e.origin_shard().empty()) {
    return absl::InvalidArgumentError("change event: bad space, record or origin");
  }
  repository::StoredRevision r;
  r.space_id = domain::CanonicalUuid(e.space_id());
  r.record_id = domain::CanonicalUuid(e.record_id());
  std::optional<domain::RecordType> type = wire::TypeFromProto(e.type());
  if (!type) return absl::InvalidArgumentError("change event: unknown record type");
  r.type = *type;
  if (e.version() == 0 || e.version() > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError("change event: bad version");
  }
  r.stamp.version = static_cast<int64_t>(e.version());
  for (const auto& [shard, counter] : e.vector().counters()) r.stamp.vector.Set(shard, counter);
  // An HLC holds 48 bits of milliseconds and 16 of counter; more would be cut off silently.
  if (e.hlc().physical_ms() > domain::HlcTimestamp::kMaxPhysicalMs ||
      e.hlc().logical() > domain::HlcTimestamp::kLogicalMask) {
    return absl::InvalidArgumentError("change event: hlc beyond 48 + 16 bits");
  }
  r.stamp.hlc = domain::HlcTimestamp::Pack(e.hlc().physical_ms(), e.hlc().logical());
  r.stamp.origin_shard = e.origin_shard();
  if (r.stamp.vector.Get(r.stamp.origin_shard) == 0) {
    return absl::InvalidArgumentError("change event: vector lacks the origin's counter");
  }
  r.deleted = e.deleted();
  r.purged = e.purged();
  if (r.purged && !r.deleted)
    return absl::InvalidArgumentError("change event: purged, not deleted");
  r.key_id = e.key_id();
  if (!r.purged) {
    size_t pos = 0;
    const std::string& c = e.encrypted_content();
    if (!ReadField(c, pos, &r.name_ct) || !ReadField(c, pos, &r.metadata_ct) ||
        !ReadField(c, pos, &r.payload_ct) || pos != c.size() || r.name_ct.empty()) {
      return absl::InvalidArgumentError("change event: malformed encrypted_content");
    }
  }
  COFFER_RETURN_IF_ERROR(TimeMs(e.create_time(), &r.created_at_ms));
  COFFER_RETURN_IF_ERROR(TimeMs(e.update_time(), &r.updated_at_ms));
  return r;
}

}  // namespace

absl::StatusOr<repository::StoredRevision> DecodeChangeEvent(const std::string& value) {
  v1::ChangeEvent e;
  if (!e.ParseFromString(value))
    return absl::InvalidArgumentError("change event: not a ChangeEvent");
  if (absl::Status s = CheckHeader(e); !s.ok()) return s;
  return RevisionFromEvent(e);
}

std::string ProgressKey(const std::string& shard) { return "progress|" + shard; }

std::string EncodeProgressMarker(const ProgressMarker& marker, const std::string& event_id) {
  v1::ChangeEvent e;
  e.set_schema_version(kChangeEventSchemaVersion);
  e.set_event_id(event_id);
  e.set_origin_shard(marker.shard_id);
  auto* offsets = e.mutable_progress()->mutable_settled_offsets();
  for (const auto& [partition, offset] : marker.settled_offsets) (*offsets)[partition] = offset;
  return Serialize(e);
}

std::string BlobChunkKey(const std::string& blob_id) { return "blob|" + blob_id; }

std::string EncodeBlobChunkEvent(const BlobChunk& chunk, const std::string& event_id) {
  v1::ChangeEvent e;
  e.set_schema_version(kChangeEventSchemaVersion);
  e.set_event_id(event_id);
  e.set_origin_shard(chunk.origin_shard);
  v1::BlobChunkEvent* c = e.mutable_blob_chunk();
  c->set_schema_version(kChangeEventSchemaVersion);
  c->set_event_id(event_id);
  c->set_origin_shard(chunk.origin_shard);
  c->set_space_id(chunk.blob.space_id);
  c->set_blob_id(chunk.blob.blob_id);
  c->set_chunk_index(static_cast<uint32_t>(chunk.index));
  c->set_chunk_count(static_cast<uint32_t>(chunk.blob.chunk_count));
  c->set_size_bytes(static_cast<uint64_t>(chunk.blob.size_bytes));
  c->set_encrypted_chunk(chunk.chunk_ct);
  c->set_key_id(chunk.blob.key_id);
  SetTime(chunk.blob.created_at_ms, c->mutable_create_time());
  c->set_sealed_info(chunk.blob.info_ct);
  return Serialize(e);
}

namespace {

absl::StatusOr<BlobChunk> BlobChunkFromEvent(const v1::ChangeEvent& e) {
  const v1::BlobChunkEvent& c = e.blob_chunk();
  if (!e.record_id().empty() || !e.space_id().empty() || e.has_progress()) {
    return absl::InvalidArgumentError("blob chunk: carries a record or progress too");
  }
  if (!domain::IsUuid(c.space_id()) || !domain::IsUuid(c.blob_id()) || c.origin_shard().empty() ||
      c.origin_shard() != e.origin_shard()) {
    return absl::InvalidArgumentError("blob chunk: bad space, blob or origin");
  }
  constexpr uint64_t kMaxChunk = repository::kBlobChunkBytes;
  // An empty blob travels as one event: index 0 of 0 chunks, no content.
  const bool empty_blob = c.chunk_count() == 0;
  if (c.size_bytes() > (uint64_t{16} << 30) ||
      c.chunk_count() != (c.size_bytes() + kMaxChunk - 1) / kMaxChunk ||
      (empty_blob ? c.chunk_index() != 0 || !c.encrypted_chunk().empty()
                  : c.chunk_index() >= c.chunk_count() || c.encrypted_chunk().empty()) ||
      c.sealed_info().empty() || c.key_id().empty()) {
    return absl::InvalidArgumentError("blob chunk: inconsistent size, count, index or content");
  }
  BlobChunk out;
  out.origin_shard = c.origin_shard();
  out.blob.blob_id = domain::CanonicalUuid(c.blob_id());
  out.blob.space_id = domain::CanonicalUuid(c.space_id());
  out.blob.size_bytes = static_cast<int64_t>(c.size_bytes());
  out.blob.chunk_count = static_cast<int>(c.chunk_count());
  out.blob.key_id = c.key_id();
  out.blob.info_ct = c.sealed_info();
  COFFER_RETURN_IF_ERROR(TimeMs(c.create_time(), &out.blob.created_at_ms));
  out.index = static_cast<int>(c.chunk_index());
  out.chunk_ct = c.encrypted_chunk();
  return out;
}

}  // namespace

std::string SpaceChangeKey(const repository::SpaceRegister& change) {
  // The origin is part of the key, so log compaction keeps every origin's last write of a
  // register (whose merge decides), not just the last one in offset order.
  return change.origin_shard + "|space|" + change.space_id + "|" + repository::RegisterKey(change);
}

std::string EncodeSpaceChangeEvent(const repository::SpaceRegister& r,
                                   const std::string& event_id) {
  v1::ChangeEvent e;
  e.set_schema_version(kChangeEventSchemaVersion);
  e.set_event_id(event_id);
  e.set_origin_shard(r.origin_shard);
  e.set_space_id(r.space_id);
  v1::SpaceChange* c = e.mutable_space_change();
  c->mutable_hlc()->set_physical_ms(domain::HlcTimestamp::PhysicalMs(r.hlc));
  c->mutable_hlc()->set_logical(static_cast<uint32_t>(domain::HlcTimestamp::Logical(r.hlc)));
  switch (r.kind) {
    case repository::SpaceRegister::Kind::kInfo:
      c->mutable_info()->set_name_ct(r.name_ct);
      c->mutable_info()->set_deleted(r.deleted);
      SetTime(r.created_at_ms, c->mutable_info()->mutable_create_time());
      break;
    case repository::SpaceRegister::Kind::kOwner:
      c->set_owner_id(r.owner_id);
      break;
    case repository::SpaceRegister::Kind::kMember:
      c->mutable_member()->set_user_id(r.user_id);
      c->mutable_member()->set_role(r.member_role);
      SetTime(r.joined_at_ms, c->mutable_member()->mutable_join_time());
      break;
    case repository::SpaceRegister::Kind::kInvitation: {
      v1::SpaceInvitationRegister* i = c->mutable_invitation();
      i->set_id(r.invitation.id);
      i->set_inviter_id(r.invitation.inviter_id);
      i->set_invitee_id(r.invitation.invitee_id);
      i->set_role(std::string(repository::RoleName(r.invitation.role)));
      i->set_state(r.invitation.state);
      SetTime(r.invitation.created_at_ms, i->mutable_create_time());
      SetTime(r.invitation.expires_at_ms, i->mutable_expire_time());
      break;
    }
  }
  return Serialize(e);
}

namespace {

// A user id as a register names it: 1-256 printable characters.
bool IsUserId(const std::string& id) {
  if (id.empty() || id.size() > 256) return false;
  for (unsigned char ch : id) {
    if (ch < 0x21 || ch > 0x7e) return false;
  }
  return true;
}

bool OneOf(const std::string& value, std::initializer_list<std::string_view> allowed) {
  for (std::string_view a : allowed) {
    if (value == a) return true;
  }
  return false;
}

absl::StatusOr<repository::SpaceRegister> SpaceChangeFromEvent(const v1::ChangeEvent& e) {
  using Kind = repository::SpaceRegister::Kind;
  const v1::SpaceChange& c = e.space_change();
  if (e.has_progress() || e.has_blob_chunk() || !e.record_id().empty()) {
    return absl::InvalidArgumentError("space change: carries a record, progress or chunk too");
  }
  // A register names a shared space (a v4 id), never a personal one (v5), whatever a peer or
  // a forger sends; its clock fits the 48 bits of an HLC's physical part.
  if (!domain::IsUuid(e.space_id()) ||
      !domain::IsSharedSpaceId(domain::CanonicalUuid(e.space_id())) || e.origin_shard().empty() ||
      c.hlc().physical_ms() == 0 || c.hlc().physical_ms() >= (uint64_t{1} << 47) ||
      c.hlc().logical() > 0xffff) {
    return absl::InvalidArgumentError("space change: bad space, origin or clock");
  }
  repository::SpaceRegister r;
  r.space_id = domain::CanonicalUuid(e.space_id());
  r.origin_shard = e.origin_shard();
  r.hlc = domain::HlcTimestamp::Pack(c.hlc().physical_ms(), c.hlc().logical());
  constexpr size_t kMaxNameCt = 4096;
  switch (c.register_case()) {
    case v1::SpaceChange::kInfo:
      r.kind = Kind::kInfo;
      r.name_ct = c.info().name_ct();
      r.deleted = c.info().deleted();
      COFFER_RETURN_IF_ERROR(TimeMs(c.info().create_time(), &r.created_at_ms));
      if (r.name_ct.empty() || r.name_ct.size() > kMaxNameCt) {
        return absl::InvalidArgumentError("space change: bad sealed name");
      }
      break;
    case v1::SpaceChange::kOwnerId:
      r.kind = Kind::kOwner;
      r.owner_id = c.owner_id();
      if (!IsUserId(r.owner_id)) return absl::InvalidArgumentError("space change: bad owner");
      break;
    case v1::SpaceChange::kMember:
      r.kind = Kind::kMember;
      r.user_id = c.member().user_id();
      r.member_role = c.member().role();
      COFFER_RETURN_IF_ERROR(TimeMs(c.member().join_time(), &r.joined_at_ms));
      if (!IsUserId(r.user_id) || !OneOf(r.member_role, {"reader", "writer", "admin", "removed"})) {
        return absl::InvalidArgumentError("space change: bad member or role");
      }
      break;
    case v1::SpaceChange::kInvitation: {
      r.kind = Kind::kInvitation;
      const v1::SpaceInvitationRegister& i = c.invitation();
      repository::InvitationRow& row = r.invitation;
      std::optional<repository::Role> role = repository::RoleFromName(i.role());
      if (!domain::IsUuid(i.id()) || !IsUserId(i.inviter_id()) || !IsUserId(i.invitee_id()) ||
          !role || *role == repository::Role::kOwner ||
          !OneOf(i.state(), {"pending", "accepted", "declined", "revoked"})) {
        return absl::InvalidArgumentError("space change: bad invitation");
      }
      row.id = domain::CanonicalUuid(i.id());
      row.space_id = r.space_id;
      row.inviter_id = i.inviter_id();
      row.invitee_id = i.invitee_id();
      row.role = *role;
      row.state = i.state();
      COFFER_RETURN_IF_ERROR(TimeMs(i.create_time(), &row.created_at_ms));
      COFFER_RETURN_IF_ERROR(TimeMs(i.expire_time(), &row.expires_at_ms));
      break;
    }
    default:
      return absl::InvalidArgumentError("space change: no register");
  }
  return r;
}

}  // namespace

absl::StatusOr<TopicEvent> DecodeTopicEvent(const std::string& value) {
  v1::ChangeEvent e;
  if (!e.ParseFromString(value))
    return absl::InvalidArgumentError("change event: not a ChangeEvent");
  if (absl::Status s = CheckHeader(e); !s.ok()) return s;
  TopicEvent out;
  if (e.has_space_change()) {
    absl::StatusOr<repository::SpaceRegister> c = SpaceChangeFromEvent(e);
    if (!c.ok()) return c.status();
    out.space_change = *std::move(c);
    return out;
  }
  if (e.has_blob_chunk()) {
    absl::StatusOr<BlobChunk> c = BlobChunkFromEvent(e);
    if (!c.ok()) return c.status();
    out.blob_chunk = *std::move(c);
    return out;
  }
  if (!e.has_progress()) {
    absl::StatusOr<repository::StoredRevision> r = RevisionFromEvent(e);
    if (!r.ok()) return r.status();
    out.revision = *std::move(r);
    return out;
  }
  if (e.origin_shard().empty() || !e.record_id().empty() || !e.space_id().empty()) {
    return absl::InvalidArgumentError("progress marker: needs an origin and no record");
  }
  ProgressMarker m;
  m.shard_id = e.origin_shard();
  for (const auto& [partition, offset] : e.progress().settled_offsets()) {
    if (partition < 0 || offset < 0) {
      return absl::InvalidArgumentError("progress marker: negative partition or offset");
    }
    m.settled_offsets[partition] = offset;
  }
  out.progress = std::move(m);
  return out;
}

}  // namespace coffer::vault::sync
