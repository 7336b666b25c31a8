// `coffer sync` and `coffer watch`: the per-space change feed (SyncService).
//
// `sync` remembers its cursor per vault address, login and space in <config dir>/sync.json (mode
// 0600), so each run prints only what changed since the previous one.
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/record_view.h"
#include "cli/token_store.h"

namespace coffer::cli {
namespace {

namespace v1 = ::coffer::vault::v1;

absl::Status Unsupported(const absl::Status& st, const std::string& addr) {
  if (st.code() != absl::StatusCode::kUnimplemented) return st;
  return absl::UnimplementedError("the vault at " + addr +
                                  " does not support the change feed yet (UNIMPLEMENTED); "
                                  "use `coffer ls` to read the space");
}

std::string ResetReasonName(v1::ResetReason reason) {
  switch (reason) {
    case v1::RESET_REASON_FOREIGN_SHARD:
      return "cursor from another shard";
    case v1::RESET_REASON_EXPIRED:
      return "cursor older than the tombstone horizon";
    default:
      return "cursor not resumable";
  }
}

nlohmann::json LoadCursors(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nlohmann::json::object();
  std::stringstream text;
  text << in.rdbuf();
  auto json = nlohmann::json::parse(text.str(), nullptr, false);
  return json.is_object() ? json : nlohmann::json::object();
}

void AddSyncCommand(CLI::App& app, CommandContext& ctx, Action& action) {
  struct Opts {
    std::string cursor;
    CLI::Option* cursor_opt = nullptr;
    bool from_start = false;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "sync", "Print what changed in the space since the last sync (tombstones included)");
  opts->cursor_opt = cmd->add_option("--cursor", opts->cursor,
                                     "Start from this cursor instead of the remembered one");
  cmd->add_flag("--from-start", opts->from_start, "Forget the remembered cursor; read everything");
  cmd->callback([&ctx, &action, opts] {
    action = [&ctx, opts]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Sync());
      COFFER_ASSIGN_OR_RETURN(const std::string space_id, ctx.SpaceId());
      const std::string state_path = session->config().config_dir + "/sync.json";
      // Cursors belong to one user's space on one vault: another login on the same machine must
      // not resume from them (the server would reject a cursor of another space).
      COFFER_ASSIGN_OR_RETURN(std::optional<StoredTokens> who,
                              TokenStore(session->config().config_dir).Load());
      const std::string key = session->config().vault_addr + "|" + (who ? who->login : "") + "|" +
                              (space_id.empty() ? "personal" : space_id);
      nlohmann::json cursors = LoadCursors(state_path);
      std::string cursor;
      if (opts->cursor_opt->count() > 0) {
        cursor = opts->cursor;
      } else if (!opts->from_start && cursors.contains(key) && cursors[key].is_string()) {
        cursor = cursors[key].get<std::string>();
      }

      std::vector<v1::Record> changes;
      bool was_reset = false;
      std::string reset_reason;
      for (int guard = 0; guard < 100000; ++guard) {
        v1::SyncRequest request;
        request.set_space_id(space_id);
        request.set_cursor(cursor);
        v1::SyncResponse response;
        absl::Status st = session->CallVault(
            [&](grpc::ClientContext& c) { return stub->Sync(&c, request, &response); });
        if (!st.ok()) return Unsupported(st, session->config().vault_addr);
        if (response.reset()) {
          if (cursor.empty()) return absl::InternalError("the server reset an empty cursor");
          was_reset = true;
          reset_reason = ResetReasonName(response.reset_reason());
          ctx.err() << "coffer: sync cursor reset (" << reset_reason
                    << "); re-reading the whole space\n";
          changes.clear();
          cursor.clear();
          continue;
        }
        for (auto& r : *response.mutable_changes()) changes.push_back(std::move(r));
        cursor = response.next_cursor();
        if (!response.has_more()) break;
      }
      cursors[key] = cursor;
      COFFER_RETURN_IF_ERROR(EnsurePrivateDir(session->config().config_dir));
      COFFER_RETURN_IF_ERROR(WritePrivateFile(state_path, cursors.dump(2) + "\n"));

      nlohmann::json list = nlohmann::json::array();
      Table table = RecordListTable();
      for (const auto& r : changes) {
        list.push_back(RecordToJson(r, false));
        AddRecordRow(table, r);
      }
      std::string text = changes.empty() ? "no changes\n" : table.Render();
      text += "cursor: " + cursor + "\n";
      ctx.Emit(nlohmann::json{{"changes", list}, {"next_cursor", cursor}, {"reset", was_reset}},
               text);
      return absl::OkStatus();
    };
  });
}

void AddWatchCommand(CLI::App& app, CommandContext& ctx, Action& action) {
  struct Opts {
    std::string cursor;
    int count = 0;
    bool heartbeats = false;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "watch",
      "Stream changes of the space as they happen (one line per change; JSON lines with -o json)");
  cmd->add_option("--cursor", opts->cursor, "Start after this cursor (default: from the start)");
  cmd->add_option("--count", opts->count, "Stop after this many changes (0 = run until Ctrl-C)");
  cmd->add_flag("--heartbeats", opts->heartbeats, "Also print heartbeats");
  cmd->callback([&ctx, &action, opts] {
    action = [&ctx, opts]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Sync());
      COFFER_ASSIGN_OR_RETURN(const std::string space_id, ctx.SpaceId());
      COFFER_ASSIGN_OR_RETURN(auto context, session->NewStreamContext());
      v1::WatchRequest request;
      request.set_space_id(space_id);
      request.set_cursor(opts->cursor);
      auto reader = stub->Watch(context.get(), request);
      v1::WatchResponse message;
      int seen = 0;
      while (reader->Read(&message)) {
        if (message.has_change()) {
          const auto& change = message.change();
          if (ctx.Json()) {
            ctx.out() << nlohmann::json{{"change", RecordToJson(change.record(), false)},
                                        {"cursor", change.cursor()}}
                             .dump()
                      << std::endl;
          } else {
            const auto& r = change.record();
            ctx.out() << (r.deleted() ? "deleted " : "changed ") << r.id() << "  "
                      << RecordTypeName(r.type()) << "  " << r.name() << "  v" << r.version()
                      << std::endl;
          }
          if (opts->count > 0 && ++seen >= opts->count) {
            context->TryCancel();
            break;
          }
        } else if (message.has_heartbeat() && opts->heartbeats) {
          if (ctx.Json()) {
            ctx.out() << nlohmann::json{{"heartbeat", message.heartbeat().cursor()}}.dump()
                      << std::endl;
          } else {
            ctx.out() << "heartbeat " << FormatTime(message.heartbeat().server_time()) << std::endl;
          }
        } else if (message.has_reset()) {
          context->TryCancel();
          reader->Finish();
          return absl::FailedPreconditionError(
              "watch cursor reset (" + ResetReasonName(message.reset().reason()) +
              "): re-read the space with `coffer sync --from-start`, then watch again");
        }
      }
      grpc::Status st = reader->Finish();
      if (opts->count > 0 && seen >= opts->count) return absl::OkStatus();
      return Unsupported(session->VaultError(st), session->config().vault_addr);
    };
  });
}

}  // namespace

void AddSyncCommands(CLI::App& app, CommandContext& ctx, Action& action) {
  AddSyncCommand(app, ctx, action);
  AddWatchCommand(app, ctx, action);
}

}  // namespace coffer::cli
