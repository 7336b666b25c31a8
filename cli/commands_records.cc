// Record commands: add, get, edit, rm, undelete, restore, ls, trash, search, history, conflicts,
// otp (record_commands.h says which file holds which), and the record lookups they share.
#include "cli/record_commands.h"
#include "cli/space_view.h"

namespace coffer::cli {

absl::StatusOr<std::vector<v1::Record>> ListRecords(Session& session,
                                                    v1::ListRecordsRequest request, int limit) {
  COFFER_ASSIGN_OR_RETURN(auto* stub, session.Records());
  return CollectPages(session, *stub, &v1::RecordService::Stub::ListRecords, std::move(request),
                      limit, &v1::ListRecordsResponse::mutable_records);
}

absl::StatusOr<v1::Record> GetRecord(Session& session, const std::string& space_id,
                                     const std::string& id) {
  COFFER_ASSIGN_OR_RETURN(auto* stub, session.Records());
  v1::GetRecordRequest request;
  request.set_id(id);
  request.set_space_id(space_id);
  request.set_consistency_token(session.positions().For(space_id));
  v1::GetRecordResponse response;
  absl::Status st = session.CallVault(
      [&](grpc::ClientContext& c) { return stub->GetRecord(&c, request, &response); });
  if (st.code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError("no record " + id +
                               "; list them with `coffer ls` or `coffer trash`");
  }
  if (!st.ok()) return st;
  return response.record();
}

void RememberWrite(CommandContext& ctx, Session& session, const std::string& answered_space,
                   const std::string& token) {
  absl::StatusOr<std::string> requested = ctx.SpaceId();
  session.positions().Remember(requested.ok() ? *requested : answered_space, answered_space, token);
}

absl::StatusOr<v1::Record> ResolveRecord(CommandContext& ctx, Session& session,
                                         const std::string& ref) {
  COFFER_ASSIGN_OR_RETURN(const std::string space_id, ctx.SpaceId());
  if (LooksLikeUuid(ref)) return GetRecord(session, space_id, ref);
  for (bool trash : {false, true}) {
    v1::ListRecordsRequest request;
    request.set_space_id(space_id);
    request.mutable_filter()->set_name_prefix(ref);
    request.mutable_filter()->set_in_trash(trash);
    COFFER_ASSIGN_OR_RETURN(auto records, ListRecords(session, request, 0));
    std::vector<v1::Record> exact;
    for (auto& r : records) {
      if (r.name() == ref) exact.push_back(r);
    }
    if (exact.size() == 1) return exact.front();
    if (exact.size() > 1) {
      std::string ids;
      for (const auto& r : exact) ids += (ids.empty() ? "" : ", ") + r.id();
      return absl::InvalidArgumentError(std::to_string(exact.size()) + " records are named \"" +
                                        ref + "\" (" + ids + "); name one by its id");
    }
  }
  return absl::NotFoundError("no record with id or name \"" + ref +
                             "\"; list them with `coffer ls` or `coffer trash`");
}

void PrintRecords(CommandContext& ctx, const std::vector<v1::Record>& records,
                  const std::string& empty_text) {
  nlohmann::json list = nlohmann::json::array();
  Table table = RecordListTable();
  for (const auto& r : records) {
    list.push_back(RecordToJson(r, /*reveal=*/false));
    AddRecordRow(table, r);
  }
  ctx.Emit(nlohmann::json{{"records", list}}, records.empty() ? empty_text : table.Render());
}

void AddRecordCommands(CLI::App& app, CommandContext& ctx, Action& action) {
  AddAddCommands(app, ctx, action);
  AddGetCommand(app, ctx, action);
  AddEditCommand(app, ctx, action);
  AddTrashMoveCommand(app, ctx, action, /*to_trash=*/true);
  AddTrashMoveCommand(app, ctx, action, /*to_trash=*/false);
  AddRestoreCommand(app, ctx, action);
  AddLsCommand(app, ctx, action);
  AddTrashCommand(app, ctx, action);
  AddSearchCommand(app, ctx, action);
  AddHistoryCommand(app, ctx, action);
  AddConflictsCommand(app, ctx, action);
  AddOtpCommand(app, ctx, action);
}

}  // namespace coffer::cli
