// coffer-bench-rollout: writes through the replicas of one shard while they are restarted one
// at a time (scripts/rolling-restart, issue 20), as clients behind a Kubernetes Service would see
// a Deployment rollout.
//
// --writers threads each own --records-per-writer records and keep updating them in turn, each
// write with a value never written before. A call goes to one replica (--addrs, round robin per
// writer); when it fails with a retryable code (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED,
// CANCELLED) the writer retries on the next replica, as gRPC clients with a retry policy do.
// After an ambiguous failure (the write may have landed, its answer lost), a version mismatch or
// an existing id is resolved by reading the record: if it holds this write's value the write
// was acknowledged after all. Any other failure is a hard error.
//
// The run stops when --stop-file exists (or after --max-seconds). Then every record is read
// back: a record whose version or value differs from the last acknowledged write is a lost
// write. One JSON document on stdout (or --out); exit status 1 on a hard error or a lost write.
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_login.h"
#include "coffer/vault/v1/vault.grpc.pb.h"

namespace {

namespace v1 = coffer::vault::v1;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<std::string> addrs;
  std::string identity_addr;
  std::string login = "rollout-bench";
  std::string password = "rollout-bench-password";
  int writers = 8;
  int records_per_writer = 16;
  std::string stop_file;
  int max_seconds = 600;
  std::string out;
};

bool Retryable(grpc::StatusCode c) {
  return c == grpc::StatusCode::UNAVAILABLE || c == grpc::StatusCode::DEADLINE_EXCEEDED ||
         c == grpc::StatusCode::ABORTED || c == grpc::StatusCode::CANCELLED;
}

std::string CodeName(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    default:
      return "code " + std::to_string(static_cast<int>(c));
  }
}

std::string Login(const Options& o) {
  return coffer::bench::RegisterAndLogin(o.identity_addr, o.login, o.password);
}

struct Acked {
  uint64_t version = 0;
  std::string value;
};

struct Totals {
  std::mutex mu;
  int64_t acked = 0;
  int64_t retried_writes = 0;    // writes that needed at least one retry
  int64_t resolved_by_read = 0;  // ambiguous failures that had landed
  std::map<std::string, int64_t> retries_by_code;
  std::vector<std::string> hard_errors;
  std::vector<double> latency_ms;  // per acknowledged write, retries included
};

class Writer {
 public:
  Writer(const Options& o, int index, const std::string& token,
         std::vector<std::unique_ptr<v1::RecordService::Stub>>& stubs, Totals& totals)
      : o_(o),
        index_(index),
        token_(token),
        stubs_(stubs),
        totals_(totals),
        acked_(static_cast<size_t>(o.records_per_writer)) {}

  void Run(const std::atomic<bool>& stop) {
    int64_t n = 0;
    while (!stop.load()) {
      const int k = static_cast<int>(n % o_.records_per_writer);
      Write(k, "w" + std::to_string(index_) + "-n" + std::to_string(n));
      ++n;
    }
  }

  // Reads every record back; returns the lost writes.
  std::vector<std::string> Verify() {
    std::vector<std::string> lost;
    for (int k = 0; k < o_.records_per_writer; ++k) {
      const Acked& a = acked_[static_cast<size_t>(k)];
      if (a.version == 0) continue;
      v1::Record r;
      grpc::Status s;
      for (int attempt = 0; attempt < 20; ++attempt) {
        s = Get(k, attempt, &r);
        if (s.ok() || !Retryable(s.error_code())) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (!s.ok()) {
        lost.push_back(Id(k) + ": " + s.error_message());
      } else if (r.version() != a.version || r.text().text() != a.value) {
        lost.push_back(Id(k) + ": acknowledged version " + std::to_string(a.version) + " (" +
                       a.value + "), stored version " + std::to_string(r.version()) + " (" +
                       r.text().text() + ")");
      }
    }
    return lost;
  }

 private:
  std::string Id(int k) const {
    char buf[64];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%06d%06d", index_ % 1000000,
                  k % 1000000);
    return buf;
  }

  std::unique_ptr<grpc::ClientContext> Ctx() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ctx->AddMetadata("authorization", token_);
    return ctx;
  }

  grpc::Status Get(int k, int attempt, v1::Record* out) {
    v1::GetRecordRequest req;
    v1::GetRecordResponse resp;
    req.set_id(Id(k));
    auto& stub = stubs_[static_cast<size_t>(index_ + attempt) % stubs_.size()];
    grpc::Status s = stub->GetRecord(Ctx().get(), req, &resp);
    if (s.ok()) *out = resp.record();
    return s;
  }

  void Write(int k, const std::string& value) {
    Acked& a = acked_[static_cast<size_t>(k)];
    const auto t0 = Clock::now();
    bool ambiguous = false;
    int retries = 0;
    for (int attempt = 0;; ++attempt) {
      auto& stub = stubs_[static_cast<size_t>(index_ + attempt) % stubs_.size()];
      v1::Record rec;
      rec.set_id(Id(k));
      rec.set_type(v1::RECORD_TYPE_TEXT);
      rec.set_name("rollout-" + Id(k));
      rec.mutable_text()->set_text(value);
      grpc::Status s;
      uint64_t version = 0;
      if (a.version == 0) {
        v1::CreateRecordRequest req;
        v1::CreateRecordResponse resp;
        *req.mutable_record() = rec;
        req.set_record_id(Id(k));  // idempotent: a retry of a create that landed returns it
        s = stub->CreateRecord(Ctx().get(), req, &resp);
        version = resp.record().version();
      } else {
        v1::UpdateRecordRequest req;
        v1::UpdateRecordResponse resp;
        *req.mutable_record() = rec;
        req.set_expected_version(a.version);
        s = stub->UpdateRecord(Ctx().get(), req, &resp);
        version = resp.record().version();
      }
      if (s.ok()) {
        Done(a, version, value, t0, retries, false);
        return;
      }
      const grpc::StatusCode code = s.error_code();
      if (Retryable(code) && Clock::now() - t0 < std::chrono::seconds(60)) {
        ambiguous = true;
        ++retries;
        {
          std::lock_guard lock(totals_.mu);
          ++totals_.retries_by_code[CodeName(code)];
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(20 * attempt, 200)));
        continue;
      }
      // An earlier attempt may have landed with its answer lost: read what is stored.
      if (ambiguous && (code == grpc::StatusCode::FAILED_PRECONDITION ||
                        code == grpc::StatusCode::ALREADY_EXISTS)) {
        v1::Record stored;
        grpc::Status g = Get(k, attempt, &stored);
        if (g.ok() && stored.text().text() == value) {
          Done(a, stored.version(), value, t0, retries, true);
          return;
        }
      }
      std::lock_guard lock(totals_.mu);
      totals_.hard_errors.push_back(Id(k) + ": " + CodeName(code) + ": " + s.error_message());
      return;
    }
  }

  void Done(Acked& a, uint64_t version, const std::string& value, Clock::time_point t0, int retries,
            bool by_read) {
    a.version = version;
    a.value = value;
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::lock_guard lock(totals_.mu);
    ++totals_.acked;
    if (retries > 0) ++totals_.retried_writes;
    if (by_read) ++totals_.resolved_by_read;
    totals_.latency_ms.push_back(ms);
  }

  const Options& o_;
  const int index_;
  const std::string& token_;
  std::vector<std::unique_ptr<v1::RecordService::Stub>>& stubs_;
  Totals& totals_;
  std::vector<Acked> acked_;
};

int Run(const Options& o) {
  const std::string token = Login(o);
  // One channel per replica and writer: as many connections as a fleet of clients would hold.
  std::vector<std::vector<std::unique_ptr<v1::RecordService::Stub>>> stubs(
      static_cast<size_t>(o.writers));
  for (auto& per_writer : stubs) {
    for (const std::string& addr : o.addrs) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      per_writer.push_back(v1::RecordService::NewStub(
          grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args)));
    }
  }
  Totals totals;
  std::vector<std::unique_ptr<Writer>> writers;
  for (int i = 0; i < o.writers; ++i) {
    writers.push_back(std::make_unique<Writer>(o, i, token, stubs[static_cast<size_t>(i)], totals));
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const auto started = Clock::now();
  for (auto& w : writers) threads.emplace_back([&w, &stop] { w->Run(stop); });
  while (!(o.stop_file.size() && std::filesystem::exists(o.stop_file)) &&
         Clock::now() - started < std::chrono::seconds(o.max_seconds)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::vector<std::string> lost;
  for (auto& w : writers) {
    for (std::string& l : w->Verify()) lost.push_back(std::move(l));
  }
  std::vector<double> lat = totals.latency_ms;
  std::sort(lat.begin(), lat.end());
  auto at = [&](double q) {
    return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<size_t>(q * lat.size()))];
  };
  json retries = json::object();
  for (const auto& [code, n] : totals.retries_by_code) retries[code] = n;
  json result = {
      {"seconds", seconds},
      {"writes_acknowledged", totals.acked},
      {"writes_per_s", static_cast<double>(totals.acked) / seconds},
      {"writes_retried", totals.retried_writes},
      {"resolved_by_read", totals.resolved_by_read},
      {"retries_by_grpc_code", retries},
      {"hard_errors", totals.hard_errors.size()},
      {"hard_error_samples",
       json(std::vector<std::string>(
           totals.hard_errors.begin(),
           totals.hard_errors.begin() + std::min<size_t>(5, totals.hard_errors.size())))},
      {"lost_writes", lost.size()},
      {"lost_samples", json(std::vector<std::string>(
                           lost.begin(), lost.begin() + std::min<size_t>(5, lost.size())))},
      {"latency_ms", {{"p50", at(0.5)}, {"p99", at(0.99)}, {"max", lat.empty() ? 0 : lat.back()}}}};
  if (o.out.empty()) {
    std::cout << result.dump(2) << "\n";
  } else {
    std::ofstream(o.out) << result.dump(2) << "\n";
  }
  return totals.hard_errors.empty() && lost.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"coffer-bench-rollout: writes through a shard's replicas while they restart"};
  app.add_option("--addrs", o.addrs, "the replicas' gRPC host:port (comma separated)")
      ->required()
      ->delimiter(',');
  app.add_option("--identity-addr", o.identity_addr, "identity gRPC host:port")->required();
  app.add_option("--login", o.login, "the user that writes");
  app.add_option("--password", o.password, "its password");
  app.add_option("--writers", o.writers, "concurrent writers")->check(CLI::Range(1, 256));
  app.add_option("--records-per-writer", o.records_per_writer, "records each writer updates")
      ->check(CLI::Range(1, 100000));
  app.add_option("--stop-file", o.stop_file, "stop when this file exists");
  app.add_option("--max-seconds", o.max_seconds, "stop after this long at the latest")
      ->check(CLI::Range(1, 86400));
  app.add_option("--out", o.out, "write the JSON here instead of stdout");
  CLI11_PARSE(app, argc, argv);
  try {
    return Run(o);
  } catch (const std::exception& e) {
    std::cerr << "coffer-bench-rollout: " << e.what() << "\n";
    return 1;
  }
}
