// Record commands of kept versions and conflicts: restore, history, conflicts.
#include "cli/record_commands.h"

namespace coffer::cli {

void AddRestoreCommand(CLI::App& app, CommandContext& ctx, Action& action) {
  struct Opts {
    std::string ref;
    uint64_t version = 0;
    uint64_t expected_version = 0;
    CLI::Option* expected_opt = nullptr;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "restore", "Write a new version with the content of an older one (see `coffer history`)");
  cmd->add_option("record", opts->ref, "Record id or exact name")->required();
  cmd->add_option("--version", opts->version, "The kept version to restore")->required();
  opts->expected_opt = cmd->add_option("--expected-version", opts->expected_version,
                                       "Fail unless the record is at this version");
  cmd->callback([&ctx, &action, opts] {
    action = [&ctx, opts]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Records());
      COFFER_ASSIGN_OR_RETURN(v1::Record head, ResolveRecord(ctx, *session, opts->ref));
      v1::RestoreRecordVersionRequest request;
      request.set_id(head.id());
      request.set_space_id(head.space_id());
      request.set_version(opts->version);
      request.set_expected_version(opts->expected_opt->count() > 0 ? opts->expected_version
                                                                   : head.version());
      v1::RestoreRecordVersionResponse response;
      absl::Status st = session->CallVault([&](grpc::ClientContext& c) {
        return stub->RestoreRecordVersion(&c, request, &response);
      });
      if (st.code() == absl::StatusCode::kNotFound) {
        return absl::NotFoundError("record " + head.id() + " has no kept version " +
                                   std::to_string(opts->version) + "; see `coffer history " +
                                   head.id() + "`");
      }
      COFFER_RETURN_IF_ERROR(st);
      const auto& r = response.record();
      RememberWrite(ctx, *session, r.space_id(), response.consistency_token());
      ctx.Emit(RecordToJson(r, false), "restored \"" + r.name() + "\" to the content of version " +
                                           std::to_string(opts->version) + " as version " +
                                           std::to_string(r.version()) + "\n");
      return absl::OkStatus();
    };
  });
}

void AddHistoryCommand(CLI::App& app, CommandContext& ctx, Action& action) {
  struct HistoryOpts {
    std::string ref;
    int limit = 0;
  };
  auto history = std::make_shared<HistoryOpts>();
  auto* history_cmd = app.add_subcommand("history", "List a record's kept versions, newest first");
  history_cmd->add_option("record", history->ref, "Record id or exact name")->required();
  history_cmd->add_option("--limit", history->limit, "At most this many versions (0 = all)");
  history_cmd->callback([&ctx, &action, history] {
    action = [&ctx, history]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Records());
      COFFER_ASSIGN_OR_RETURN(v1::Record head, ResolveRecord(ctx, *session, history->ref));
      v1::ListRecordVersionsRequest request;
      request.set_id(head.id());
      request.set_space_id(head.space_id());
      COFFER_ASSIGN_OR_RETURN(
          auto versions,
          CollectPages(*session, *stub, &v1::RecordService::Stub::ListRecordVersions, request,
                       history->limit, &v1::ListRecordVersionsResponse::mutable_versions));
      nlohmann::json list = nlohmann::json::array();
      Table table({"VERSION", "UPDATED", "SHARD", "STATE", "NAME"});
      for (const auto& v : versions) {
        list.push_back(RecordToJson(v, false));
        table.AddRow({std::to_string(v.version()), FormatTime(v.update_time()), v.origin_shard(),
                      v.deleted() ? "trash" : "live", v.name()});
      }
      ctx.Emit(nlohmann::json{{"id", head.id()}, {"versions", list}}, table.Render());
      return absl::OkStatus();
    };
  });
}

void AddConflictsCommand(CLI::App& app, CommandContext& ctx, Action& action) {
  auto conflicts_limit = std::make_shared<int>(0);
  auto* conflicts_cmd = app.add_subcommand(
      "conflicts", "List records with unresolved concurrent versions (any edit resolves them)");
  conflicts_cmd->add_option("--limit", *conflicts_limit, "At most this many records (0 = all)");
  conflicts_cmd->callback([&ctx, &action, conflicts_limit] {
    action = [&ctx, conflicts_limit]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Records());
      COFFER_ASSIGN_OR_RETURN(const std::string space_id, ctx.SpaceId());
      v1::ListConflictsRequest request;
      request.set_space_id(space_id);
      COFFER_ASSIGN_OR_RETURN(
          auto conflicts,
          CollectPages(*session, *stub, &v1::RecordService::Stub::ListConflicts, request,
                       *conflicts_limit, &v1::ListConflictsResponse::mutable_conflicts));
      nlohmann::json list = nlohmann::json::array();
      Table table({"ID", "NAME", "HEAD", "SIBLINGS"});
      for (const auto& cf : conflicts) {
        nlohmann::json siblings = nlohmann::json::array();
        std::string sibling_text;
        for (const auto& s : cf.siblings()) {
          siblings.push_back(RecordToJson(s, false));
          sibling_text += (sibling_text.empty() ? "" : ", ") + std::string("v") +
                          std::to_string(s.version()) + "@" + s.origin_shard();
        }
        list.push_back({{"head", RecordToJson(cf.head(), false)}, {"siblings", siblings}});
        table.AddRow({cf.head().id(), cf.head().name(),
                      "v" + std::to_string(cf.head().version()) + "@" + cf.head().origin_shard(),
                      sibling_text});
      }
      ctx.Emit(nlohmann::json{{"conflicts", list}},
               conflicts.empty() ? "no conflicts\n" : table.Render());
      return absl::OkStatus();
    };
  });
}

}  // namespace coffer::cli
