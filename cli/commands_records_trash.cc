// Record commands of the trash: rm, undelete, trash (its listing).
#include "cli/record_commands.h"

namespace coffer::cli {

// rm / undelete: one check-and-set call on the record's current version.
void AddTrashMoveCommand(CLI::App& app, CommandContext& ctx, Action& action, bool to_trash) {
  struct Opts {
    std::string ref;
    uint64_t expected_version = 0;
    CLI::Option* expected_opt = nullptr;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = to_trash ? app.add_subcommand("rm", "Move a record to the trash (undo with undelete)")
                       : app.add_subcommand("undelete", "Take a record out of the trash");
  cmd->add_option("record", opts->ref, "Record id or exact name")->required();
  opts->expected_opt = cmd->add_option("--expected-version", opts->expected_version,
                                       "Fail unless the record is at this version");
  cmd->callback([&ctx, &action, opts, to_trash] {
    action = [&ctx, opts, to_trash]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Records());
      COFFER_ASSIGN_OR_RETURN(v1::Record head, ResolveRecord(ctx, *session, opts->ref));
      if (head.deleted() == to_trash) {
        return absl::FailedPreconditionError(
            "record " + head.id() +
            (to_trash ? " is already in the trash" : " is not in the trash"));
      }
      const uint64_t expected =
          opts->expected_opt->count() > 0 ? opts->expected_version : head.version();
      v1::Record result;
      if (to_trash) {
        v1::DeleteRecordRequest request;
        request.set_id(head.id());
        request.set_space_id(head.space_id());
        request.set_expected_version(expected);
        v1::DeleteRecordResponse response;
        COFFER_RETURN_IF_ERROR(session->CallVault(
            [&](grpc::ClientContext& c) { return stub->DeleteRecord(&c, request, &response); }));
        result = response.record();
        RememberWrite(ctx, *session, result.space_id(), response.consistency_token());
      } else {
        v1::UndeleteRecordRequest request;
        request.set_id(head.id());
        request.set_space_id(head.space_id());
        request.set_expected_version(expected);
        v1::UndeleteRecordResponse response;
        COFFER_RETURN_IF_ERROR(session->CallVault(
            [&](grpc::ClientContext& c) { return stub->UndeleteRecord(&c, request, &response); }));
        result = response.record();
        RememberWrite(ctx, *session, result.space_id(), response.consistency_token());
      }
      std::string text = to_trash ? "moved \"" + result.name() + "\" to the trash (version " +
                                        std::to_string(result.version()) +
                                        "); undo with `coffer undelete " + result.id() + "`\n"
                                  : "restored \"" + result.name() + "\" from the trash (version " +
                                        std::to_string(result.version()) + ")\n";
      ctx.Emit(RecordToJson(result, false), text);
      return absl::OkStatus();
    };
  });
}

void AddTrashCommand(CLI::App& app, CommandContext& ctx, Action& action) {
  auto trash_limit = std::make_shared<int>(0);
  auto* trash_cmd = app.add_subcommand("trash", "List records in the trash");
  trash_cmd->add_option("--limit", *trash_limit, "At most this many records (0 = all)");
  trash_cmd->callback([&ctx, &action, trash_limit] {
    action = [&ctx, trash_limit]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(const std::string space_id, ctx.SpaceId());
      v1::ListRecordsRequest request;
      request.set_space_id(space_id);
      request.mutable_filter()->set_in_trash(true);
      COFFER_ASSIGN_OR_RETURN(auto records, ListRecords(*session, request, *trash_limit));
      PrintRecords(ctx, records, "the trash is empty\n");
      return absl::OkStatus();
    };
  });
}

}  // namespace coffer::cli
