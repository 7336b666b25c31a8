#include "services/vault/repository/pg_sync_repository.h"

#include <pqxx/result>
#include <pqxx/transaction_base>
#include <set>

#include "pkg/postgres/transaction.h"
#include "pkg/status/status.h"
#include "services/vault/domain/merge.h"
#include "services/vault/repository/pg_rows.h"
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

// Merges one revision inside `txn`; updates `outcome`.
absl::Status MergeOne(pqxx::transaction_base& txn, const StoredRevision& incoming, int history_keep,
                      MergeOutcome& outcome) {
  if (!ExecRevision(txn, sql::kMergeInsertHead, incoming).empty()) {
    ++outcome.applied;  // first revision of this record seen here
    return absl::OkStatus();
  }
  txn.exec_params(sql::kLockRecord, incoming.record_id);
  pqxx::result rows = txn.exec_params(sql::kSelectRecord, incoming.record_id);
  std::vector<StoredRevision> current;
  for (const auto& row : rows) {
    COFFER_ASSIGN_OR_RETURN(StoredRevision r, ReadRevision(row));
    current.push_back(std::move(r));
  }
  if (!current.empty() && current.front().space_id != incoming.space_id) {
    return absl::DataLossError("received revision names another space than the stored record");
  }
  std::vector<StoredRevision> merged = domain::MergeSiblings(current, {incoming});
  bool unchanged = merged.size() == current.size();
  for (size_t i = 0; unchanged && i < merged.size(); ++i) {
    unchanged = Contains(current, merged[i].stamp);
  }
  if (unchanged) {
    ++outcome.unchanged;
    return absl::OkStatus();
  }
  ++outcome.applied;
  const StoredRevision& head = merged.front();
  ExecRevision(txn, sql::kMergeSetHead, head, static_cast<int>(merged.size() - 1));
  txn.exec_params(sql::kMergeDeleteSiblings, incoming.record_id);
  for (size_t i = 1; i < merged.size(); ++i) {
    ExecRevision(txn, sql::kMergeInsertSibling, merged[i]);
  }
  if (head.purged) {
    txn.exec_params(sql::kMergeDropHistory, incoming.record_id);
  } else if (!incoming.purged && Contains(merged, incoming.stamp)) {
    ExecRevision(txn, sql::kMergeInsertHistory, incoming);
    if (history_keep > 0) {
      txn.exec_params(sql::kMergeRetention, incoming.record_id, static_cast<int64_t>(history_keep));
    }
  }
  size_t before = current.empty() ? 0 : current.size() - 1;
  size_t after = merged.size() - 1;
  if (before == 0 && after > 0) ++outcome.conflicts_created;
  if (before > 0 && after == 0) ++outcome.conflicts_resolved;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<OutboxEntry>> PgSyncRepository::ReadOutbox(int limit) {
  std::vector<OutboxEntry> out;
  absl::Status st = postgres::RunInReadOnlyTransaction(
      pool_, IsolationLevel::kReadCommitted, [&](pqxx::transaction_base& txn) -> absl::Status {
        out.clear();
        pqxx::result rows = txn.exec_params(sql::kSelectOutbox, limit);
        for (const auto& row : rows) {
          OutboxEntry e;
          e.id = row[0].as<int64_t>();
          e.enqueued_at_ms = row[1].as<int64_t>();
          COFFER_ASSIGN_OR_RETURN(e.revision, ReadRevision(row));
          out.push_back(std::move(e));
        }
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  return out;
}

absl::Status PgSyncRepository::DeleteOutbox(const std::vector<int64_t>& ids) {
  if (ids.empty()) return absl::OkStatus();
  std::string array = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) array += ",";
    array += std::to_string(ids[i]);
  }
  array += "}";
  return postgres::RunInTransaction(pool_, IsolationLevel::kReadCommitted,
                                    [&](pqxx::transaction_base& txn) -> absl::Status {
                                      txn.exec_params(sql::kDeleteOutbox, array);
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
  MergeOutcome outcome;
  absl::Status st = postgres::RunInTransaction(
      pool_, IsolationLevel::kReadCommitted, [&](pqxx::transaction_base& txn) -> absl::Status {
        outcome = MergeOutcome{};  // the transaction may run more than once
        for (const IncomingRevision& e : batch) {
          if (!e.merge) continue;
          COFFER_RETURN_IF_ERROR(MergeOne(txn, e.revision, history_keep, outcome));
        }
        for (const auto& [partition, next] : next_offsets) {
          txn.exec_params(sql::kStoreOffset, partition, next);
        }
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  if (hook_ && outcome.applied > 0) {
    std::set<std::string> spaces;
    for (const IncomingRevision& e : batch) {
      if (e.merge) spaces.insert(e.revision.space_id);
    }
    for (const std::string& space : spaces) hook_(space);
  }
  return outcome;
}

absl::StatusOr<std::map<int32_t, int64_t>> PgSyncRepository::LoadOffsets() {
  std::map<int32_t, int64_t> out;
  absl::Status st = postgres::RunInReadOnlyTransaction(
      pool_, IsolationLevel::kReadCommitted, [&](pqxx::transaction_base& txn) -> absl::Status {
        out.clear();
        for (const auto& row : txn.exec(sql::kSelectOffsets)) {
          out[row[0].as<int32_t>()] = row[1].as<int64_t>();
        }
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<ChangeEntry>> PgSyncRepository::ListChanges(const std::string& space_id,
                                                                       int64_t after_seq,
                                                                       int limit) {
  std::vector<ChangeEntry> out;
  absl::Status st = postgres::RunInReadOnlyTransaction(
      pool_, IsolationLevel::kReadCommitted, [&](pqxx::transaction_base& txn) -> absl::Status {
        out.clear();
        for (const auto& row : txn.exec_params(sql::kListChanges, space_id, after_seq, limit)) {
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

absl::StatusOr<int64_t> PgSyncRepository::LastChangeSeq() {
  int64_t last = 0;
  absl::Status st = postgres::RunInReadOnlyTransaction(
      pool_, IsolationLevel::kReadCommitted, [&](pqxx::transaction_base& txn) -> absl::Status {
        last = txn.exec(sql::kLastChangeSeq)[0][0].as<int64_t>();
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  return last;
}

}  // namespace coffer::vault::repository
