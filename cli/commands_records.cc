// Record commands: add, get, edit, rm, undelete, restore, trash, ls, search, history, otp,
// conflicts.
#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "cli/record_input.h"
#include "cli/record_view.h"
#include "cli/space_view.h"

namespace coffer::cli {
namespace {

namespace v1 = ::coffer::vault::v1;

constexpr int kPageSize = 500;

// Runs `page(token, size, &next)` until the last page or `limit` items (0 = no limit).
absl::Status Paginate(
    int limit, size_t* collected,
    const std::function<absl::Status(const std::string&, int, std::string*)>& page) {
  std::string token;
  do {
    int size = kPageSize;
    if (limit > 0) size = std::min<int>(size, limit - static_cast<int>(*collected));
    if (size <= 0) break;
    std::string next;
    COFFER_RETURN_IF_ERROR(page(token, size, &next));
    token = next;
  } while (!token.empty());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Record>> ListRecords(Session& session,
                                                    v1::ListRecordsRequest request, int limit) {
  COFFER_ASSIGN_OR_RETURN(auto* stub, session.Records());
  std::vector<v1::Record> records;
  size_t count = 0;
  absl::Status paged = Paginate(
      limit, &count, [&](const std::string& token, int size, std::string* next) -> absl::Status {
        request.set_page_token(token);
        request.set_page_size(size);
        v1::ListRecordsResponse response;
        COFFER_RETURN_IF_ERROR(session.CallVault(
            [&](grpc::ClientContext& c) { return stub->ListRecords(&c, request, &response); }));
        for (auto& r : *response.mutable_records()) records.push_back(std::move(r));
        count = records.size();
        *next = response.next_page_token();
        return absl::OkStatus();
      });
  if (!paged.ok()) return paged;
  return records;
}

// Record `id` of `space_id` ("" = personal): records are identified by (space, id).
absl::StatusOr<v1::Record> GetRecord(Session& session, const std::string& space_id,
                                     const std::string& id) {
  COFFER_ASSIGN_OR_RETURN(auto* stub, session.Records());
  v1::GetRecordRequest request;
  request.set_id(id);
  request.set_space_id(space_id);
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

// A record named by id, or by its exact name (searched among live records, then the trash).
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

// A copy of the writable parts of `record` (what UpdateRecord reads).
v1::Record WritableCopy(const v1::Record& record) {
  v1::Record copy = record;
  copy.clear_version();
  copy.clear_vector();
  copy.clear_hlc();
  copy.clear_origin_shard();
  copy.clear_deleted();
  copy.clear_create_time();
  copy.clear_update_time();
  copy.clear_sibling_count();
  return copy;
}

absl::StatusOr<std::string> ReadInputFile(CommandContext& ctx, const std::string& path) {
  if (path == "-") return ctx.terminal().ReadStdinAll();
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::stringstream data;
  data << in.rdbuf();
  return data.str();
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

// Flags that set payload fields, shared by `add <type>` and `edit`.
struct FieldFlags {
  std::map<std::string, std::string> values;    // field -> flag value
  std::map<std::string, CLI::Option*> options;  // field -> its option, to know what was given
  std::map<std::string, std::string> files;     // field -> path
  std::map<std::string, CLI::Option*> file_options;
  std::map<std::string, bool> from_stdin;  // secret field -> --<flag>-stdin
  std::map<std::string, bool> prompt;      // secret field -> --<flag>-prompt (edit only)
  std::vector<FieldSpec> specs;

  void Register(CLI::App* cmd, std::vector<FieldSpec> field_specs, bool with_prompt) {
    specs = std::move(field_specs);
    for (const auto& spec : specs) {
      switch (spec.input) {
        case FieldInput::kFlag:
          options[spec.name] = cmd->add_option("--" + spec.flag, values[spec.name], spec.help);
          break;
        case FieldInput::kSecret:
          cmd->add_flag("--" + spec.flag + "-stdin", from_stdin[spec.name],
                        spec.help +
                            ": read it as one line from stdin (secrets are never "
                            "command-line arguments)");
          if (with_prompt) {
            cmd->add_flag("--" + spec.flag + "-prompt", prompt[spec.name],
                          spec.help + ": prompt for a new value without echo");
          }
          break;
        case FieldInput::kFile:
          file_options[spec.name] = cmd->add_option("--" + spec.flag + "-file", files[spec.name],
                                                    spec.help + ": read from a file (- = stdin)");
          break;
        case FieldInput::kFlagOrFile: {
          auto* value = cmd->add_option("--" + spec.flag, values[spec.name], spec.help);
          auto* file = cmd->add_option("--" + spec.flag + "-file", files[spec.name],
                                       spec.help + ", read from a file (- = stdin)");
          value->excludes(file);
          options[spec.name] = value;
          file_options[spec.name] = file;
          break;
        }
      }
    }
  }

  // Field values from flags, files, stdin and (when `prompt_missing`) prompts. Secrets are
  // read in the order of `specs`, one stdin line each.
  absl::StatusOr<std::map<std::string, std::string>> Collect(CommandContext& ctx,
                                                             bool prompt_missing,
                                                             const std::string& record_name) {
    std::map<std::string, std::string> fields;
    for (const auto& spec : specs) {
      if (auto it = options.find(spec.name); it != options.end() && it->second->count() > 0) {
        fields[spec.name] = values[spec.name];
      }
      if (auto it = file_options.find(spec.name);
          it != file_options.end() && it->second->count() > 0) {
        COFFER_ASSIGN_OR_RETURN(fields[spec.name], ReadInputFile(ctx, files[spec.name]));
      }
      if (spec.input != FieldInput::kSecret) continue;
      bool stdin_given = from_stdin[spec.name];
      bool asked = prompt.count(spec.name) > 0 && prompt[spec.name];
      if (!stdin_given && !asked && !prompt_missing) continue;
      if (asked && !ctx.terminal().Interactive()) {
        return absl::InvalidArgumentError("--" + spec.flag + "-prompt needs a terminal; use --" +
                                          spec.flag + "-stdin in scripts");
      }
      std::string what = spec.help;
      std::transform(what.begin(), what.end(), what.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (!stdin_given && prompt_missing && !asked)
        what += " of \"" + record_name + "\" (empty = none)";
      COFFER_ASSIGN_OR_RETURN(auto secret, ReadSecret(ctx, what, stdin_given, false));
      if (secret && (!secret->empty() || stdin_given || asked)) fields[spec.name] = *secret;
    }
    return fields;
  }
};

void AddAddCommands(CLI::App& app, CommandContext& ctx, Action& action) {
  auto* add =
      app.add_subcommand("add", "Add a record of a given type (see `coffer add <type> --help`)");
  add->require_subcommand(1);
  for (const auto& type_name : RecordTypeNames()) {
    v1::RecordType type = *ParseRecordType(type_name);
    struct Opts {
      std::string name;
      std::vector<std::string> meta;
      std::string id;
      FieldFlags fields;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = add->add_subcommand(type_name, "Add a " + type_name + " record");
    cmd->add_option("--name", opts->name, "Display name (searchable)")->required();
    cmd->add_option("--meta", opts->meta, "Metadata key=value (repeatable)");
    cmd->add_option("--id", opts->id, "Choose the record id (UUID) to make retries idempotent");
    opts->fields.Register(cmd, FieldSpecsFor(type), /*with_prompt=*/false);
    cmd->callback([&ctx, &action, opts, type] {
      action = [&ctx, opts, type]() -> absl::Status {
        COFFER_ASSIGN_OR_RETURN(auto fields,
                                opts->fields.Collect(ctx, /*prompt_missing=*/true, opts->name));
        if (type == v1::RECORD_TYPE_OTP && fields["secret"].empty()) {
          return absl::InvalidArgumentError(
              "an otp record needs its secret: pipe it with `--secret-stdin` or run in a "
              "terminal to be prompted");
        }
        COFFER_ASSIGN_OR_RETURN(v1::Record record,
                                BuildRecord(type, opts->name, fields, opts->meta));
        COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
        COFFER_ASSIGN_OR_RETURN(const std::string space_id, ctx.SpaceId());
        record.set_space_id(space_id);
        COFFER_ASSIGN_OR_RETURN(auto* stub, session->Records());
        v1::CreateRecordRequest request;
        *request.mutable_record() = record;
        request.set_record_id(opts->id);
        v1::CreateRecordResponse response;
        COFFER_RETURN_IF_ERROR(session->CallVault(
            [&](grpc::ClientContext& c) { return stub->CreateRecord(&c, request, &response); }));
        const auto& created = response.record();
        ctx.Emit(RecordToJson(created, /*reveal=*/false),
                 "added " + RecordTypeName(created.type()) + " \"" + created.name() + "\" " +
                     created.id() + " (version " + std::to_string(created.version()) + ")\n");
        return absl::OkStatus();
      };
    });
  }
}

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

void AddEditCommand(CLI::App& app, CommandContext& ctx, Action& action) {
  struct Opts {
    std::string ref;
    std::string name;
    CLI::Option* name_opt = nullptr;
    std::vector<std::string> meta;
    std::vector<std::string> unset_meta;
    uint64_t expected_version = 0;
    CLI::Option* expected_opt = nullptr;
    bool reveal = false;
    FieldFlags fields;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "edit",
      "Change a record (check-and-set: fails with exit code 4 and shows both sides when someone "
      "else changed it since you read it)");
  cmd->add_option("record", opts->ref, "Record id or exact name")->required();
  opts->name_opt = cmd->add_option("--name", opts->name, "New display name");
  cmd->add_option("--meta", opts->meta, "Set metadata key=value (repeatable)");
  cmd->add_option("--unset-meta", opts->unset_meta, "Remove a metadata key (repeatable)");
  opts->expected_opt =
      cmd->add_option("--expected-version", opts->expected_version,
                      "The version your change is based on (default: the version read just now)");
  cmd->add_flag("--reveal", opts->reveal, "Show secrets in the conflict view");
  opts->fields.Register(cmd, AllFieldSpecs(), /*with_prompt=*/true);
  cmd->callback([&ctx, &action, opts] {
    action = [&ctx, opts]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(auto fields, opts->fields.Collect(ctx, false, ""));
      if (fields.empty() && opts->name_opt->count() == 0 && opts->meta.empty() &&
          opts->unset_meta.empty()) {
        return absl::InvalidArgumentError(
            "nothing to change: give --name, --meta, --unset-meta or a field flag (see `coffer "
            "edit --help`)");
      }
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Records());
      COFFER_ASSIGN_OR_RETURN(v1::Record head, ResolveRecord(ctx, *session, opts->ref));
      if (head.deleted()) {
        return absl::FailedPreconditionError("record " + head.id() +
                                             " is in the trash: run `coffer undelete " + head.id() +
                                             "` first");
      }
      v1::Record mine = WritableCopy(head);
      if (opts->name_opt->count() > 0) mine.set_name(opts->name);
      for (const auto& [field, value] : fields) {
        COFFER_RETURN_IF_ERROR(ApplyField(mine, field, value));
      }
      COFFER_RETURN_IF_ERROR(ApplyMetadata(mine, opts->meta, opts->unset_meta));
      const uint64_t expected =
          opts->expected_opt->count() > 0 ? opts->expected_version : head.version();

      v1::UpdateRecordRequest request;
      *request.mutable_record() = mine;
      request.set_expected_version(expected);
      v1::UpdateRecordResponse response;
      absl::Status st = session->CallVault(
          [&](grpc::ClientContext& c) { return stub->UpdateRecord(&c, request, &response); });
      if (st.code() == absl::StatusCode::kFailedPrecondition ||
          st.code() == absl::StatusCode::kAborted) {
        auto server = GetRecord(*session, head.space_id(), head.id());
        if (!server.ok() || server->version() == expected) return st;
        mine.set_version(expected);
        if (ctx.Json()) {
          WriteJson(ctx.out(), nlohmann::json{{"conflict",
                                               {{"id", head.id()},
                                                {"expected_version", expected},
                                                {"server_version", server->version()},
                                                {"yours", RecordToJson(mine, opts->reveal)},
                                                {"server", RecordToJson(*server, opts->reveal)}}}});
        } else {
          ctx.out() << "conflict: your change is based on version " << expected
                    << ", but the server has version " << server->version() << "\n"
                    << ConflictTable(mine, *server, opts->reveal).Render();
        }
        return absl::FailedPreconditionError(
            "record " + head.id() + " was changed since version " + std::to_string(expected) +
            " (server has version " + std::to_string(server->version()) +
            "): review the differences and re-run `coffer edit " + head.id() + "`");
      }
      COFFER_RETURN_IF_ERROR(st);
      const auto& updated = response.record();
      ctx.Emit(RecordToJson(updated, false), "updated \"" + updated.name() + "\" " + updated.id() +
                                                 " (version " + std::to_string(updated.version()) +
                                                 ")\n");
      return absl::OkStatus();
    };
  });
}

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
      } else {
        v1::UndeleteRecordRequest request;
        request.set_id(head.id());
        request.set_space_id(head.space_id());
        request.set_expected_version(expected);
        v1::UndeleteRecordResponse response;
        COFFER_RETURN_IF_ERROR(session->CallVault(
            [&](grpc::ClientContext& c) { return stub->UndeleteRecord(&c, request, &response); }));
        result = response.record();
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
      ctx.Emit(RecordToJson(r, false), "restored \"" + r.name() + "\" to the content of version " +
                                           std::to_string(opts->version) + " as version " +
                                           std::to_string(r.version()) + "\n");
      return absl::OkStatus();
    };
  });
}

void AddListCommands(CLI::App& app, CommandContext& ctx, Action& action) {
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
      std::vector<v1::Record> records;
      size_t count = 0;
      absl::Status paged =
          Paginate(search->limit, &count,
                   [&](const std::string& token, int size, std::string* next) -> absl::Status {
                     v1::SearchRecordsRequest request;
                     request.set_space_id(space_id);
                     request.set_query(search->query);
                     request.set_page_size(size);
                     request.set_page_token(token);
                     v1::SearchRecordsResponse response;
                     COFFER_RETURN_IF_ERROR(session->CallVault([&](grpc::ClientContext& c) {
                       return stub->SearchRecords(&c, request, &response);
                     }));
                     for (auto& r : *response.mutable_records()) records.push_back(std::move(r));
                     count = records.size();
                     *next = response.next_page_token();
                     return absl::OkStatus();
                   });
      if (!paged.ok()) return paged;
      PrintRecords(ctx, records, "no matches\n");
      return absl::OkStatus();
    };
  });

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
      std::vector<v1::Record> versions;
      size_t count = 0;
      absl::Status paged =
          Paginate(history->limit, &count,
                   [&](const std::string& token, int size, std::string* next) -> absl::Status {
                     v1::ListRecordVersionsRequest request;
                     request.set_id(head.id());
                     request.set_space_id(head.space_id());
                     request.set_page_size(size);
                     request.set_page_token(token);
                     v1::ListRecordVersionsResponse response;
                     COFFER_RETURN_IF_ERROR(session->CallVault([&](grpc::ClientContext& c) {
                       return stub->ListRecordVersions(&c, request, &response);
                     }));
                     for (auto& r : *response.mutable_versions()) versions.push_back(std::move(r));
                     count = versions.size();
                     *next = response.next_page_token();
                     return absl::OkStatus();
                   });
      if (!paged.ok()) return paged;
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

  auto conflicts_limit = std::make_shared<int>(0);
  auto* conflicts_cmd = app.add_subcommand(
      "conflicts", "List records with unresolved concurrent versions (any edit resolves them)");
  conflicts_cmd->add_option("--limit", *conflicts_limit, "At most this many records (0 = all)");
  conflicts_cmd->callback([&ctx, &action, conflicts_limit] {
    action = [&ctx, conflicts_limit]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Records());
      COFFER_ASSIGN_OR_RETURN(const std::string space_id, ctx.SpaceId());
      std::vector<v1::Conflict> conflicts;
      size_t count = 0;
      absl::Status paged =
          Paginate(*conflicts_limit, &count,
                   [&](const std::string& token, int size, std::string* next) -> absl::Status {
                     v1::ListConflictsRequest request;
                     request.set_space_id(space_id);
                     request.set_page_size(size);
                     request.set_page_token(token);
                     v1::ListConflictsResponse response;
                     COFFER_RETURN_IF_ERROR(session->CallVault([&](grpc::ClientContext& c) {
                       return stub->ListConflicts(&c, request, &response);
                     }));
                     for (auto& cf : *response.mutable_conflicts())
                       conflicts.push_back(std::move(cf));
                     count = conflicts.size();
                     *next = response.next_page_token();
                     return absl::OkStatus();
                   });
      if (!paged.ok()) return paged;
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

}  // namespace

void AddRecordCommands(CLI::App& app, CommandContext& ctx, Action& action) {
  AddAddCommands(app, ctx, action);
  AddGetCommand(app, ctx, action);
  AddEditCommand(app, ctx, action);
  AddTrashMoveCommand(app, ctx, action, /*to_trash=*/true);
  AddTrashMoveCommand(app, ctx, action, /*to_trash=*/false);
  AddRestoreCommand(app, ctx, action);
  AddListCommands(app, ctx, action);
  AddOtpCommand(app, ctx, action);
}

}  // namespace coffer::cli
