// Record commands that write content from flags, files, stdin and prompts: add <type>, edit
// (check-and-set, with a two-sided view when the record changed meanwhile).
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "cli/record_commands.h"
#include "cli/record_input.h"

namespace coffer::cli {
namespace {

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

}  // namespace

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
        session->positions().Remember(space_id, created.space_id(), response.consistency_token());
        ctx.Emit(RecordToJson(created, /*reveal=*/false),
                 "added " + RecordTypeName(created.type()) + " \"" + created.name() + "\" " +
                     created.id() + " (version " + std::to_string(created.version()) + ")\n");
        return absl::OkStatus();
      };
    });
  }
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
      RememberWrite(ctx, *session, updated.space_id(), response.consistency_token());
      ctx.Emit(RecordToJson(updated, false), "updated \"" + updated.name() + "\" " + updated.id() +
                                                 " (version " + std::to_string(updated.version()) +
                                                 ")\n");
      return absl::OkStatus();
    };
  });
}

}  // namespace coffer::cli
