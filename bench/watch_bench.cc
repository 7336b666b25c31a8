// coffer-bench-watch: many idle SyncService.Watch streams on one replica (issue 19, docs/
// benchmarks.md "Idle Watch streams"). Driven by scripts/bench-watch.
//
// Logs one user in, opens --streams Watch streams on its personal space from the end of its
// change feed (spread over --channels connections, gRPC's callback client API: the client holds
// no thread per stream either), waits until every stream has sent its first heartbeat, then:
//   idle      for --idle-seconds nothing happens: the vault's CPU time (with --vault-pid, from
//             /proc), its threads and resident memory, before the streams and with them open;
//   fan-out   --writes times, one CreateRecord and the time until every stream has received
//             that change (p50/p99/max over the streams, and the slowest stream per write).
// One JSON document on stdout (or --out). Exits non-zero when a stream ends or misses a change.
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_login.h"
#include "bench/bench_proc.h"
#include "coffer/vault/v1/sync.grpc.pb.h"
#include "coffer/vault/v1/vault.grpc.pb.h"

namespace {

namespace v1 = coffer::vault::v1;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string addr;
  std::string identity_addr;
  std::string login = "watch-bench";
  std::string password = "watch-bench-password";
  int streams = 5000;
  int channels = 50;
  int writes = 10;
  int idle_seconds = 10;
  int vault_pid = 0;
  std::string out;
};

using coffer::bench::ProcStats;
using coffer::bench::ReadProc;

json ProcJson(const ProcStats& p) {
  return {{"rss_mib", static_cast<double>(p.rss_kib) / 1024.0}, {"threads", p.threads}};
}

// What every stream reports: the arrival time of each awaited record id.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  int heartbeats = 0;  // streams that have sent their first heartbeat
  int ended = 0;       // streams that ended (any status)
  std::string first_error;
  std::string awaited;                     // record id of the current write
  int arrived = 0;                         // streams that received `awaited`
  std::vector<Clock::time_point> arrival;  // per stream, for `awaited`
};

class Stream final : public grpc::ClientReadReactor<v1::WatchResponse> {
 public:
  Stream(Shared& shared, int index, v1::SyncService::Stub& stub, const std::string& token,
         const std::string& cursor)
      : shared_(shared), index_(index) {
    ctx_.AddMetadata("authorization", token);
    v1::WatchRequest req;
    req.set_cursor(cursor);
    stub.async()->Watch(&ctx_, &req, this);
    StartRead(&msg_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    const auto now = Clock::now();
    {
      std::lock_guard lock(shared_.mu);
      if (msg_.has_heartbeat() && !heartbeat_seen_) {
        heartbeat_seen_ = true;
        ++shared_.heartbeats;
        shared_.cv.notify_all();
      } else if (msg_.has_change() && msg_.change().record().id() == shared_.awaited) {
        shared_.arrival[index_] = now;
        ++shared_.arrived;
        shared_.cv.notify_all();
      }
    }
    StartRead(&msg_);
  }
  void OnDone(const grpc::Status& s) override {
    std::lock_guard lock(shared_.mu);
    ++shared_.ended;
    if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED && shared_.first_error.empty()) {
      shared_.first_error = "Watch ended: " + s.error_message();
    }
    shared_.cv.notify_all();
  }

 private:
  Shared& shared_;
  const int index_;
  grpc::ClientContext ctx_;
  v1::WatchResponse msg_;
  bool heartbeat_seen_ = false;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", token);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

void Check(const grpc::Status& s, const std::string& what) {
  if (!s.ok()) throw std::runtime_error(what + ": " + s.error_message());
}

int Run(const Options& o) {
  const std::string token = coffer::bench::RegisterAndLogin(o.identity_addr, o.login, o.password);
  auto main_channel = grpc::CreateChannel(o.addr, grpc::InsecureChannelCredentials());
  auto records = v1::RecordService::NewStub(main_channel);
  auto sync = v1::SyncService::NewStub(main_channel);

  // The end of the feed: streams start there, so their catch-up is empty.
  std::string cursor;
  for (;;) {
    v1::SyncRequest req;
    v1::SyncResponse resp;
    req.set_cursor(cursor);
    req.set_page_size(1000);
    Check(sync->Sync(Ctx(token).get(), req, &resp), "Sync");
    cursor = resp.next_cursor();
    if (!resp.has_more()) break;
  }

  const ProcStats before = ReadProc(o.vault_pid);
  Shared shared;
  shared.arrival.resize(o.streams);
  std::vector<std::unique_ptr<v1::SyncService::Stub>> stubs;
  for (int c = 0; c < o.channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("coffer-channel", c);  // distinct arguments: a connection of its own
    stubs.push_back(v1::SyncService::NewStub(
        grpc::CreateCustomChannel(o.addr, grpc::InsecureChannelCredentials(), args)));
  }
  const auto open_start = Clock::now();
  std::vector<std::unique_ptr<Stream>> streams;
  streams.reserve(o.streams);
  for (int i = 0; i < o.streams; ++i) {
    streams.push_back(std::make_unique<Stream>(shared, i, *stubs[i % o.channels], token, cursor));
  }
  {
    std::unique_lock lock(shared.mu);
    if (!shared.cv.wait_for(lock, std::chrono::seconds(120),
                            [&] { return shared.heartbeats == o.streams || shared.ended > 0; })) {
      throw std::runtime_error("only " + std::to_string(shared.heartbeats) + " of " +
                               std::to_string(o.streams) + " streams caught up in 120 s");
    }
    if (shared.ended > 0) throw std::runtime_error("a stream ended: " + shared.first_error);
  }
  const double open_seconds = std::chrono::duration<double>(Clock::now() - open_start).count();

  const ProcStats open = ReadProc(o.vault_pid);
  std::this_thread::sleep_for(std::chrono::seconds(o.idle_seconds));
  const ProcStats idle = ReadProc(o.vault_pid);

  json writes = json::array();
  std::vector<double> all_ms, slowest_ms;
  for (int w = 0; w < o.writes; ++w) {
    v1::CreateRecordRequest req;
    v1::CreateRecordResponse resp;
    req.mutable_record()->set_type(v1::RECORD_TYPE_TEXT);
    req.mutable_record()->set_name("watched-" + std::to_string(w));
    req.mutable_record()->mutable_text()->set_text(std::string(300, 'x'));
    // The id is chosen by the client, so streams can match it before the response arrives.
    const std::string id = [] {
      std::ifstream u("/proc/sys/kernel/random/uuid");
      std::string s;
      u >> s;
      return s;
    }();
    req.set_record_id(id);
    {
      std::lock_guard lock(shared.mu);
      shared.awaited = id;
      shared.arrived = 0;
    }
    const auto sent = Clock::now();
    Check(records->CreateRecord(Ctx(token).get(), req, &resp), "CreateRecord");
    std::unique_lock lock(shared.mu);
    if (!shared.cv.wait_for(lock, std::chrono::seconds(60),
                            [&] { return shared.arrived == o.streams || shared.ended > 0; })) {
      throw std::runtime_error("write " + std::to_string(w) + " reached only " +
                               std::to_string(shared.arrived) + " of " + std::to_string(o.streams) +
                               " streams in 60 s");
    }
    if (shared.ended > 0) throw std::runtime_error("a stream ended: " + shared.first_error);
    std::vector<double> ms;
    ms.reserve(o.streams);
    for (const auto& t : shared.arrival) {
      ms.push_back(std::chrono::duration<double, std::milli>(t - sent).count());
    }
    lock.unlock();
    const double slowest = *std::max_element(ms.begin(), ms.end());
    writes.push_back(
        {{"p50_ms", Percentile(ms, 0.5)}, {"p99_ms", Percentile(ms, 0.99)}, {"max_ms", slowest}});
    slowest_ms.push_back(slowest);
    all_ms.insert(all_ms.end(), ms.begin(), ms.end());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the replica settle
  }
  const ProcStats after = ReadProc(o.vault_pid);

  for (auto& s : streams) s->Cancel();
  {
    std::unique_lock lock(shared.mu);
    shared.cv.wait_for(lock, std::chrono::seconds(30), [&] { return shared.ended == o.streams; });
  }

  json out = {
      {"streams", o.streams},
      {"channels", o.channels},
      {"open_seconds", open_seconds},
      {"vault_before", ProcJson(before)},
      {"vault_open", ProcJson(open)},
      {"vault_after", ProcJson(after)},
      {"kib_per_stream",
       o.streams > 0 ? static_cast<double>(open.rss_kib - before.rss_kib) / o.streams : 0},
      {"idle_seconds", o.idle_seconds},
      {"idle_cpu_percent",
       o.idle_seconds > 0 ? 100.0 * (idle.cpu_seconds - open.cpu_seconds) / o.idle_seconds : 0},
      {"fanout_ms",
       {{"p50", Percentile(all_ms, 0.5)},
        {"p99", Percentile(all_ms, 0.99)},
        {"max", all_ms.empty() ? 0 : *std::max_element(all_ms.begin(), all_ms.end())},
        {"slowest_stream_p50", Percentile(slowest_ms, 0.5)}}},
      {"writes", writes},
  };
  std::string text = out.dump(2);
  if (o.out.empty()) {
    std::cout << text << "\n";
  } else {
    std::ofstream(o.out) << text << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"coffer-bench-watch: many idle Watch streams on one vault replica"};
  app.add_option("--addr", o.addr, "vault gRPC address")->required();
  app.add_option("--identity-addr", o.identity_addr, "identity gRPC address")->required();
  app.add_option("--login", o.login);
  app.add_option("--password", o.password);
  app.add_option("--streams", o.streams, "Watch streams to open")->check(CLI::Range(1, 100000));
  app.add_option("--channels", o.channels, "client connections they are spread over")
      ->check(CLI::Range(1, 10000));
  app.add_option("--writes", o.writes, "writes whose fan-out is measured")
      ->check(CLI::Range(1, 1000));
  app.add_option("--idle-seconds", o.idle_seconds, "idle window for the CPU measure")
      ->check(CLI::Range(0, 3600));
  app.add_option("--vault-pid", o.vault_pid, "report this process's memory, threads and CPU");
  app.add_option("--out", o.out, "write the JSON here instead of stdout");
  CLI11_PARSE(app, argc, argv);
  try {
    return Run(o);
  } catch (const std::exception& e) {
    std::cerr << "coffer-bench-watch: " << e.what() << "\n";
    return 1;
  }
}
