// Record commands that show records: get, ls, search, otp.
#include "cli/record_commands.h"
#include "cli/record_input.h"

namespace coffer::cli {

void AddGetCommand(CLI::App& app, CommandContext& ctx, Action& action) {
  struct Opts {
    std::string ref;
    bool reveal = false;
    std::string field;
    uint64_t version = 0;
    bool siblings = false;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("get", "Show a record (secrets hidden unless --reveal)");
  cmd->add_option("record", opts->ref, "Record id or exact name")->required();
  cmd->add_flag("--reveal", opts->reveal, "Show secrets (passwords, card numbers, OTP seeds)");
  cmd->add_option("--field", opts->field,
                  "Print only this payload field's raw value (e.g. password; secrets need "
                  "--reveal), for piping");
  cmd->add_option("--version", opts->version, "Show this kept revision instead of the head");
  cmd->add_flag("--siblings", opts->siblings, "Also show conflict siblings");
  cmd->callback([&ctx, &action, opts] {
    action = [&ctx, opts]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Records());
      COFFER_ASSIGN_OR_RETURN(v1::Record record, ResolveRecord(ctx, *session, opts->ref));
      std::vector<v1::Record> siblings;
      if (opts->version > 0) {
        v1::GetRecordVersionRequest request;
        request.set_id(record.id());
        request.set_space_id(record.space_id());
        request.set_version(opts->version);
        v1::GetRecordVersionResponse response;
        absl::Status st = session->CallVault(
            [&](grpc::ClientContext& c) { return stub->GetRecordVersion(&c, request, &response); });
        if (st.code() == absl::StatusCode::kNotFound) {
          return absl::NotFoundError("record " + record.id() + " has no kept version " +
                                     std::to_string(opts->version) + "; see `coffer history " +
                                     record.id() + "`");
        }
        COFFER_RETURN_IF_ERROR(st);
        record = response.record();
      } else if (opts->siblings) {
        v1::GetRecordRequest request;
        request.set_id(record.id());
        request.set_space_id(record.space_id());
        request.set_include_siblings(true);
        request.set_consistency_token(session->positions().For(record.space_id()));
        v1::GetRecordResponse response;
        COFFER_RETURN_IF_ERROR(session->CallVault(
            [&](grpc::ClientContext& c) { return stub->GetRecord(&c, request, &response); }));
        record = response.record();
        siblings.assign(response.siblings().begin(), response.siblings().end());
      }
      if (!opts->field.empty()) {
        for (const auto& f : PayloadFields(record)) {
          if (f.name != opts->field) continue;
          if (f.secret && !opts->reveal) {
            return absl::InvalidArgumentError(f.name + " is secret: add --reveal to print it");
          }
          ctx.out() << FieldText(f, true) << "\n";
          return absl::OkStatus();
        }
        return absl::InvalidArgumentError("a " + RecordTypeName(record.type()) +
                                          " record has no field \"" + opts->field + "\"");
      }
      nlohmann::json json = RecordToJson(record, opts->reveal);
      std::string text = RecordDetails(record, opts->reveal).Render();
      if (opts->siblings) {
        json["siblings"] = nlohmann::json::array();
        for (const auto& s : siblings) {
          json["siblings"].push_back(RecordToJson(s, opts->reveal));
          text += "\nconflict sibling (version " + std::to_string(s.version()) + ", shard " +
                  s.origin_shard() + "):\n" + RecordDetails(s, opts->reveal).Render();
        }
      }
      ctx.Emit(json, text);
      return absl::OkStatus();
    };
  });
}

void AddLsCommand(CLI::App& app, CommandContext& ctx, Action& action) {
  struct LsOpts {
    std::vector<std::string> types;
    std::string prefix;
    std::string meta;
    bool conflicts = false;
    int limit = 0;
  };
  auto ls = std::make_shared<LsOpts>();
  auto* ls_cmd = app.add_subcommand("ls", "List records (trash excluded; see `coffer trash`)");
  ls_cmd->add_option("--type", ls->types,
                     "Only these types (repeatable): credential, text, card, "
                     "otp, instrument, file-ref, sealed");
  ls_cmd->add_option("--prefix", ls->prefix, "Only names starting with this (case-insensitive)");
  ls_cmd->add_option("--meta", ls->meta,
                     "Only records with metadata key (key) or entry (key=value)");
  ls_cmd->add_flag("--conflicts", ls->conflicts, "Only records with conflict siblings");
  ls_cmd->add_option("--limit", ls->limit, "At most this many records (0 = all)");
  ls_cmd->callback([&ctx, &action, ls] {
    action = [&ctx, ls]() -> absl::Status {
      v1::ListRecordsRequest request;
      auto* filter = request.mutable_filter();
      for (const auto& t : ls->types) {
        auto type = ParseRecordType(t);
        if (!type) return absl::InvalidArgumentError("unknown record type \"" + t + "\"");
        filter->add_types(*type);
      }
      filter->set_name_prefix(ls->prefix);
      if (!ls->meta.empty()) {
        COFFER_ASSIGN_OR_RETURN(auto meta, ParseMetaFilter(ls->meta));
        filter->set_metadata_key(meta.first);
        if (meta.second) filter->set_metadata_value(*meta.second);
      }
      filter->set_in_conflict(ls->conflicts);
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(const std::string space_id, ctx.SpaceId());
      request.set_space_id(space_id);
      COFFER_ASSIGN_OR_RETURN(auto records, ListRecords(*session, request, ls->limit));
      PrintRecords(ctx, records, "no records\n");
      return absl::OkStatus();
    };
  });
}

void AddSearchCommand(CLI::App& app, CommandContext& ctx, Action& action) {
  struct SearchOpts {
    std::string query;
    int limit = 0;
  };
  auto search = std::make_shared<SearchOpts>();
  auto* search_cmd = app.add_subcommand(
      "search", "Find records whose name or metadata contains the text (secrets are not searched)");
  search_cmd->add_option("query", search->query, "Text to find (case-insensitive)")->required();
  search_cmd->add_option("--limit", search->limit, "At most this many records (0 = all)");
  search_cmd->callback([&ctx, &action, search] {
    action = [&ctx, search]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Records());
      COFFER_ASSIGN_OR_RETURN(const std::string space_id, ctx.SpaceId());
      v1::SearchRecordsRequest request;
      request.set_space_id(space_id);
      request.set_query(search->query);
      COFFER_ASSIGN_OR_RETURN(
          auto records,
          CollectPages(*session, *stub, &v1::RecordService::Stub::SearchRecords, request,
                       search->limit, &v1::SearchRecordsResponse::mutable_records));
      PrintRecords(ctx, records, "no matches\n");
      return absl::OkStatus();
    };
  });
}

void AddOtpCommand(CLI::App& app, CommandContext& ctx, Action& action) {
  struct Opts {
    std::string ref;
    bool quiet = false;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("otp", "Show the current one-time password of an otp record");
  cmd->add_option("record", opts->ref, "Record id or exact name")->required();
  cmd->add_flag("-q,--quiet", opts->quiet, "Print only the code");
  cmd->callback([&ctx, &action, opts] {
    action = [&ctx, opts]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Records());
      COFFER_ASSIGN_OR_RETURN(v1::Record head, ResolveRecord(ctx, *session, opts->ref));
      if (head.type() != v1::RECORD_TYPE_OTP) {
        return absl::InvalidArgumentError("\"" + head.name() + "\" is a " +
                                          RecordTypeName(head.type()) + " record, not otp");
      }
      v1::GetOtpCodeRequest request;
      request.set_id(head.id());
      request.set_space_id(head.space_id());
      v1::GetOtpCodeResponse response;
      COFFER_RETURN_IF_ERROR(session->CallVault(
          [&](grpc::ClientContext& c) { return stub->GetOtpCode(&c, request, &response); }));
      RememberWrite(ctx, *session, head.space_id(), response.consistency_token());  // HOTP
      std::string text = response.code() + "\n";
      if (!opts->quiet) {
        text = response.period() > 0
                   ? response.code() + "  (" + std::to_string(response.seconds_remaining()) +
                         "s left)\n"
                   : response.code() + "  (counter " + std::to_string(response.counter()) + ")\n";
      }
      ctx.Emit(nlohmann::json{{"id", head.id()},
                              {"code", response.code()},
                              {"seconds_remaining", response.seconds_remaining()},
                              {"period", response.period()},
                              {"counter", response.counter()}},
               text);
      return absl::OkStatus();
    };
  });
}

}  // namespace coffer::cli
