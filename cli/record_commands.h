// Internal to the record commands (cli/commands_records*.cc): the lookups and output they share,
// and the function each file adds its subcommands with. AddRecordCommands (commands.h,
// commands_records.cc) calls those in the order `coffer --help` lists them.
//
//   commands_records_write.cc    add, edit (field flags, files, prompts; the edit conflict view)
//   commands_records_read.cc     get, ls, search, otp
//   commands_records_trash.cc    rm, undelete, trash
//   commands_records_history.cc  restore, history, conflicts
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "cli/record_view.h"
#include "coffer/vault/v1/vault.grpc.pb.h"

namespace coffer::cli {

// Items asked for per page by the list commands.
inline constexpr int kPageSize = 500;

// Pages through a list RPC: calls `rpc` with `request` (pages of kPageSize, the last one smaller
// to stop at `limit` items; 0 = no limit) until the server has no next page, and returns the
// items `items` takes out of each response, in order.
template <typename Stub, typename Request, typename Response, typename Item>
absl::StatusOr<std::vector<Item>> CollectPages(
    Session& session, Stub& stub,
    grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&, Response*), Request request,
    int limit, google::protobuf::RepeatedPtrField<Item>* (Response::*items)()) {
  std::vector<Item> collected;
  std::string token;
  do {
    int size = kPageSize;
    if (limit > 0) size = std::min<int>(size, limit - static_cast<int>(collected.size()));
    if (size <= 0) break;
    request.set_page_token(token);
    request.set_page_size(size);
    Response response;
    COFFER_RETURN_IF_ERROR(session.CallVault(
        [&](grpc::ClientContext& c) { return (stub.*rpc)(&c, request, &response); }));
    for (Item& item : *(response.*items)()) collected.push_back(std::move(item));
    token = response.next_page_token();
  } while (!token.empty());
  return collected;
}

// Every record `request` lists (or the first `limit`; 0 = all).
absl::StatusOr<std::vector<v1::Record>> ListRecords(Session& session,
                                                    v1::ListRecordsRequest request, int limit);
// Record `id` of `space_id` ("" = personal): records are identified by (space, id).
absl::StatusOr<v1::Record> GetRecord(Session& session, const std::string& space_id,
                                     const std::string& id);
// A record of the --space space named by id, or by its exact name (searched among live records,
// then the trash); INVALID_ARGUMENT listing the ids when several have that name.
// Remembers a write's consistency_token for the command's space (--space, "" = personal) and
// for `answered_space` (the record's space id), so later reads send it (cli/read_positions.h).
void RememberWrite(CommandContext& ctx, Session& session, const std::string& answered_space,
                   const std::string& token);

absl::StatusOr<v1::Record> ResolveRecord(CommandContext& ctx, Session& session,
                                         const std::string& ref);
// `records` as the list table (JSON: {"records": [...]}), or `empty_text` when there are none.
void PrintRecords(CommandContext& ctx, const std::vector<v1::Record>& records,
                  const std::string& empty_text);

// add <type> (one subcommand per record type).
void AddAddCommands(CLI::App& app, CommandContext& ctx, Action& action);
void AddEditCommand(CLI::App& app, CommandContext& ctx, Action& action);
void AddGetCommand(CLI::App& app, CommandContext& ctx, Action& action);
void AddLsCommand(CLI::App& app, CommandContext& ctx, Action& action);
void AddSearchCommand(CLI::App& app, CommandContext& ctx, Action& action);
void AddOtpCommand(CLI::App& app, CommandContext& ctx, Action& action);
// rm (`to_trash`) or undelete.
void AddTrashMoveCommand(CLI::App& app, CommandContext& ctx, Action& action, bool to_trash);
// trash: lists the records in the trash.
void AddTrashCommand(CLI::App& app, CommandContext& ctx, Action& action);
void AddRestoreCommand(CLI::App& app, CommandContext& ctx, Action& action);
void AddHistoryCommand(CLI::App& app, CommandContext& ctx, Action& action);
void AddConflictsCommand(CLI::App& app, CommandContext& ctx, Action& action);

}  // namespace coffer::cli
