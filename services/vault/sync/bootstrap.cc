#include "services/vault/sync/bootstrap.h"

#include <grpcpp/client_context.h>
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <map>
#include <vector>

#include "coffer/vault/v1/admin.grpc.pb.h"
#include "pkg/grpcx/channel.h"
#include "pkg/log/log.h"
#include "pkg/status/status.h"
#include "services/vault/sync/change_event.h"
#include "services/vault/sync/watermarks.h"

namespace coffer::vault::sync {
namespace {

// Streams the peer's snapshot into `header` and `revisions`.
absl::Status ReadSnapshot(const BootstrapOptions& options, repository::SnapshotHeader& header,
                          std::vector<repository::StoredRevision>& revisions,
                          std::string& peer_shard) {
  auto stub = v1::AdminService::NewStub(options.peer);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + options.token);
  ctx.set_deadline(std::chrono::system_clock::now() + options.timeout);
  ctx.set_wait_for_ready(true);
  std::unique_ptr<grpc::ClientReader<v1::ExportSnapshotResponse>> reader =
      stub->ExportSnapshot(&ctx, v1::ExportSnapshotRequest());
  v1::ExportSnapshotResponse msg;
  bool first = true;
  while (reader->Read(&msg)) {
    if (first) {
      first = false;
      peer_shard = msg.shard_id();
      for (const v1::SnapshotPosition& p : msg.positions()) {
        header.positions[p.partition()] = p.next_offset();
      }
      for (const v1::SnapshotProgress& p : msg.progress()) {
        header.progress.push_back({p.shard_id(), p.partition(), p.settled_offset()});
      }
      for (const v1::SnapshotTombstone& t : msg.tombstones()) {
        header.tombstones.push_back({t.record_id(), t.partition(), t.offset(), t.space_id()});
      }
    }
    for (const std::string& value : msg.space_changes()) {
      absl::StatusOr<TopicEvent> e = DecodeTopicEvent(value);
      if (!e.ok() || !e->space_change) {
        return status::Annotate(e.ok() ? absl::DataLossError("not a space change") : e.status(),
                                "peer snapshot");
      }
      header.registers.push_back(*std::move(e->space_change));
    }
    for (const std::string& value : msg.revisions()) {
      absl::StatusOr<repository::StoredRevision> r = DecodeChangeEvent(value);
      if (!r.ok()) return status::Annotate(r.status(), "peer snapshot");
      revisions.push_back(*std::move(r));
    }
  }
  grpc::Status finished = reader->Finish();
  if (!finished.ok()) {
    return status::Annotate(status::FromGrpcStatus(finished), "peer ExportSnapshot");
  }
  if (first) return absl::DataLossError("peer ExportSnapshot: empty stream");
  return absl::OkStatus();
}

// Replicas of one shard may start together on its empty database: the first import wins, the
// others find the database no longer empty and simply resume from what it stored.
absl::StatusOr<BootstrapResult> AnotherReplicaWon(repository::SnapshotStore& repo,
                                                  const absl::Status& import_error) {
  if (!absl::IsFailedPrecondition(import_error)) return import_error;
  absl::StatusOr<bool> empty = repo.IsEmpty();
  if (empty.ok() && !*empty) {
    log::Info("bootstrap: another replica of this shard bootstrapped its database first");
    return BootstrapResult::kNotNeeded;
  }
  return import_error;
}

// Every partition's watermarks.
absl::StatusOr<std::map<int32_t, kafka::Watermarks>> QueryAllWatermarks(
    const BootstrapOptions& options, kafka::Consumer& probe) {
  COFFER_ASSIGN_OR_RETURN(int partitions, probe.PartitionCount(options.topic));
  std::map<int32_t, kafka::Watermarks> marks;
  for (int32_t p = 0; p < partitions; ++p) {
    COFFER_ASSIGN_OR_RETURN(marks[p], QueryWatermarksBounded(probe.handle(), options.topic, p,
                                                             std::chrono::seconds(10)));
  }
  return marks;
}

// Reads the peer's snapshot for `purpose` ("bootstrap", "recovery") and checks it can serve:
// the peer is another shard, and its positions reach the log start (`marks`) on every partition
// (else its snapshot misses events the log no longer holds either). Drops this shard's own
// progress rows from the peer's registry: they describe an earlier view of this shard, and the
// gate must open only once a marker of the current one came back.
absl::Status FetchPeerSnapshot(const BootstrapOptions& options, const std::string& purpose,
                               const std::map<int32_t, kafka::Watermarks>& marks,
                               repository::SnapshotHeader& header,
                               std::vector<repository::StoredRevision>& revisions,
                               std::string& peer_shard) {
  COFFER_RETURN_IF_ERROR(ReadSnapshot(options, header, revisions, peer_shard));
  if (peer_shard == options.shard_id) {
    return absl::FailedPreconditionError(purpose + ": the peer is this shard (" + peer_shard +
                                         "); name another shard");
  }
  for (const auto& [p, wm] : marks) {
    auto it = header.positions.find(p);
    const int64_t position = it == header.positions.end() ? 0 : it->second;
    if (position < wm.low) {
      return absl::FailedPreconditionError(purpose + ": peer " + peer_shard +
                                           " is itself behind the log start on partition " +
                                           std::to_string(p) + " (" + std::to_string(position) +
                                           " < " + std::to_string(wm.low) + "); use another peer");
    }
  }
  std::erase_if(header.progress, [&](const repository::ShardProgressRow& row) {
    return row.shard_id == options.shard_id;
  });
  return absl::OkStatus();
}

}  // namespace

absl::Status RecoverFromPeer(const BootstrapOptions& options, repository::SnapshotStore& repo,
                             kafka::Consumer& probe) {
  if (!options.peer) {
    return absl::FailedPreconditionError(
        "recovery needs a peer's snapshot: set --bootstrap-peer and --bootstrap-token-file");
  }
  COFFER_ASSIGN_OR_RETURN(auto marks, QueryAllWatermarks(options, probe));
  repository::SnapshotHeader header;
  std::vector<repository::StoredRevision> revisions;
  std::string peer_shard;
  COFFER_RETURN_IF_ERROR(
      FetchPeerSnapshot(options, "recovery", marks, header, revisions, peer_shard));
  COFFER_RETURN_IF_ERROR(repo.MergeSnapshot(header, revisions));
  log::Info("recovery: merged a peer's snapshot and moved past the truncated events",
            {{"peer_shard", peer_shard},
             {"revisions", static_cast<int64_t>(revisions.size())},
             {"partitions", static_cast<int64_t>(header.positions.size())}});
  return absl::OkStatus();
}

absl::StatusOr<BootstrapResult> Bootstrap(const BootstrapOptions& options,
                                          repository::SnapshotStore& repo, kafka::Consumer& probe) {
  COFFER_ASSIGN_OR_RETURN(bool empty, repo.IsEmpty());
  if (!empty) return BootstrapResult::kNotNeeded;
  COFFER_ASSIGN_OR_RETURN(auto marks, QueryAllWatermarks(options, probe));
  const int64_t partitions = static_cast<int64_t>(marks.size());
  bool complete = true;
  for (const auto& [p, wm] : marks) complete = complete && wm.low == 0;
  // Events of this shard's id already in the log were written by an earlier incarnation of it
  // (a re-created database): merge them instead of skipping them as echoes.
  std::map<int32_t, int64_t> merge_own_until;
  for (const auto& [p, wm] : marks) merge_own_until[p] = wm.high;
  if (complete && options.mode == BootstrapMode::kAuto) {
    repository::SnapshotHeader from_start;
    for (const auto& [p, wm] : marks) from_start.positions[p] = 0;
    if (absl::Status s = repo.ImportSnapshot(from_start, {}, merge_own_until); !s.ok()) {
      return AnotherReplicaWon(repo, s);
    }
    log::Info("bootstrap: empty database and a complete change log; catching up from its start",
              {{"partitions", partitions}});
    return BootstrapResult::kFromLogStart;
  }
  if (!options.peer) {
    return absl::FailedPreconditionError(
        "bootstrap: the change log no longer starts at offset 0, so this new shard needs a "
        "peer's snapshot: set --bootstrap-peer and --bootstrap-token-file");
  }
  repository::SnapshotHeader header;
  std::vector<repository::StoredRevision> revisions;
  std::string peer_shard;
  COFFER_RETURN_IF_ERROR(
      FetchPeerSnapshot(options, "bootstrap", marks, header, revisions, peer_shard));
  if (absl::Status s = repo.ImportSnapshot(header, revisions, merge_own_until); !s.ok()) {
    return AnotherReplicaWon(repo, s);
  }
  log::Info("bootstrap: imported a peer's snapshot",
            {{"peer_shard", peer_shard},
             {"revisions", static_cast<int64_t>(revisions.size())},
             {"partitions", static_cast<int64_t>(header.positions.size())}});
  return BootstrapResult::kFromSnapshot;
}

absl::StatusOr<BootstrapOptions> PeerBootstrap::Options() const {
  BootstrapOptions options;
  options.shard_id = config_.shard_id;
  options.topic = config_.topic;
  options.mode = config_.mode;
  if (config_.peer_addr.empty()) return options;
  std::ifstream in(config_.token_file);
  std::string token;
  in >> token;  // the token itself has no whitespace; trailing newlines are dropped
  if (token.empty()) {
    return absl::InvalidArgumentError("--bootstrap-token-file: cannot read a token from it");
  }
  options.token = std::move(token);
  grpcx::ChannelOptions channel_options;
  channel_options.tls.use_tls = !config_.peer_ca_file.empty();
  channel_options.tls.ca_file = config_.peer_ca_file;
  COFFER_ASSIGN_OR_RETURN(options.peer, grpcx::MakeChannel(config_.peer_addr, channel_options));
  return options;
}

absl::StatusOr<BootstrapResult> PeerBootstrap::BootstrapIfEmpty() {
  COFFER_ASSIGN_OR_RETURN(BootstrapOptions options, Options());
  return Bootstrap(options, store_, probe_);
}

absl::Status PeerBootstrap::Recover() {
  COFFER_ASSIGN_OR_RETURN(BootstrapOptions options, Options());
  return RecoverFromPeer(options, store_, probe_);
}

}  // namespace coffer::vault::sync
