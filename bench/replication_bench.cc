// coffer-replication-bench: replication figures between two vault shards (docs/benchmarks.md,
// "Replication"), as one JSON document on stdout (and --out).
//
// Phases, all against shard A with one Watch stream on shard B observing arrivals:
//   put    closed loop of CreateRecord on A (--workers blocking callers) for --duration s: the
//          sustained Put rate of this setup (relay and consumers running).
//   lag    once B has every record of the put phase (the catch-up time is reported), an open
//          loop of creates on A at --lag-rate (default: half the measured Put rate) for
//          --duration s; each record's lag = its arrival in B's Watch stream minus its
//          *scheduled* send time (a late send does not hide delay: no coordinated omission).
//   drain  with --broker-control PATH (the dev broker's control FIFO, `--control-stdin`):
//          "down", --drain-count creates on A (they wait in A's outbox), "up"; the drain rate is
//          arrivals per second on B from the first to the last of them (relay publish + B's
//          consumer apply), reported with the time from "up" to the first arrival (reconnect).
//   removal  --removal-rounds times: a second user joins a shared space on A (invite by login,
//          accept) and is seen as a member on B; A removes them; the window is how long B
//          still serves them after A acknowledged the removal (polled every millisecond with
//          GetSpace): the time a removed member can still act on another shard
//          (docs/architecture.md §3a).
// Ratios printed: drain ÷ put (target ≥ 3) and lag p99 at half load (target ≤ 50 ms).
//
// One user is registered and logged in through identity; records are 300-byte credentials.
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "coffer/identity/v1/identity.grpc.pb.h"
#include "coffer/vault/v1/spaces.grpc.pb.h"
#include "coffer/vault/v1/sync.grpc.pb.h"
#include "coffer/vault/v1/vault.grpc.pb.h"

namespace {

namespace vpb = ::coffer::vault::v1;
namespace ipb = ::coffer::identity::v1;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

struct Options {
  std::string identity_addr, shard_a, shard_b, broker_control, out;
  int workers = 16;
  double duration_s = 10;
  double lag_rate = 0;  // 0 = half the measured Put rate
  int drain_count = 5000;
  int removal_rounds = 30;
  int value_size = 300;
};

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token, int seconds = 10) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

std::string Login(const Options& o, std::string* login_out = nullptr) {
  auto stub = ipb::IdentityService::NewStub(
      grpc::CreateChannel(o.identity_addr, grpc::InsecureChannelCredentials()));
  std::mt19937_64 rng(std::random_device{}());
  const std::string login = "replbench-" + std::to_string(rng() % 1000000000);
  if (login_out != nullptr) *login_out = login;
  const std::string password = "bench-password-" + std::to_string(rng());
  {
    grpc::ClientContext ctx;
    ipb::RegisterRequest req;
    req.set_login(login);
    req.set_password(password);
    ipb::RegisterResponse resp;
    grpc::Status s = stub->Register(&ctx, req, &resp);
    if (!s.ok()) throw std::runtime_error("Register: " + s.error_message());
  }
  grpc::ClientContext ctx;
  ipb::LoginRequest req;
  req.set_login(login);
  req.set_password(password);
  ipb::LoginResponse resp;
  grpc::Status s = stub->Login(&ctx, req, &resp);
  if (!s.ok()) throw std::runtime_error("Login: " + s.error_message());
  return resp.tokens().access_token();
}

// Watches shard B and records when each record name first arrives.
class ArrivalWatcher {
 public:
  ArrivalWatcher(std::shared_ptr<grpc::Channel> channel, std::string token)
      : stub_(vpb::SyncService::NewStub(std::move(channel))), token_(std::move(token)) {}
  ~ArrivalWatcher() { Stop(); }

  // Starts after `cursor` (empty = from the start) and returns once the stream caught up.
  void Start(const std::string& cursor) {
    ctx_ = std::make_unique<grpc::ClientContext>();
    ctx_->AddMetadata("authorization", "Bearer " + token_);
    vpb::WatchRequest req;
    req.set_cursor(cursor);
    reader_ = stub_->Watch(ctx_.get(), req);
    thread_ = std::thread([this] {
      vpb::WatchResponse msg;
      while (reader_->Read(&msg)) {
        std::lock_guard<std::mutex> lock(mu_);
        if (msg.has_heartbeat()) caught_up_ = true;
        if (msg.has_change()) arrivals_.emplace(msg.change().record().name(), Clock::now());
        cv_.notify_all();
      }
    });
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [this] { return caught_up_; });
  }

  void Stop() {
    if (!thread_.joinable()) return;
    ctx_->TryCancel();
    thread_.join();
    reader_->Finish();
  }

  // Waits until every name in `names` arrived or `timeout` passed; their arrival times.
  std::map<std::string, Clock::time_point> WaitFor(const std::vector<std::string>& names,
                                                   std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] {
      return std::all_of(names.begin(), names.end(),
                         [&](const std::string& n) { return arrivals_.count(n) > 0; });
    });
    std::map<std::string, Clock::time_point> out;
    for (const std::string& n : names) {
      auto it = arrivals_.find(n);
      if (it != arrivals_.end()) out.emplace(n, it->second);
    }
    return out;
  }

 private:
  std::unique_ptr<vpb::SyncService::Stub> stub_;
  std::string token_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReader<vpb::WatchResponse>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool caught_up_ = false;
  std::map<std::string, Clock::time_point> arrivals_;
};

class Writer {
 public:
  Writer(std::shared_ptr<grpc::Channel> channel, std::string token, int value_size)
      : stub_(vpb::RecordService::NewStub(std::move(channel))),
        token_(std::move(token)),
        value_(static_cast<size_t>(std::max(1, value_size)), 'v') {}

  bool Create(const std::string& name) {
    vpb::CreateRecordRequest req;
    vpb::Record* r = req.mutable_record();
    r->set_type(vpb::RECORD_TYPE_CREDENTIAL);
    r->set_name(name);
    r->mutable_credential()->set_login("bench@example.org");
    r->mutable_credential()->set_password(value_);
    vpb::CreateRecordResponse resp;
    return stub_->CreateRecord(Ctx(token_).get(), req, &resp).ok();
  }

 private:
  std::unique_ptr<vpb::RecordService::Stub> stub_;
  std::string token_;
  std::string value_;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

// The removal phase (see the top of this file).
json RemovalWindow(const Options& o, const std::string& owner,
                   const std::shared_ptr<grpc::Channel>& channel_a,
                   const std::shared_ptr<grpc::Channel>& channel_b) {
  std::string member_login;
  const std::string member = Login(o, &member_login);
  auto a = vpb::SpaceService::NewStub(channel_a);
  auto b = vpb::SpaceService::NewStub(channel_b);
  auto check = [](const grpc::Status& s, const char* what) {
    if (!s.ok()) throw std::runtime_error(std::string(what) + ": " + s.error_message());
  };
  vpb::CreateSpaceRequest create;
  create.set_name("removal window");
  vpb::CreateSpaceResponse created;
  check(a->CreateSpace(Ctx(owner).get(), create, &created), "CreateSpace");
  const std::string space = created.space().id();
  vpb::GetSpaceRequest get;
  get.set_space_id(space);
  // Polls B every millisecond until `member` is (or is no longer) a member there.
  auto wait_on_b = [&](bool member_there) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      vpb::GetSpaceResponse resp;
      grpc::Status s = b->GetSpace(Ctx(member).get(), get, &resp);
      if (s.ok() == member_there) return Clock::now();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    throw std::runtime_error("shard B did not see the membership change within 30 s");
  };
  std::vector<double> windows;
  std::string member_id;
  for (int round = 0; round < o.removal_rounds; ++round) {
    vpb::InviteMemberRequest invite;
    invite.set_space_id(space);
    invite.set_login(member_login);
    invite.set_role(vpb::ROLE_WRITER);
    vpb::InviteMemberResponse invited;
    check(a->InviteMember(Ctx(owner).get(), invite, &invited), "InviteMember");
    member_id = invited.invitation().invitee_id();
    vpb::AcceptInvitationRequest accept;
    accept.set_invitation_id(invited.invitation().id());
    vpb::AcceptInvitationResponse accepted;
    check(a->AcceptInvitation(Ctx(member).get(), accept, &accepted), "AcceptInvitation");
    wait_on_b(true);
    vpb::RemoveMemberRequest remove;
    remove.set_space_id(space);
    remove.set_user_id(member_id);
    vpb::RemoveMemberResponse removed;
    check(a->RemoveMember(Ctx(owner).get(), remove, &removed), "RemoveMember");
    const auto acknowledged = Clock::now();
    const auto refused = wait_on_b(false);
    windows.push_back(std::chrono::duration<double, std::milli>(refused - acknowledged).count());
  }
  return {{"rounds", o.removal_rounds},
          {"p50_ms", Percentile(windows, 0.50)},
          {"p90_ms", Percentile(windows, 0.90)},
          {"p99_ms", Percentile(windows, 0.99)},
          {"max_ms", Percentile(windows, 1.0)}};
}

bool BrokerCommand(const std::string& fifo, const std::string& command) {
  std::ofstream out(fifo);
  out << command << std::endl;
  return out.good();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Replication lag and drain rate between two coffer-vault shards"};
  app.add_option("--identity-addr", o.identity_addr, "identity gRPC host:port")->required();
  app.add_option("--shard-a", o.shard_a, "vault shard written to")->required();
  app.add_option("--shard-b", o.shard_b, "vault shard watched")->required();
  app.add_option("--broker-control", o.broker_control,
                 "dev broker control FIFO (enables the drain phase)");
  app.add_option("--workers", o.workers, "blocking callers")->check(CLI::Range(1, 256));
  app.add_option("--duration", o.duration_s, "seconds per put/lag phase")
      ->check(CLI::Range(1.0, 600.0));
  app.add_option("--lag-rate", o.lag_rate, "creates/s in the lag phase (0 = half the Put rate)");
  app.add_option("--drain-count", o.drain_count, "records written while the broker is down")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--value-size", o.value_size, "password bytes per record");
  app.add_option("--removal-rounds", o.removal_rounds,
                 "members removed on A while B is watched (0 = skip the removal phase)")
      ->check(CLI::Range(0, 10000));
  app.add_option("--out", o.out, "also write the JSON document here");
  CLI11_PARSE(app, argc, argv);

  try {
    const std::string token = Login(o);
    auto channel_a = grpc::CreateChannel(o.shard_a, grpc::InsecureChannelCredentials());
    auto channel_b = grpc::CreateChannel(o.shard_b, grpc::InsecureChannelCredentials());
    ArrivalWatcher watcher(channel_b, token);
    watcher.Start("");
    json doc = {{"tool", "coffer-replication-bench"},
                {"workers", o.workers},
                {"duration_s", o.duration_s},
                {"value_size", o.value_size}};

    // put: closed loop.
    std::atomic<int64_t> ops{0}, errors{0};
    std::vector<std::vector<std::string>> put_names(static_cast<size_t>(o.workers));
    {
      const auto end = Clock::now() + std::chrono::duration<double>(o.duration_s);
      std::vector<std::thread> threads;
      for (int w = 0; w < o.workers; ++w) {
        threads.emplace_back([&, w] {
          Writer writer(channel_a, token, o.value_size);
          for (int i = 0; Clock::now() < end; ++i) {
            std::string name = "put-" + std::to_string(w) + "-" + std::to_string(i);
            if (writer.Create(name)) {
              ops++;
              put_names[static_cast<size_t>(w)].push_back(std::move(name));
            } else {
              errors++;
            }
          }
        });
      }
      for (auto& t : threads) t.join();
    }
    const double put_rate = static_cast<double>(ops.load()) / o.duration_s;
    // The put phase leaves B behind (A wrote at full speed); the lag phase measures the steady
    // state at half load, so it starts once B has every put record.
    const auto put_end = Clock::now();
    std::vector<std::string> all_put;
    for (auto& names : put_names) all_put.insert(all_put.end(), names.begin(), names.end());
    const size_t put_arrived = watcher.WaitFor(all_put, std::chrono::seconds(120)).size();
    const double put_catch_up_s = std::chrono::duration<double>(Clock::now() - put_end).count();
    doc["put"] = {{"ops", ops.load()},
                  {"errors", errors.load()},
                  {"ops_per_s", put_rate},
                  {"arrived_on_b", put_arrived},
                  {"b_catch_up_s", put_catch_up_s}};
    std::cerr << "put: " << put_rate << " creates/s; B caught up " << put_catch_up_s
              << " s after the phase\n";

    // lag: open loop at a fixed schedule.
    const double rate = o.lag_rate > 0 ? o.lag_rate : std::max(1.0, put_rate / 2);
    const int total = static_cast<int>(rate * o.duration_s);
    std::vector<std::string> names(static_cast<size_t>(total));
    std::vector<Clock::time_point> scheduled(static_cast<size_t>(total));
    std::vector<Clock::time_point> acked(static_cast<size_t>(total));
    std::vector<Clock::time_point> began(static_cast<size_t>(total));
    std::atomic<int64_t> lag_errors{0};
    const auto start = Clock::now() + std::chrono::milliseconds(100);
    for (int i = 0; i < total; ++i) {
      names[static_cast<size_t>(i)] = "lag-" + std::to_string(i);
      scheduled[static_cast<size_t>(i)] = start + std::chrono::duration_cast<Clock::duration>(
                                                      std::chrono::duration<double>(i / rate));
    }
    {
      std::vector<std::thread> threads;
      for (int w = 0; w < o.workers; ++w) {
        threads.emplace_back([&, w] {
          Writer writer(channel_a, token, o.value_size);
          for (int i = w; i < total; i += o.workers) {
            std::this_thread::sleep_until(scheduled[static_cast<size_t>(i)]);
            began[static_cast<size_t>(i)] = Clock::now();
            if (!writer.Create(names[static_cast<size_t>(i)])) lag_errors++;
            acked[static_cast<size_t>(i)] = Clock::now();
          }
        });
      }
      for (auto& t : threads) t.join();
    }
    auto arrived = watcher.WaitFor(names, std::chrono::seconds(60));
    std::vector<double> lags, write_ms;  // write_ms: from the scheduled time to A's answer
    // (lag ms, scheduled s into the phase, index)
    std::vector<std::tuple<double, double, int>> worst;
    for (int i = 0; i < total; ++i) {
      auto it = arrived.find(names[static_cast<size_t>(i)]);
      if (it == arrived.end()) continue;
      lags.push_back(
          std::chrono::duration<double, std::milli>(it->second - scheduled[static_cast<size_t>(i)])
              .count());
      write_ms.push_back(std::chrono::duration<double, std::milli>(
                             acked[static_cast<size_t>(i)] - scheduled[static_cast<size_t>(i)])
                             .count());
      worst.emplace_back(lags.back(), i / rate, i);
    }
    // Where the tail lies in time: at the start (a backlog), spread (per-event cost) or in
    // clusters (a periodic stall somewhere).
    std::sort(worst.rbegin(), worst.rend());
    worst.resize(std::min<size_t>(worst.size(), 10));
    json worst_json = json::array();
    for (const auto& [ms, at, i] : worst) {
      const double written = std::chrono::duration<double, std::milli>(
                                 acked[static_cast<size_t>(i)] - scheduled[static_cast<size_t>(i)])
                                 .count();
      const double began_ms = std::chrono::duration<double, std::milli>(
                                  began[static_cast<size_t>(i)] - scheduled[static_cast<size_t>(i)])
                                  .count();
      worst_json.push_back(
          {{"lag_ms", ms}, {"at_s", at}, {"written_ms", written}, {"began_ms", began_ms}});
    }
    doc["lag"] = {{"target_rate", rate},
                  {"sent", total},
                  {"errors", lag_errors.load()},
                  {"arrived", lags.size()},
                  {"p50_ms", Percentile(lags, 0.50)},
                  {"p90_ms", Percentile(lags, 0.90)},
                  {"p99_ms", Percentile(lags, 0.99)},
                  {"max_ms", Percentile(lags, 1.0)},
                  {"written_p50_ms", Percentile(write_ms, 0.50)},
                  {"written_p99_ms", Percentile(write_ms, 0.99)},
                  {"worst", worst_json}};
    std::cerr << "lag at " << rate << "/s: p99 " << Percentile(lags, 0.99) << " ms\n";

    // drain: backlog built while the broker is down.
    if (!o.broker_control.empty()) {
      if (!BrokerCommand(o.broker_control, "down")) throw std::runtime_error("broker control");
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      std::vector<std::string> drain_names(static_cast<size_t>(o.drain_count));
      std::atomic<int> next{0};
      std::atomic<int64_t> drain_errors{0};
      {
        std::vector<std::thread> threads;
        for (int w = 0; w < o.workers; ++w) {
          threads.emplace_back([&] {
            Writer writer(channel_a, token, o.value_size);
            for (int i = next++; i < o.drain_count; i = next++) {
              drain_names[static_cast<size_t>(i)] = "drain-" + std::to_string(i);
              if (!writer.Create(drain_names[static_cast<size_t>(i)])) drain_errors++;
            }
          });
        }
        for (auto& t : threads) t.join();
      }
      const auto up = Clock::now();
      if (!BrokerCommand(o.broker_control, "up")) throw std::runtime_error("broker control");
      auto drained = watcher.WaitFor(drain_names, std::chrono::seconds(300));
      Clock::time_point first = Clock::time_point::max(), last = Clock::time_point::min();
      for (const auto& [name, t] : drained) {
        first = std::min(first, t);
        last = std::max(last, t);
      }
      const double span =
          drained.size() > 1 ? std::chrono::duration<double>(last - first).count() : 0.0;
      const double drain_rate = span > 0 ? static_cast<double>(drained.size()) / span : 0;
      doc["drain"] = {{"events", o.drain_count},
                      {"errors", drain_errors.load()},
                      {"arrived", drained.size()},
                      {"reconnect_s",
                       drained.empty() ? -1.0 : std::chrono::duration<double>(first - up).count()},
                      {"drain_s", span},
                      {"events_per_s", drain_rate}};
      doc["ratios"]["drain_over_put"] = put_rate > 0 ? drain_rate / put_rate : 0;
      std::cerr << "drain: " << drain_rate << " events/s\n";
    }
    doc["ratios"]["lag_p99_ms_at_half_load"] = Percentile(lags, 0.99);
    if (o.removal_rounds > 0) {
      doc["removal_window"] = RemovalWindow(o, token, channel_a, channel_b);
      std::cerr << "removal window p99: " << doc["removal_window"]["p99_ms"] << " ms\n";
    }
    watcher.Stop();
    const std::string text = doc.dump(2);
    std::cout << text << std::endl;
    if (!o.out.empty()) std::ofstream(o.out) << text << "\n";
  } catch (const std::exception& e) {
    std::cerr << "coffer-replication-bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
