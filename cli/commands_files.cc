// `coffer file upload|download|info`: file content (FileService), streamed in 256 KiB chunks.
//
// upload hashes the file first (the SHA-256 travels in the metadata message), then streams it;
// download writes to "<path>.part", checks size and SHA-256, and only then renames it into place,
// so an interrupted or corrupted download never leaves a file that looks complete. Both show a
// progress line on stderr when it is a terminal and the output is not JSON.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/record_commands.h"
#include "cli/record_view.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"

namespace coffer::cli {
namespace {

namespace v1 = ::coffer::vault::v1;
namespace fs = std::filesystem;

constexpr size_t kChunk = 256 * 1024;

// "\r<verb> <name>  42 %  (1.2 MiB of 2.9 MiB)" on stderr, only on a terminal.
class Progress {
 public:
  Progress(CommandContext& ctx, std::string verb, std::string name, uint64_t total)
      : on_(!ctx.Json() && ::isatty(STDERR_FILENO) == 1),
        err_(ctx.err()),
        verb_(std::move(verb)),
        name_(std::move(name)),
        total_(total) {}
  ~Progress() {
    if (on_ && shown_) err_ << "\n";
  }

  void Add(uint64_t n) {
    done_ += n;
    if (!on_) return;
    const int percent = total_ == 0 ? 100 : static_cast<int>(done_ * 100 / total_);
    if (percent == last_percent_) return;
    last_percent_ = percent;
    shown_ = true;
    err_ << "\r" << verb_ << " " << name_ << "  " << percent << " %  (" << Mib(done_) << " of "
         << Mib(total_) << ")" << std::flush;
  }

 private:
  static std::string Mib(uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return buf;
  }

  const bool on_;
  std::ostream& err_;
  const std::string verb_, name_;
  const uint64_t total_;
  uint64_t done_ = 0;
  int last_percent_ = -1;
  bool shown_ = false;
};

nlohmann::json InfoToJson(const v1::FileInfo& info) {
  return {{"blob_id", info.blob_id()},           {"space_id", info.space_id()},
          {"size_bytes", info.size_bytes()},     {"sha256_hex", info.sha256_hex()},
          {"content_type", info.content_type()}, {"file_name", info.file_name()},
          {"chunk_count", info.chunk_count()},   {"create_time", FormatTime(info.create_time())}};
}

std::string InfoText(const v1::FileInfo& info) {
  return "blob          " + info.blob_id() + "\nfile name     " + info.file_name() +
         "\ncontent type  " + info.content_type() + "\nsize          " +
         std::to_string(info.size_bytes()) + " bytes\nsha256        " + info.sha256_hex() +
         "\nstored        " + FormatTime(info.create_time()) + "\n";
}

// SHA-256 (hex) and size of a file, read in chunks.
absl::StatusOr<std::pair<std::string, uint64_t>> HashFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  crypto::Sha256Stream sha;
  std::string buf(kChunk, '\0');
  uint64_t size = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<size_t>(in.gcount());
    sha.Update(std::string_view(buf.data(), n));
    size += n;
  }
  if (in.bad()) return absl::DataLossError("error reading " + path);
  return std::make_pair(crypto::HexEncode(sha.Finish()), size);
}

void AddUploadCommand(CLI::App& parent, CommandContext& ctx, Action& action) {
  struct Opts {
    std::string path, name, content_type, record;
    uint64_t expected_version = 0;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd =
      parent.add_subcommand("upload", "Upload a file (to the space, or into a file record)");
  cmd->add_option("path", opts->path, "The file to upload")->required()->check(CLI::ExistingFile);
  cmd->add_option("--name", opts->name, "File name to store (default: the path's last part)");
  cmd->add_option("--content-type", opts->content_type,
                  "MIME type (default: application/octet-stream)");
  auto* record = cmd->add_option("--record", opts->record,
                                 "Attach the content to this file record (its next version)");
  cmd->add_option("--expected-version", opts->expected_version,
                  "With --record: the version you read (check-and-set)")
      ->needs(record);
  cmd->callback([&ctx, &action, opts] {
    action = [&ctx, opts]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Files());
      if (!opts->record.empty() && opts->expected_version == 0) {
        return absl::InvalidArgumentError("--record needs --expected-version (see `coffer get " +
                                          opts->record + "`)");
      }
      COFFER_ASSIGN_OR_RETURN(auto hashed, HashFile(opts->path));
      COFFER_ASSIGN_OR_RETURN(const std::string space_id, ctx.SpaceId());
      v1::UploadFileRequest msg;
      v1::UploadFileMetadata* meta = msg.mutable_metadata();
      meta->set_space_id(space_id);
      meta->set_record_id(opts->record);
      meta->set_expected_version(opts->expected_version);
      meta->set_file_name(opts->name.empty() ? fs::path(opts->path).filename().string()
                                             : opts->name);
      meta->set_content_type(opts->content_type);
      meta->set_size_bytes(hashed.second);
      meta->set_sha256_hex(hashed.first);
      const std::string file_name = meta->file_name();

      COFFER_ASSIGN_OR_RETURN(auto context, session->NewStreamContext());
      v1::UploadFileResponse response;
      auto writer = stub->UploadFile(context.get(), &response);
      std::ifstream in(opts->path, std::ios::binary);
      if (!in) return absl::NotFoundError("cannot read " + opts->path);
      bool open = writer->Write(msg);
      Progress progress(ctx, "uploading", file_name, hashed.second);
      std::string buf(kChunk, '\0');
      while (open && in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        const auto n = static_cast<size_t>(in.gcount());
        if (n == 0) break;
        msg.set_chunk(buf.data(), n);
        open = writer->Write(msg);  // false: the server answered early (an error follows)
        progress.Add(n);
      }
      writer->WritesDone();
      grpc::Status st = writer->Finish();
      COFFER_RETURN_IF_ERROR(session->VaultError(st));
      nlohmann::json json = {{"blob_id", response.blob_id()},
                             {"size_bytes", response.size_bytes()},
                             {"sha256_hex", response.sha256_hex()}};
      std::string text = "uploaded " + file_name + " as " + response.blob_id() + " (" +
                         std::to_string(response.size_bytes()) + " bytes)\n";
      if (response.has_record()) {
        json["record"] = RecordToJson(response.record(), false);
        text += "record " + response.record().id() + " is now version " +
                std::to_string(response.record().version()) + "\n";
        RememberWrite(ctx, *session, response.record().space_id(), response.consistency_token());
      }
      ctx.Emit(json, text);
      return absl::OkStatus();
    };
  });
}

void AddDownloadCommand(CLI::App& parent, CommandContext& ctx, Action& action) {
  struct Opts {
    std::string blob_id, out;
    bool force = false;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = parent.add_subcommand("download", "Download a file's content");
  cmd->add_option("blob", opts->blob_id, "The blob id (from `coffer get` of a file record)")
      ->required();
  cmd->add_option(
      "-O,--out", opts->out,
      "Where to write it (default: the stored file name, in this directory; - = stdout)");
  cmd->add_flag("--force", opts->force, "Overwrite an existing file");
  cmd->callback([&ctx, &action, opts] {
    action = [&ctx, opts]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Files());
      COFFER_ASSIGN_OR_RETURN(auto context, session->NewStreamContext());
      v1::DownloadFileRequest request;
      request.set_blob_id(opts->blob_id);
      auto reader = stub->DownloadFile(context.get(), request);
      v1::DownloadFileResponse msg;
      if (!reader->Read(&msg) || !msg.has_info()) {
        return session->VaultError(reader->Finish());
      }
      const v1::FileInfo info = msg.info();
      const bool to_stdout = opts->out == "-";
      // The stored name is only used as a bare name here: never a path the server could steer.
      const std::string& stored = info.file_name();
      const bool bare = !stored.empty() && stored != "." && stored != ".." &&
                        stored.find('/') == std::string::npos &&
                        stored.find('\0') == std::string::npos;
      std::string path = opts->out.empty() ? stored : opts->out;
      if (!to_stdout && fs::is_directory(path)) path = (fs::path(path) / stored).string();
      if (!to_stdout && (opts->out.empty() || fs::is_directory(opts->out)) && !bare) {
        context->TryCancel();
        reader->Finish();
        return absl::InvalidArgumentError("the stored file name is not a bare name; pass -O PATH");
      }
      if (!to_stdout && fs::exists(path) && !opts->force) {
        context->TryCancel();
        reader->Finish();
        return absl::AlreadyExistsError(path + " exists; pass --force to overwrite it");
      }
      const std::string part = path + ".part";
      std::ofstream file;
      if (!to_stdout) {
        file.open(part, std::ios::binary | std::ios::trunc);
        if (!file) return absl::PermissionDeniedError("cannot write " + part);
      }
      std::ostream& out = to_stdout ? ctx.out() : file;
      crypto::Sha256Stream sha;
      uint64_t size = 0;
      {
        Progress progress(ctx, "downloading", info.file_name(), info.size_bytes());
        while (reader->Read(&msg)) {
          sha.Update(msg.chunk());
          out.write(msg.chunk().data(), static_cast<std::streamsize>(msg.chunk().size()));
          size += msg.chunk().size();
          progress.Add(msg.chunk().size());
        }
      }
      grpc::Status st = reader->Finish();
      auto fail = [&](absl::Status why) {
        if (!to_stdout) {
          file.close();
          fs::remove(part);
        }
        return why;
      };
      if (!st.ok()) return fail(session->VaultError(st));
      if (size != info.size_bytes() || crypto::HexEncode(sha.Finish()) != info.sha256_hex()) {
        return fail(
            absl::DataLossError("the downloaded content does not match its size and "
                                "SHA-256; nothing was written"));
      }
      if (to_stdout) return absl::OkStatus();
      file.close();
      if (!file) return fail(absl::DataLossError("error writing " + part));
      fs::rename(part, path);
      nlohmann::json json = InfoToJson(info);
      json["path"] = path;
      ctx.Emit(json, "wrote " + path + " (" + std::to_string(size) + " bytes, sha256 " +
                         info.sha256_hex() + ")\n");
      return absl::OkStatus();
    };
  });
}

void AddInfoCommand(CLI::App& parent, CommandContext& ctx, Action& action) {
  auto blob_id = std::make_shared<std::string>();
  auto* cmd = parent.add_subcommand("info", "Describe a stored file without downloading it");
  cmd->add_option("blob", *blob_id, "The blob id")->required();
  cmd->callback([&ctx, &action, blob_id] {
    action = [&ctx, blob_id]() -> absl::Status {
      COFFER_ASSIGN_OR_RETURN(Session * session, ctx.GetSession());
      COFFER_ASSIGN_OR_RETURN(auto* stub, session->Files());
      v1::GetFileInfoRequest request;
      request.set_blob_id(*blob_id);
      v1::GetFileInfoResponse response;
      COFFER_RETURN_IF_ERROR(session->CallVault(
          [&](grpc::ClientContext& c) { return stub->GetFileInfo(&c, request, &response); }));
      ctx.Emit(InfoToJson(response.info()), InfoText(response.info()));
      return absl::OkStatus();
    };
  });
}

}  // namespace

void AddFileCommands(CLI::App& app, CommandContext& ctx, Action& action) {
  auto* file = app.add_subcommand("file", "Upload, download and describe file content");
  file->require_subcommand(1);
  AddUploadCommand(*file, ctx, action);
  AddDownloadCommand(*file, ctx, action);
  AddInfoCommand(*file, ctx, action);
}

}  // namespace coffer::cli
