#include "services/vault/repository/pg_sync_repository.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <pqxx/binarystring>
#include <pqxx/cursor>
#include <pqxx/result>
#include <pqxx/transaction_base>
#include <set>

#include "pkg/postgres/prepared.h"
#include "pkg/postgres/transaction.h"
#include "pkg/status/status.h"
#include "services/vault/domain/merge.h"
#include "services/vault/repository/pg_blob_repository.h"
#include "services/vault/repository/pg_rows.h"
#include "services/vault/repository/pg_space_repository.h"
#include "services/vault/repository/sql.h"

namespace coffer::vault::repository {
namespace {

using internal::ExecRevision;
using internal::ReadRevision;
using postgres::IsolationLevel;

bool Contains(const std::vector<StoredRevision>& set, const domain::RevisionStamp& stamp) {
  for (const StoredRevision& r : set) {
    if (r.stamp == stamp) return true;
  }
  return false;
}

// Merges one revision (read at `partition`/`offset`) inside `txn`; updates `outcome`.
absl::Status MergeOne(pqxx::transaction_base& txn, const StoredRevision& incoming,
                      int32_t partition, int64_t offset, int history_keep, MergeOutcome& outcome) {
  if (!ExecRevision(txn, sql::kMergeInsertHead, incoming, partition, offset).empty()) {
    ++outcome.applied;  // first revision of this record seen here
    return absl::OkStatus();
  }
  postgres::ExecPrepared(txn, sql::kLockRecord, incoming.record_id, incoming.space_id);
  pqxx::result rows =
      postgres::ExecPrepared(txn, sql::kSelectRecord, incoming.record_id, incoming.space_id);
  std::vector<StoredRevision> current;
  for (const auto& row : rows) {
    COFFER_ASSIGN_OR_RETURN(StoredRevision r, ReadRevision(row));
    current.push_back(std::move(r));
  }
  // A record purged and garbage-collected on another shard may be created again there with the
  // same id; its first revisions then look dominated by the tombstone still held here, although
  // they are newer than it (see domain::IsNewIncarnation). They replace the tombstone.
  std::vector<StoredRevision> merged = domain::IsNewIncarnation(current, incoming)
                                           ? std::vector<StoredRevision>{incoming}
                                           : domain::MergeSiblings(current, {incoming});
  bool unchanged = merged.size() == current.size();
  for (size_t i = 0; unchanged && i < merged.size(); ++i) {
    unchanged = Contains(current, merged[i].stamp);
  }
  if (unchanged) {
    ++outcome.unchanged;
    // A tombstone held without a GC position (imported with a snapshot while its event was
    // still unpublished) gets one when its event is read.
    if (incoming.purged && offset >= 0) {
      postgres::ExecPrepared(
          txn, sql::kMarkOwnTombstone, incoming.record_id, partition, offset,
          incoming.stamp.origin_shard,
          static_cast<int64_t>(incoming.stamp.vector.Get(incoming.stamp.origin_shard)),
          incoming.space_id);
    }
    return absl::OkStatus();
  }
  ++outcome.applied;
  const StoredRevision& head = merged.front();
  const bool gc_candidate =
      offset >= 0 && head.purged && merged.size() == 1 && head.stamp == incoming.stamp;
  ExecRevision(txn, sql::kMergeSetHead, head, static_cast<int>(merged.size() - 1), gc_candidate,
               partition, offset);
  postgres::ExecPrepared(txn, sql::kMergeDeleteSiblings, incoming.record_id, incoming.space_id);
  for (size_t i = 1; i < merged.size(); ++i) {
    ExecRevision(txn, sql::kMergeInsertSibling, merged[i]);
  }
  if (head.purged) {
    postgres::ExecPrepared(txn, sql::kMergeDropHistory, incoming.record_id, incoming.space_id);
  } else if (!incoming.purged && Contains(merged, incoming.stamp)) {
    ExecRevision(txn, sql::kMergeInsertHistory, incoming);
    if (history_keep > 0) {
      postgres::ExecPrepared(txn, sql::kMergeRetention, incoming.record_id,
                             static_cast<int64_t>(history_keep), incoming.space_id);
    }
  }
  size_t before = current.empty() ? 0 : current.size() - 1;
  size_t after = merged.size() - 1;
  if (before == 0 && after > 0) ++outcome.conflicts_created;
  if (before > 0 && after == 0) ++outcome.conflicts_resolved;
  return absl::OkStatus();
}

pqxx::result ExecDeadLetter(pqxx::transaction_base& txn, const char* sql, const DeadLetter& d,
                            std::optional<int64_t> outbox_id = std::nullopt) {
  auto exec = [&](auto&&... extra) {
    return postgres::ExecPrepared(txn, sql, d.direction, d.kind, d.error, d.partition, d.offset,
                                  d.origin_shard, pqxx::binarystring(d.key.value_or("")),
                                  pqxx::binarystring(d.value), d.mac_key_id,
                                  pqxx::binarystring(d.mac), d.key.has_value(), extra...);
  };
  return outbox_id ? exec(*outbox_id) : exec();
}

DeadLetter ReadDeadLetter(const pqxx::row& row) {
  DeadLetter d;
  d.id = row[0].as<int64_t>();
  d.direction = row[1].as<std::string>();
  d.kind = row[2].as<std::string>();
  d.error = row[3].as<std::string>();
  d.partition = row[4].as<int32_t>();
  d.offset = row[5].as<int64_t>();
  d.origin_shard = row[6].as<std::string>();
  if (row[7].as<bool>()) d.key = internal::Bytes(row[8]);
  d.value = internal::Bytes(row[9]);
  d.mac_key_id = row[10].as<std::string>();
  d.mac = internal::Bytes(row[11]);
  d.created_at_ms = row[12].as<int64_t>();
  d.value_bytes = row.size() > 13 ? row[13].as<int64_t>() : static_cast<int64_t>(d.value.size());
  return d;
}

// A snapshot's GC registry (the peer's progress rows, never moved back) and the GC positions of
// its tombstones.
void StoreSnapshotRegistry(pqxx::transaction_base& txn, const SnapshotHeader& header) {
  for (const ShardProgressRow& p : header.progress) {
    postgres::ExecPrepared(txn, sql::kStoreProgress, p.shard_id, p.partition, p.settled_offset);
  }
  for (const SnapshotHeader::Tombstone& t : header.tombstones) {
    postgres::ExecPrepared(txn, sql::kSetTombstonePosition, t.record_id, t.partition, t.offset,
                           t.space_id);
  }
  // Membership (V010): registers merge by their own rule, so importing them is a join too.
  for (const SpaceRegister& r : header.registers) internal::MergeRegister(txn, r);
}

}  // namespace

absl::StatusOr<bool> PgSyncRepository::DeadLetterOutbox(int64_t outbox_id,
                                                        const DeadLetter& letter) {
  bool moved = false;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        moved = !ExecDeadLetter(txn, sql::kDeadLetterOutbox, letter, outbox_id).empty();
        return absl::OkStatus();
      }));
  return moved;
}

absl::StatusOr<std::vector<SpaceOutboxEntry>> PgSyncRepository::ReadSpaceOutbox(int limit) {
  std::vector<SpaceOutboxEntry> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        out.clear();
        for (const auto& row : postgres::ExecPrepared(txn, sql::kSelectSpaceOutbox, limit)) {
          SpaceOutboxEntry e;
          e.id = row[0].as<int64_t>();
          absl::StatusOr<SpaceRegister> change = RegisterFromJson(row[1].as<std::string>());
          if (change.ok()) {
            e.change = *std::move(change);
          } else {
            e.read_error = change.status();
          }
          out.push_back(std::move(e));
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::Status PgSyncRepository::DeleteSpaceOutbox(const std::vector<int64_t>& ids) {
  if (ids.empty()) return absl::OkStatus();
  return postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        postgres::ExecPrepared(txn, sql::kDeleteSpaceOutbox, postgres::ArrayLiteral(ids));
        return absl::OkStatus();
      });
}

absl::StatusOr<bool> PgSyncRepository::DeadLetterSpaceOutbox(int64_t id, const DeadLetter& letter) {
  bool moved = false;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        moved = !ExecDeadLetter(txn, sql::kDeadLetterSpaceOutbox, letter, id).empty();
        return absl::OkStatus();
      }));
  return moved;
}

absl::StatusOr<std::vector<DeadLetter>> PgSyncRepository::ListDeadLetters(
    const std::string& direction, int64_t after_id, int limit) {
  std::vector<DeadLetter> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        out.clear();
        for (const auto& row :
             postgres::ExecPrepared(txn, sql::kListDeadLetters, after_id, direction, limit)) {
          out.push_back(ReadDeadLetter(row));
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::optional<DeadLetter>> PgSyncRepository::GetDeadLetter(int64_t id) {
  std::optional<DeadLetter> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        pqxx::result rows = postgres::ExecPrepared(txn, sql::kSelectDeadLetter, id);
        out = rows.empty() ? std::nullopt : std::optional<DeadLetter>(ReadDeadLetter(rows[0]));
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<bool> PgSyncRepository::DeleteDeadLetter(int64_t id) {
  bool deleted = false;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        deleted = !postgres::ExecPrepared(txn, sql::kDeleteDeadLetter, id).empty();
        return absl::OkStatus();
      }));
  return deleted;
}

absl::StatusOr<bool> PgSyncRepository::RequeueOutgoing(int64_t id, const StoredRevision& revision) {
  bool requeued = false;
  COFFER_RETURN_IF_ERROR(postgres::RunInTransaction(
      pool_, IsolationLevel::kReadCommitted, [&](pqxx::transaction_base& txn) -> absl::Status {
        requeued = !postgres::ExecPrepared(txn, sql::kDeleteDeadLetter, id).empty();
        if (requeued) ExecRevision(txn, sql::kRequeueOutbox, revision);
        return absl::OkStatus();
      }));
  return requeued;
}

absl::StatusOr<std::vector<OutboxEntry>> PgSyncRepository::ReadOutbox(int limit) {
  std::vector<OutboxEntry> out;
  absl::Status st = postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        out.clear();
        pqxx::result rows = postgres::ExecPrepared(txn, sql::kSelectOutbox, limit);
        for (const auto& row : rows) {
          OutboxEntry e;
          e.id = row[0].as<int64_t>();
          e.enqueued_at_ms = row[1].as<int64_t>();
          absl::StatusOr<StoredRevision> revision = ReadRevision(row);
          if (revision.ok()) {
            e.revision = *std::move(revision);
          } else {
            e.read_error = revision.status();
            e.revision.record_id = row[2].as<std::string>();
            e.revision.space_id = row[3].as<std::string>();
          }
          out.push_back(std::move(e));
        }
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  return out;
}

absl::Status PgSyncRepository::DeleteOutbox(const std::vector<int64_t>& ids) {
  if (ids.empty()) return absl::OkStatus();
  const std::string array = postgres::ArrayLiteral(ids);
  // Deleting rows by id twice deletes them once: safe to retry.
  return postgres::RunSingleStatement(pool_, postgres::Statement::kIdempotent,
                                      [&](pqxx::transaction_base& txn) -> absl::Status {
                                        postgres::ExecPrepared(txn, sql::kDeleteOutbox, array);
                                        return absl::OkStatus();
                                      });
}

absl::StatusOr<std::vector<BlobOutboxEntry>> PgSyncRepository::ReadBlobOutbox(int limit) {
  std::vector<BlobOutboxEntry> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        out.clear();
        for (const auto& row : postgres::ExecPrepared(txn, sql::kReadBlobOutbox, limit)) {
          BlobOutboxEntry e;
          e.id = row[0].as<int64_t>();
          e.blob = internal::ReadBlob(row, 1);
          out.push_back(std::move(e));
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::optional<std::string>> PgSyncRepository::ReadBlobChunk(
    const std::string& blob_id, int index) {
  return PgBlobRepository(pool_).GetChunk(blob_id, index);
}

absl::Status PgSyncRepository::DeleteBlobOutbox(int64_t id) {
  return postgres::RunSingleStatement(pool_, postgres::Statement::kIdempotent,
                                      [&](pqxx::transaction_base& txn) -> absl::Status {
                                        postgres::ExecPrepared(txn, sql::kDeleteBlobOutbox, id);
                                        return absl::OkStatus();
                                      });
}

absl::StatusOr<MergeOutcome> PgSyncRepository::ApplyBatch(
    const std::vector<IncomingRevision>& batch, int history_keep) {
  std::map<int32_t, int64_t> next_offsets;
  for (const IncomingRevision& e : batch) {
    int64_t& next = next_offsets[e.partition];
    next = std::max(next, e.offset + 1);
  }
  std::set<std::string> merged_spaces;  // their commit-order locks come first (V005)
  for (const IncomingRevision& e : batch) {
    if (e.merge) merged_spaces.insert(e.revision.space_id);
  }
  const std::string space_array = postgres::ArrayLiteral(merged_spaces);
  MergeOutcome outcome;
  std::set<std::string> changed_registers;  // spaces whose membership changed
  absl::Status st = postgres::RunInTransaction(
      pool_, IsolationLevel::kReadCommitted, [&](pqxx::transaction_base& txn) -> absl::Status {
        outcome = MergeOutcome{};  // the transaction may run more than once
        changed_registers.clear();
        if (!merged_spaces.empty()) postgres::ExecPrepared(txn, sql::kLockSpaces, space_array);
        for (const IncomingRevision& e : batch) {
          if (e.progress_settled >= 0) {
            postgres::ExecPrepared(txn, sql::kStoreProgress, e.progress_shard, e.partition,
                                   e.progress_settled);
          }
          if (e.own_tombstone) {
            postgres::ExecPrepared(
                txn, sql::kMarkOwnTombstone, e.revision.record_id, e.partition, e.offset,
                e.revision.stamp.origin_shard,
                static_cast<int64_t>(e.revision.stamp.vector.Get(e.revision.stamp.origin_shard)),
                e.revision.space_id);
          }
          if (e.dead_letter) ExecDeadLetter(txn, sql::kInsertDeadLetter, *e.dead_letter);
          if (e.resolves_dead_letter > 0) {
            postgres::ExecPrepared(txn, sql::kDeleteDeadLetter, e.resolves_dead_letter);
          }
          if (e.blob_chunk) {
            // Another shard's blob, chunk by chunk; visible once the last one is stored.
            const StoredBlob& b = *e.blob_chunk;
            internal::ExecBlob(txn, sql::kInsertIncomingBlob, b, /*complete=*/false);
            if (!e.blob_chunk_ct.empty()) {  // empty: a blob without content
              postgres::ExecPrepared(txn, sql::kInsertBlobChunk, b.blob_id, e.blob_chunk_index,
                                     pqxx::binarystring(e.blob_chunk_ct));
            }
            postgres::ExecPrepared(txn, sql::kCompleteIncomingBlob, b.blob_id);
          }
          if (e.space_change && internal::MergeRegister(txn, *e.space_change)) {
            ++outcome.applied;
            changed_registers.insert(e.space_change->space_id);
          }
          if (!e.merge) continue;
          COFFER_RETURN_IF_ERROR(
              MergeOne(txn, e.revision, e.partition, e.offset, history_keep, outcome));
        }
        for (const auto& [partition, next] : next_offsets) {
          postgres::ExecPrepared(txn, sql::kStoreOffset, partition, next);
        }
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  if (listener_ != nullptr && outcome.applied > 0) {
    merged_spaces.insert(changed_registers.begin(), changed_registers.end());
    for (const std::string& space : merged_spaces) listener_->Committed(space);
  }
  return outcome;
}

absl::StatusOr<std::map<int32_t, int64_t>> PgSyncRepository::LoadOffsets() {
  std::map<int32_t, int64_t> out;
  absl::Status st = postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        out.clear();
        for (const auto& row : postgres::ExecPrepared(txn, sql::kSelectOffsets)) {
          out[row[0].as<int32_t>()] = row[1].as<int64_t>();
        }
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<ChangeEntry>> PgSyncRepository::ListChanges(const std::string& space_id,
                                                                       int64_t after_seq, int limit,
                                                                       int64_t* gc_floor) {
  std::vector<ChangeEntry> out;
  // With `gc_floor`, the floor and the changes come from one snapshot: either a concurrent GC is
  // visible in both (the floor moved) or in neither (its tombstone is still listed).
  auto run = [&](const postgres::TransactionFn& fn) {
    return gc_floor == nullptr
               ? postgres::RunSingleStatement(pool_, postgres::Statement::kIdempotent, fn)
               : postgres::RunInReadOnlyTransaction(pool_, IsolationLevel::kRepeatableRead, fn);
  };
  absl::Status st = run([&](pqxx::transaction_base& txn) -> absl::Status {
    out.clear();
    if (gc_floor != nullptr) {
      *gc_floor = postgres::ExecPrepared1(txn, sql::kSpaceGcFloor, space_id)[0].as<int64_t>();
    }
    for (const auto& row :
         postgres::ExecPrepared(txn, sql::kListChanges, space_id, after_seq, limit)) {
      ChangeEntry e;
      COFFER_ASSIGN_OR_RETURN(e.head, ReadRevision(row));
      e.change_seq = row[17].as<int64_t>();
      e.sibling_count = row[18].as<int>();
      out.push_back(std::move(e));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<ProgressSnapshot> PgSyncRepository::ReadProgressSnapshot() {
  ProgressSnapshot out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        pqxx::row row = txn.exec1(sql::kProgressSnapshot);
        nlohmann::json applied = nlohmann::json::parse(row[0].as<std::string>(), nullptr, false);
        if (!applied.is_object()) return absl::InternalError("consumer offsets: not a JSON object");
        out.applied.clear();
        for (const auto& [partition, offset] : applied.items()) {
          out.applied[std::stoi(partition)] = offset.get<int64_t>();
        }
        out.outbox_seq_last = row[1].as<int64_t>();
        out.outbox_min_id =
            row[2].is_null() ? std::nullopt : std::optional<int64_t>(row[2].as<int64_t>());
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::vector<int32_t>> PgSyncRepository::OwnProgressPartitions(
    const std::string& shard_id) {
  std::vector<int32_t> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        out.clear();
        for (const auto& row : postgres::ExecPrepared(txn, sql::kOwnProgressPartitions, shard_id)) {
          out.push_back(row[0].as<int32_t>());
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::vector<ShardProgressRow>> PgSyncRepository::ListProgress() {
  std::vector<ShardProgressRow> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        out.clear();
        for (const auto& row : postgres::ExecPrepared(txn, sql::kSelectProgress)) {
          out.push_back({row[0].as<std::string>(), row[1].as<int32_t>(), row[2].as<int64_t>()});
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<int64_t> PgSyncRepository::CollectTombstones(int64_t written_before_ms) {
  int64_t n = 0;
  // Not idempotent in what it reports, but safe to repeat: a retry collects what is left. One
  // DELETE over a backlog (after a shard was away) may outlast the pool's statement timeout, and
  // a cancelled run would be repeated forever: it gets 10 minutes.
  COFFER_RETURN_IF_ERROR(postgres::RunInTransaction(
      pool_, IsolationLevel::kReadCommitted, [&](pqxx::transaction_base& txn) -> absl::Status {
        postgres::SetLocalTimeouts(txn, std::chrono::minutes(10), std::chrono::minutes(1));
        n = postgres::ExecPrepared1(txn, sql::kCollectTombstones, written_before_ms)[0]
                .as<int64_t>();
        return absl::OkStatus();
      }));
  return n;
}

absl::Status PgSyncRepository::ExportSnapshot(
    const std::function<bool(const SnapshotHeader&)>& header,
    const std::function<bool(std::vector<StoredRevision>&&)>& chunk) {
  // Rows per cursor fetch: a row may hold ~0.9 MB of envelopes, so this bounds the memory of
  // one fetch to ~60 MB.
  constexpr size_t kChunk = 64;
  return postgres::RunInReadOnlyTransaction(
      pool_, IsolationLevel::kRepeatableRead, [&](pqxx::transaction_base& txn) -> absl::Status {
        // The export streams to a peer at the peer's pace from one snapshot: no per-statement
        // limit, and the transaction may sit idle while the peer applies a chunk (bounded).
        postgres::SetLocalTimeouts(txn, std::chrono::milliseconds(0), std::chrono::minutes(10));
        SnapshotHeader h;
        for (const auto& row : postgres::ExecPrepared(txn, sql::kSelectOffsets)) {
          h.positions[row[0].as<int32_t>()] = row[1].as<int64_t>();
        }
        for (const auto& row : postgres::ExecPrepared(txn, sql::kSelectProgress)) {
          h.progress.push_back(
              {row[0].as<std::string>(), row[1].as<int32_t>(), row[2].as<int64_t>()});
        }
        for (const auto& row : postgres::ExecPrepared(txn, sql::kSnapshotTombstones)) {
          h.tombstones.push_back({row[0].as<std::string>(), row[1].as<int32_t>(),
                                  row[2].as<int64_t>(), row[3].as<std::string>()});
        }
        for (const auto& row : postgres::ExecPrepared(txn, sql::kSelectSharedSpaceIds)) {
          std::vector<SpaceRegister> registers =
              internal::ReadRegisters(txn, row[0].as<std::string>());
          h.registers.insert(h.registers.end(), registers.begin(), registers.end());
        }
        if (!header(h)) return absl::CancelledError("snapshot reader went away");
        pqxx::stateless_cursor<pqxx::cursor_base::read_only, pqxx::cursor_base::owned> cursor(
            txn, sql::kSnapshotRevisions, "coffer_snapshot", false);
        const size_t total = cursor.size();
        for (size_t at = 0; at < total; at += kChunk) {
          pqxx::result rows = cursor.retrieve(at, std::min(total, at + kChunk));
          std::vector<StoredRevision> revisions;
          revisions.reserve(rows.size());
          for (const auto& row : rows) {
            COFFER_ASSIGN_OR_RETURN(StoredRevision r, ReadRevision(row));
            revisions.push_back(std::move(r));
          }
          if (!chunk(std::move(revisions)))
            return absl::CancelledError("snapshot reader went away");
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<bool> PgSyncRepository::IsEmpty() {
  bool empty = false;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        empty = txn.exec1(sql::kDatabaseIsEmpty)[0].as<bool>();
        return absl::OkStatus();
      }));
  return empty;
}

absl::Status PgSyncRepository::ImportSnapshot(const SnapshotHeader& header,
                                              const std::vector<StoredRevision>& revisions,
                                              const std::map<int32_t, int64_t>& merge_own_until) {
  return postgres::RunInTransaction(
      pool_, IsolationLevel::kSerializable, [&](pqxx::transaction_base& txn) -> absl::Status {
        if (!txn.exec1(sql::kDatabaseIsEmpty)[0].as<bool>()) {
          return absl::FailedPreconditionError("the shard's database is not empty");
        }
        MergeOutcome ignored;
        for (const StoredRevision& r : revisions) {
          // No GC position yet: the peer's positions follow below (header.tombstones).
          COFFER_RETURN_IF_ERROR(MergeOne(txn, r, -1, -1, /*history_keep=*/0, ignored));
        }
        for (const auto& [partition, next] : header.positions) {
          auto own = merge_own_until.find(partition);
          postgres::ExecPrepared(txn, sql::kStoreImportedOffset, partition, next,
                                 own == merge_own_until.end() ? int64_t{0} : own->second);
        }
        StoreSnapshotRegistry(txn, header);
        return absl::OkStatus();
      });
}

absl::Status PgSyncRepository::MergeSnapshot(const SnapshotHeader& header,
                                             const std::vector<StoredRevision>& revisions) {
  std::set<std::string> spaces;  // their commit-order locks come first, as in ApplyBatch (V005)
  for (const StoredRevision& r : revisions) spaces.insert(r.space_id);
  const std::string space_array = postgres::ArrayLiteral(spaces);
  MergeOutcome outcome;
  absl::Status merged = postgres::RunInTransaction(
      pool_, IsolationLevel::kReadCommitted, [&](pqxx::transaction_base& txn) -> absl::Status {
        outcome = MergeOutcome{};
        if (!spaces.empty()) postgres::ExecPrepared(txn, sql::kLockSpaces, space_array);
        for (const StoredRevision& r : revisions) {
          COFFER_RETURN_IF_ERROR(MergeOne(txn, r, -1, -1, /*history_keep=*/0, outcome));
        }
        for (const auto& [partition, next] : header.positions) {
          postgres::ExecPrepared(txn, sql::kStoreOffset, partition, next);  // never backwards
        }
        StoreSnapshotRegistry(txn, header);
        return absl::OkStatus();
      });
  if (!merged.ok()) return merged;
  if (listener_ != nullptr && outcome.applied > 0) {
    for (const std::string& space : spaces) listener_->Committed(space);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<int32_t, int64_t>> PgSyncRepository::LoadMergeOwnUntil() {
  std::map<int32_t, int64_t> out;
  COFFER_RETURN_IF_ERROR(postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        out.clear();
        for (const auto& row : postgres::ExecPrepared(txn, sql::kSelectMergeOwnUntil)) {
          out[row[0].as<int32_t>()] = row[1].as<int64_t>();
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<int64_t> PgSyncRepository::LastChangeSeq() {
  int64_t last = 0;
  absl::Status st = postgres::RunSingleStatement(
      pool_, postgres::Statement::kIdempotent, [&](pqxx::transaction_base& txn) -> absl::Status {
        last = postgres::ExecPrepared(txn, sql::kLastChangeSeq)[0][0].as<int64_t>();
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  return last;
}

}  // namespace coffer::vault::repository
