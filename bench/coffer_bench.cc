// coffer-bench: a gRPC load generator for the vault (RecordService Put/Get, AdminService.Ping,
// grpc.health.v1 Check) and for etcd's KV API, on gRPC's callback API.
//
// Closed loop: --channels C connections x --inflight O calls each; every completion issues the
// next call. Open loop (--rate R > 0): calls are scheduled at fixed intervals and each latency is
// measured from its SCHEDULED send time, so a stalled server shows up as latency instead of
// silently lowering the offered load (no coordinated omission). Calls started during --warmup or
// finishing after the window are not counted. Output: one JSON document (stdout or --out).
//
// Threading: callbacks run on gRPC's threads; shared state is atomics (Histogram, counters) or
// immutable after set-up (stubs, tokens). One process = one phase.
#include <dirent.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/histogram.h"
#include "coffer/identity/v1/identity.grpc.pb.h"
#include "coffer/vault/v1/admin.grpc.pb.h"
#include "coffer/vault/v1/vault.grpc.pb.h"
#include "etcd/rpc.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace coffer::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
namespace v1 = ::coffer::vault::v1;
namespace idv1 = ::coffer::identity::v1;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct Options {
  std::string target = "vault";  // vault | ping | health | etcd | inproc-ping
  std::string addr;
  std::string identity_addr;
  std::string user_prefix = "bench";
  std::string password = "bench-password-123";
  int users = 32;
  int channels = 4;
  int inflight = 8;  // per channel
  double rate = 0;   // ops/s in total; 0 = closed loop
  int max_outstanding = 10000;
  double warmup_s = 2;
  double duration_s = 10;
  int64_t keys = 10000;
  std::string dist = "uniform";  // uniform | zipf
  double zipf_s = 0.99;
  int value_size = 300;
  double read_fraction = 0;            // 0 = only writes (Put), 1 = only reads (Get)
  bool linearizable = false;           // etcd Range: quorum read instead of serializable
  std::vector<std::string> cpu_pids;   // name=pid
  std::vector<std::string> cpu_trees;  // name=pid (pid and its direct children)
  std::string out;
};

// ---------- CPU accounting from /proc ----------

// utime + stime of a process in clock ticks, or -1 when it is gone.
int64_t ProcTicks(int pid, int* ppid = nullptr) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(f, s)) return -1;
  const size_t close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(s.substr(close + 2));
  std::vector<std::string> fields;  // fields 3.. of stat(5)
  std::string tok;
  while (rest >> tok && fields.size() < 13) fields.push_back(tok);
  if (fields.size() < 13) return -1;
  if (ppid != nullptr) *ppid = std::stoi(fields[1]);
  return std::stoll(fields[11]) + std::stoll(fields[12]);
}

// CPU ticks of `pid` plus, when `tree`, every live process whose parent is `pid`.
int64_t CpuTicks(int pid, bool tree) {
  int64_t total = std::max<int64_t>(0, ProcTicks(pid));
  if (!tree) return total;
  DIR* d = opendir("/proc");
  if (d == nullptr) return total;
  while (dirent* e = readdir(d)) {
    const int child = std::atoi(e->d_name);
    if (child <= 0 || child == pid) continue;
    int parent = 0;
    const int64_t t = ProcTicks(child, &parent);
    if (t >= 0 && parent == pid) total += t;
  }
  closedir(d);
  return total;
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct CpuProbe {
  std::string name;
  int pid;
  bool tree;
  int64_t start = 0;
  int64_t end = 0;
};

std::vector<CpuProbe> ParseProbes(const Options& o) {
  std::vector<CpuProbe> probes;
  auto add = [&](const std::string& spec, bool tree) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos) throw CLI::ValidationError("cpu pid", "expected name=pid");
    probes.push_back({spec.substr(0, eq), std::stoi(spec.substr(eq + 1)), tree});
  };
  for (const auto& s : o.cpu_pids) add(s, false);
  for (const auto& s : o.cpu_trees) add(s, true);
  return probes;
}

// ---------- key choice ----------

class KeyChooser {
 public:
  KeyChooser(int64_t keys, const std::string& dist, double s) : keys_(keys) {
    if (dist == "zipf") {
      cdf_.resize(static_cast<size_t>(keys));
      double sum = 0;
      for (int64_t i = 0; i < keys; ++i) {
        sum += 1.0 / std::pow(static_cast<double>(i + 1), s);
        cdf_[static_cast<size_t>(i)] = sum;
      }
      for (double& c : cdf_) c /= sum;
    }
  }
  int64_t Next() {
    thread_local std::mt19937_64 rng{std::random_device{}() ^
                                     std::hash<std::thread::id>{}(std::this_thread::get_id())};
    if (cdf_.empty()) return std::uniform_int_distribution<int64_t>(0, keys_ - 1)(rng);
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return std::min<int64_t>(keys_ - 1,
                             std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }
  static bool Coin(double p) {
    thread_local std::mt19937_64 rng{std::random_device{}() + 7};
    return std::uniform_real_distribution<double>(0, 1)(rng) < p;
  }

 private:
  int64_t keys_;
  std::vector<double> cdf_;
};

// ---------- the engine ----------

using Done = std::function<void(grpc::StatusCode)>;
// Starts one call on `channel` and eventually calls `done`; false = nothing left to do.
using IssueFn = std::function<bool(int channel, Done done)>;

struct Result {
  Histogram hist;
  std::atomic<uint64_t> ok{0};
  std::array<std::atomic<uint64_t>, 17> codes{};
  std::atomic<uint64_t> dropped{0};
  double window_s = 0;
  double elapsed_s = 0;
  uint64_t issued = 0;
};

class Engine {
 public:
  Engine(int channels, int inflight, double rate, int max_outstanding)
      : channels_(channels), inflight_(inflight), rate_(rate), max_outstanding_(max_outstanding) {}

  // Runs until `measure_s` after `warmup_s` (or until `issue` runs out when measure_s <= 0),
  // sampling the probes at the window's edges.
  void Run(const IssueFn& issue, double warmup_s, double measure_s, std::vector<CpuProbe>* probes,
           double* client_cpu_s, Result* r) {
    const int64_t t0 = NowNs();
    measure_start_ = t0 + static_cast<int64_t>(warmup_s * 1e9);
    measure_end_ = measure_s > 0 ? measure_start_ + static_cast<int64_t>(measure_s * 1e9)
                                 : std::numeric_limits<int64_t>::max();
    result_ = r;
    issue_ = &issue;
    std::thread sampler([&] {
      if (probes == nullptr || measure_s <= 0) return;
      std::this_thread::sleep_until(Clock::time_point(std::chrono::nanoseconds(measure_start_)));
      for (auto& p : *probes) p.start = CpuTicks(p.pid, p.tree);
      const double c0 = SelfCpuSeconds();
      std::this_thread::sleep_until(Clock::time_point(std::chrono::nanoseconds(measure_end_)));
      for (auto& p : *probes) p.end = CpuTicks(p.pid, p.tree);
      *client_cpu_s = SelfCpuSeconds() - c0;
    });
    if (rate_ > 0) {
      OpenLoop();
    } else {
      for (int i = 0; i < channels_ * inflight_; ++i) StartSlot(i % channels_);
    }
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return outstanding_ == 0 && !scheduling_; });
    }
    sampler.join();
    const int64_t end = NowNs();
    r->elapsed_s = static_cast<double>(end - t0) / 1e9;
    r->window_s = measure_s > 0 ? measure_s : static_cast<double>(end - t0) / 1e9;
    r->issued = issued_.load();
  }

 private:
  // Closed loop: one slot keeps one call in flight until the window ends.
  void StartSlot(int channel) {
    const int64_t now = NowNs();
    if (now >= measure_end_) return;
    Launch(channel, now, [this, channel] { StartSlot(channel); });
  }

  // Starts one call measured from `start`; `then` runs after completion (closed loop refill).
  void Launch(int channel, int64_t start, std::function<void()> then) {
    {
      std::lock_guard lock(mu_);
      ++outstanding_;
    }
    ++issued_;
    const bool started =
        (*issue_)(channel, [this, start, then = std::move(then)](grpc::StatusCode code) {
          const int64_t end = NowNs();
          if (start >= measure_start_ && end <= measure_end_) {
            if (code == grpc::StatusCode::OK) {
              result_->ok.fetch_add(1, std::memory_order_relaxed);
              result_->hist.Record(static_cast<uint64_t>(end - start));
            } else {
              result_->codes[std::min<size_t>(code, 16)].fetch_add(1, std::memory_order_relaxed);
            }
          }
          if (then) then();
          Finish();
        });
    if (!started) {
      --issued_;
      exhausted_ = true;
      Finish();
    }
  }

  void Finish() {
    std::lock_guard lock(mu_);
    if (--outstanding_ == 0) cv_.notify_all();
  }

  void OpenLoop() {
    scheduling_ = true;
    const int64_t interval = static_cast<int64_t>(1e9 / rate_);
    const int64_t t0 = NowNs();
    for (int64_t i = 0;; ++i) {
      const int64_t t = t0 + i * interval;
      if (t >= measure_end_ || exhausted_) break;
      std::this_thread::sleep_until(Clock::time_point(std::chrono::nanoseconds(t)));
      bool full;
      {
        std::lock_guard lock(mu_);
        full = outstanding_ >= max_outstanding_;
      }
      if (full) {  // the client itself is saturated: count, never hide
        if (t >= measure_start_) result_->dropped.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      Launch(static_cast<int>(i % channels_), t, nullptr);
    }
    std::lock_guard lock(mu_);
    scheduling_ = false;
    cv_.notify_all();
  }

  const int channels_;
  const int inflight_;
  const double rate_;
  const int max_outstanding_;
  int64_t measure_start_ = 0;
  int64_t measure_end_ = 0;
  Result* result_ = nullptr;
  const IssueFn* issue_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  int outstanding_ = 0;
  bool scheduling_ = false;
  std::atomic<uint64_t> issued_{0};
  std::atomic<bool> exhausted_{false};  // the IssueFn ran out of work
};

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const std::string& addr, int n) {
  std::vector<std::shared_ptr<grpc::Channel>> out;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one TCP connection per channel
    args.SetInt("coffer.bench.channel", i);
    out.push_back(grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args));
  }
  return out;
}

// ---------- targets ----------

// What one process measures: Prepare() (not timed as the main phase) and Issue().
class Target {
 public:
  virtual ~Target() = default;
  // Brings the key space to a known state; returns a JSON summary (may be empty).
  virtual json Prepare(Engine&) { return json::object(); }
  // Starts one measured operation.
  virtual bool Issue(int channel, Done done) = 0;
  // Name of the measured operation (put, get, mix, ping, health).
  virtual std::string Op() const = 0;
};

std::string Value(int size) {
  std::string v(static_cast<size_t>(size), 'x');
  std::mt19937 rng(42);
  for (char& c : v) c = static_cast<char>('a' + rng() % 26);
  return v;
}

std::string OpName(double read_fraction) {
  return read_fraction <= 0 ? "put" : read_fraction >= 1 ? "get" : "mix";
}

// Vault records: Put = UpdateRecord with the known expected_version (CreateRecord for missing
// keys in Prepare), Get = GetRecord. Key k belongs to user k % users (one token per user). A key
// is written by one call at a time (busy flags), so check-and-set never fails by our own race.
class VaultTarget final : public Target {
 public:
  VaultTarget(const Options& o, std::vector<std::string> tokens)
      : o_(o),
        tokens_(std::move(tokens)),
        chooser_(o.keys, o.dist, o.zipf_s),
        value_(Value(o.value_size)),
        versions_(static_cast<size_t>(o.keys)),
        busy_(static_cast<size_t>(o.keys)) {
    for (auto& ch : MakeChannels(o.addr, o.channels))
      stubs_.push_back(v1::RecordService::NewStub(ch));
    uint32_t h = 2166136261u;  // FNV-1a of the user prefix: record ids differ per prefix
    for (char c : o.user_prefix) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
    salt_ = h;
  }

  std::string Op() const override { return OpName(o_.read_fraction); }

  json Prepare(Engine& engine) override {
    std::atomic<int64_t> next{0};
    std::atomic<uint64_t> created{0};
    const IssueFn ensure = [&](int /*channel*/, Done done) {
      const int64_t k = next.fetch_add(1);
      if (k >= o_.keys) return false;
      EnsureKey(k, &created, std::move(done));
      return true;
    };
    Result r;
    const int64_t t0 = NowNs();
    engine.Run(ensure, 0, 0, nullptr, nullptr, &r);
    const double secs = static_cast<double>(NowNs() - t0) / 1e9;
    uint64_t errors = 0;
    for (auto& c : r.codes) errors += c.load();
    if (errors > 0)
      throw std::runtime_error("prepare failed: " + std::to_string(errors) + " errors");
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%08x", salt_);
    return {{"keys", o_.keys},
            {"record_id_prefix", prefix},
            {"created", created.load()},
            {"seconds", secs},
            {"creates_per_s", created.load() > 0 ? static_cast<double>(created.load()) / secs : 0}};
  }

  bool Issue(int /*channel: the user's own*/, Done done) override {
    const bool read = KeyChooser::Coin(o_.read_fraction);
    if (read) {
      const int64_t k = chooser_.Next();
      auto* c = new Call<v1::GetRecordRequest, v1::GetRecordResponse>;
      Auth(&c->ctx, k);
      c->req.set_id(RecordId(k));
      stubs_[UserChannel(k)]->async()->GetRecord(&c->ctx, &c->req, &c->resp,
                                                 [c, done = std::move(done)](grpc::Status s) {
                                                   done(s.error_code());
                                                   delete c;
                                                 });
      return true;
    }
    const int64_t k = AcquireKey();
    auto* c = new Call<v1::UpdateRecordRequest, v1::UpdateRecordResponse>;
    Auth(&c->ctx, k);
    FillRecord(k, c->req.mutable_record());
    c->req.mutable_record()->set_id(RecordId(k));
    c->req.set_expected_version(versions_[static_cast<size_t>(k)].load());
    stubs_[UserChannel(k)]->async()->UpdateRecord(
        &c->ctx, &c->req, &c->resp, [this, c, k, done = std::move(done)](grpc::Status s) {
          if (s.ok()) versions_[static_cast<size_t>(k)].store(c->resp.record().version());
          busy_[static_cast<size_t>(k)].store(false);
          done(s.error_code());
          delete c;
        });
    return true;
  }

 private:
  template <typename Req, typename Resp>
  struct Call {
    grpc::ClientContext ctx;
    Req req;
    Resp resp;
  };

  // Each simulated user keeps to one connection (user u -> channel u mod C), as a real client
  // keeps its own: its bearer token is then HPACK-indexed on that connection instead of being
  // sent as a literal on every call.
  size_t UserChannel(int64_t k) const {
    return static_cast<size_t>((k % o_.users) % static_cast<int64_t>(stubs_.size()));
  }

  void Auth(grpc::ClientContext* ctx, int64_t k) const {
    ctx->AddMetadata("authorization", tokens_[static_cast<size_t>(k % o_.users)]);
  }

  static constexpr int64_t kIdBase = 100'000'000'000;

  std::string RecordId(int64_t k) const {
    char buf[64];
    // The last group is the DECIMAL 100000000000 + k (decimal digits are hex digits), so the
    // pgbench scripts can build the same id by text substitution (bench/pgbench/gen.py).
    std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012lld", salt_,
                  static_cast<long long>(kIdBase + k));
    return buf;
  }

  void FillRecord(int64_t k, v1::Record* r) const {
    r->set_type(v1::RECORD_TYPE_TEXT);
    r->set_name("bench-" + std::to_string(k));
    r->mutable_text()->set_text(value_);
  }

  // A key no other call is writing (Zipf hot keys included: we take the next free one).
  int64_t AcquireKey() {
    int64_t k = chooser_.Next();
    for (int64_t i = 0;; ++i) {
      bool expected = false;
      if (busy_[static_cast<size_t>(k)].compare_exchange_strong(expected, true)) return k;
      k = i < 16 ? chooser_.Next() : (k + 1) % o_.keys;
    }
  }

  // GetRecord; NOT_FOUND -> CreateRecord with the key's id.
  void EnsureKey(int64_t k, std::atomic<uint64_t>* created, Done done) {
    auto* g = new Call<v1::GetRecordRequest, v1::GetRecordResponse>;
    Auth(&g->ctx, k);
    g->req.set_id(RecordId(k));
    auto* stub = stubs_[UserChannel(k)].get();
    stub->async()->GetRecord(
        &g->ctx, &g->req, &g->resp, [this, g, k, stub, created, done](grpc::Status s) {
          if (s.ok()) {
            versions_[static_cast<size_t>(k)].store(g->resp.record().version());
            done(grpc::StatusCode::OK);
          } else if (s.error_code() != grpc::StatusCode::NOT_FOUND) {
            std::cerr << "prepare GetRecord: " << s.error_message() << "\n";
            done(s.error_code());
          } else {
            auto* c = new Call<v1::CreateRecordRequest, v1::CreateRecordResponse>;
            Auth(&c->ctx, k);
            FillRecord(k, c->req.mutable_record());
            c->req.set_record_id(RecordId(k));
            stub->async()->CreateRecord(
                &c->ctx, &c->req, &c->resp, [this, c, k, created, done](grpc::Status cs) {
                  if (cs.ok()) {
                    versions_[static_cast<size_t>(k)].store(1);
                    created->fetch_add(1);
                  } else {
                    std::cerr << "prepare CreateRecord: " << cs.error_message() << "\n";
                  }
                  done(cs.error_code());
                  delete c;
                });
          }
          delete g;
        });
  }

  const Options& o_;
  std::vector<std::string> tokens_;
  KeyChooser chooser_;
  std::string value_;
  std::vector<std::unique_ptr<v1::RecordService::Stub>> stubs_;
  std::vector<std::atomic<uint64_t>> versions_;
  std::vector<std::atomic<bool>> busy_;
  uint32_t salt_ = 0;
};

// AdminService.Ping (authenticated, empty handler): the transport + token check ceiling.
class PingTarget final : public Target {
 public:
  PingTarget(const Options& o, std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
    for (auto& ch : MakeChannels(o.addr, o.channels))
      stubs_.push_back(v1::AdminService::NewStub(ch));
  }
  std::string Op() const override { return "ping"; }
  bool Issue(int /*channel: the user's own*/, Done done) override {
    auto* c = new Call;
    const size_t user = next_++ % tokens_.size();  // round robin; user u on channel u mod C
    c->ctx.AddMetadata("authorization", tokens_[user]);
    stubs_[user % stubs_.size()]->async()->Ping(&c->ctx, &c->req, &c->resp,
                                                [c, done = std::move(done)](grpc::Status s) {
                                                  done(s.error_code());
                                                  delete c;
                                                });
    return true;
  }

 private:
  struct Call {
    grpc::ClientContext ctx;
    v1::PingRequest req;
    v1::PingResponse resp;
  };
  std::vector<std::string> tokens_;
  std::atomic<size_t> next_{0};
  std::vector<std::unique_ptr<v1::AdminService::Stub>> stubs_;
};

// grpc.health.v1 Health/Check: the same server without authentication.
class HealthTarget final : public Target {
 public:
  explicit HealthTarget(const Options& o) {
    for (auto& ch : MakeChannels(o.addr, o.channels)) {
      stubs_.push_back(grpc::health::v1::Health::NewStub(ch));
    }
  }
  std::string Op() const override { return "health"; }
  bool Issue(int channel, Done done) override {
    auto* c = new Call;
    stubs_[static_cast<size_t>(channel)]->async()->Check(
        &c->ctx, &c->req, &c->resp, [c, done = std::move(done)](grpc::Status s) {
          done(s.error_code());
          delete c;
        });
    return true;
  }

 private:
  struct Call {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
  };
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> stubs_;
};

// etcd KV: Put / Range (serializable unless --linearizable). Prepare writes every key once and,
// before reads, compacts the history so reads see a compacted store.
class EtcdTarget final : public Target {
 public:
  explicit EtcdTarget(const Options& o)
      : o_(o), chooser_(o.keys, o.dist, o.zipf_s), value_(Value(o.value_size)) {
    for (auto& ch : MakeChannels(o.addr, o.channels))
      stubs_.push_back(etcdserverpb::KV::NewStub(ch));
  }
  std::string Op() const override { return OpName(o_.read_fraction); }

  json Prepare(Engine& engine) override {
    std::atomic<int64_t> next{0};
    const IssueFn put_all = [&](int channel, Done done) {
      const int64_t k = next.fetch_add(1);
      if (k >= o_.keys) return false;
      return IssuePut(channel, k, std::move(done));
    };
    Result r;
    const int64_t t0 = NowNs();
    engine.Run(put_all, 0, 0, nullptr, nullptr, &r);
    const double secs = static_cast<double>(NowNs() - t0) / 1e9;
    json out = {{"keys", o_.keys}, {"seconds", secs}, {"compacted_revision", 0}};
    if (o_.read_fraction > 0) {
      grpc::ClientContext ctx;
      etcdserverpb::RangeRequest req;
      etcdserverpb::RangeResponse resp;
      req.set_key(Key(0));
      grpc::Status s = stubs_[0]->Range(&ctx, req, &resp);
      if (!s.ok()) throw std::runtime_error("etcd Range: " + s.error_message());
      grpc::ClientContext cctx;
      etcdserverpb::CompactionRequest creq;
      etcdserverpb::CompactionResponse cresp;
      creq.set_revision(resp.header().revision());
      creq.set_physical(true);
      s = stubs_[0]->Compact(&cctx, creq, &cresp);
      if (!s.ok()) throw std::runtime_error("etcd Compact: " + s.error_message());
      out["compacted_revision"] = resp.header().revision();
    }
    return out;
  }

  bool Issue(int channel, Done done) override {
    const int64_t k = chooser_.Next();
    if (!KeyChooser::Coin(o_.read_fraction)) return IssuePut(channel, k, std::move(done));
    auto* c = new Call<etcdserverpb::RangeRequest, etcdserverpb::RangeResponse>;
    c->req.set_key(Key(k));
    c->req.set_serializable(!o_.linearizable);
    stubs_[static_cast<size_t>(channel)]->async()->Range(
        &c->ctx, &c->req, &c->resp, [c, done = std::move(done)](grpc::Status s) {
          // A read of a key Prepare wrote must find it.
          done(s.ok() && c->resp.kvs_size() != 1 ? grpc::StatusCode::NOT_FOUND : s.error_code());
          delete c;
        });
    return true;
  }

 private:
  template <typename Req, typename Resp>
  struct Call {
    grpc::ClientContext ctx;
    Req req;
    Resp resp;
  };

  static std::string Key(int64_t k) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "bench/%010lld", static_cast<long long>(k));
    return buf;
  }

  bool IssuePut(int channel, int64_t k, Done done) {
    auto* c = new Call<etcdserverpb::PutRequest, etcdserverpb::PutResponse>;
    c->req.set_key(Key(k));
    c->req.set_value(value_);
    stubs_[static_cast<size_t>(channel)]->async()->Put(&c->ctx, &c->req, &c->resp,
                                                       [c, done = std::move(done)](grpc::Status s) {
                                                         done(s.error_code());
                                                         delete c;
                                                       });
    return true;
  }

  const Options& o_;
  KeyChooser chooser_;
  std::string value_;
  std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> stubs_;
};

// An in-process AdminService with an empty Ping (callback API) that only checks the
// authorization header is present: the hermetic server of the smoke test.
class InprocPingService final : public v1::AdminService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Ping(grpc::CallbackServerContext* ctx, const v1::PingRequest*,
                                 v1::PingResponse*) override {
    auto* reactor = ctx->DefaultReactor();
    const bool authed = ctx->client_metadata().count("authorization") > 0;
    reactor->Finish(authed ? grpc::Status::OK
                           : grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no token"));
    return reactor;
  }
};

// Registers (or reuses) `users` accounts and logs each in: one access token per simulated user.
std::vector<std::string> LoginUsers(const Options& o) {
  auto stub = idv1::IdentityService::NewStub(
      grpc::CreateChannel(o.identity_addr, grpc::InsecureChannelCredentials()));
  std::vector<std::string> tokens(static_cast<size_t>(o.users));
  std::vector<std::thread> threads;
  std::atomic<int> next{0};
  std::mutex mu;
  std::string failure;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < o.users; i = next++) {
        const std::string login = o.user_prefix + "-" + std::to_string(i);
        {
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
          idv1::RegisterRequest req;
          idv1::RegisterResponse resp;
          req.set_login(login);
          req.set_password(o.password);
          grpc::Status s = stub->Register(&ctx, req, &resp);
          if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
            std::lock_guard lock(mu);
            failure = "Register " + login + ": " + s.error_message();
            return;
          }
        }
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        idv1::LoginRequest req;
        idv1::LoginResponse resp;
        req.set_login(login);
        req.set_password(o.password);
        grpc::Status s = stub->Login(&ctx, req, &resp);
        if (!s.ok()) {
          std::lock_guard lock(mu);
          failure = "Login " + login + ": " + s.error_message();
          return;
        }
        tokens[static_cast<size_t>(i)] = "Bearer " + resp.tokens().access_token();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!failure.empty()) throw std::runtime_error(failure);
  return tokens;
}

json Report(const Options& o, const Target& target, const Result& r, const json& prepare,
            const std::vector<CpuProbe>& probes, double client_cpu_s) {
  static const char* kCodes[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  const uint64_t ops = r.ok.load();
  uint64_t errors = 0;
  json by_code = json::object();
  for (size_t i = 0; i < r.codes.size(); ++i) {
    if (const uint64_t n = r.codes[i].load(); n > 0) {
      by_code[kCodes[i]] = n;
      errors += n;
    }
  }
  auto us = [&](double q) { return static_cast<double>(r.hist.Percentile(q)) / 1e3; };
  const long ticks = sysconf(_SC_CLK_TCK);
  json cpu = json::object();
  for (const auto& p : probes) {
    const double secs = static_cast<double>(p.end - p.start) / static_cast<double>(ticks);
    cpu[p.name] = {{"pid", p.pid},
                   {"cpu_s", secs},
                   {"cores", secs / r.window_s},
                   {"us_per_op", ops > 0 ? secs * 1e6 / static_cast<double>(ops) : 0}};
  }
  cpu["client"] = {{"cpu_s", client_cpu_s},
                   {"cores", client_cpu_s / r.window_s},
                   {"us_per_op", ops > 0 ? client_cpu_s * 1e6 / static_cast<double>(ops) : 0}};
  return {
      {"target", o.target},
      {"op", target.Op()},
      {"mode", o.rate > 0 ? "open" : "closed"},
      {"channels", o.channels},
      {"inflight_per_channel", o.inflight},
      {"inflight", o.channels * o.inflight},
      {"rate", o.rate},
      {"users", o.users},
      {"keys", o.keys},
      {"dist", o.dist},
      {"zipf_s", o.dist == "zipf" ? o.zipf_s : 0},
      {"value_size", o.value_size},
      {"read_fraction", o.read_fraction},
      {"warmup_s", o.warmup_s},
      {"duration_s", r.window_s},
      {"ops", ops},
      {"errors", errors},
      {"errors_by_code", by_code},
      {"dropped", r.dropped.load()},
      {"throughput_ops_s", static_cast<double>(ops) / r.window_s},
      {"latency_us",
       {{"p50", us(0.5)},
        {"p90", us(0.9)},
        {"p99", us(0.99)},
        {"p999", us(0.999)},
        {"max", static_cast<double>(r.hist.Max()) / 1e3}}},
      {"cpu", cpu},
      {"prepare", prepare},
  };
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"coffer-bench: gRPC load generator for the vault and etcd (one JSON per run)"};
  // A later flag overrides an earlier one (scripts pass common flags, then phase-specific ones).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--target", o.target, "vault | ping | health | etcd | inproc-ping")
      ->check(CLI::IsMember({"vault", "ping", "health", "etcd", "inproc-ping"}));
  app.add_option("--addr", o.addr, "gRPC target host:port (vault or etcd)");
  app.add_option("--identity-addr", o.identity_addr, "identity gRPC target (vault, ping)");
  app.add_option("--user-prefix", o.user_prefix, "login prefix of the simulated users");
  app.add_option("--users", o.users, "simulated users, one token each")
      ->check(CLI::Range(1, 100000));
  app.add_option("--channels", o.channels, "gRPC channels (TCP connections)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--inflight", o.inflight, "calls in flight per channel (closed loop)")
      ->check(CLI::Range(1, 10000));
  app.add_option("--password", o.password, "password of the simulated users");
  app.add_option("--rate", o.rate, "open loop: total ops/s (0 = closed loop)");
  app.add_option("--max-outstanding", o.max_outstanding,
                 "open loop: client-side cap (excess = dropped)");
  app.add_option("--warmup", o.warmup_s, "seconds before measuring");
  app.add_option("--duration", o.duration_s, "measured seconds")->check(CLI::PositiveNumber);
  app.add_option("--keys", o.keys, "key space size")
      ->check(CLI::Range(int64_t{1}, int64_t{800000000000}));
  app.add_option("--dist", o.dist, "uniform | zipf")->check(CLI::IsMember({"uniform", "zipf"}));
  app.add_option("--zipf-s", o.zipf_s, "Zipf exponent");
  app.add_option("--value-size", o.value_size, "value bytes")->check(CLI::Range(1, 1 << 20));
  app.add_option("--read-fraction", o.read_fraction, "0 = Put only, 1 = Get only")
      ->check(CLI::Range(0.0, 1.0));
  app.add_flag("--linearizable", o.linearizable, "etcd: quorum reads instead of serializable");
  app.add_option("--cpu-pid", o.cpu_pids, "name=pid: report that process's CPU per op")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--cpu-tree", o.cpu_trees, "name=pid: same, plus its direct children (PostgreSQL)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--out", o.out, "write the JSON here instead of stdout");
  CLI11_PARSE(app, argc, argv);

  std::vector<CpuProbe> probes = ParseProbes(o);
  std::unique_ptr<grpc::Server> server;
  InprocPingService inproc;
  std::vector<std::string> tokens;
  if (o.target == "inproc-ping") {
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&inproc);
    server = builder.BuildAndStart();
    if (!server || port == 0) throw std::runtime_error("in-process server did not start");
    o.addr = "127.0.0.1:" + std::to_string(port);
    for (int i = 0; i < o.users; ++i) tokens.push_back("Bearer bench-" + std::to_string(i));
  } else if (o.target == "vault" || o.target == "ping") {
    if (o.identity_addr.empty()) throw CLI::ValidationError("--identity-addr", "required");
    tokens = LoginUsers(o);
  }
  if (o.addr.empty()) throw CLI::ValidationError("--addr", "required");

  std::unique_ptr<Target> target;
  if (o.target == "vault") {
    target = std::make_unique<VaultTarget>(o, tokens);
  } else if (o.target == "ping" || o.target == "inproc-ping") {
    target = std::make_unique<PingTarget>(o, tokens);
  } else if (o.target == "health") {
    target = std::make_unique<HealthTarget>(o);
  } else {
    target = std::make_unique<EtcdTarget>(o);
  }

  // Prepare always runs closed loop (it ends when the key space is covered).
  Engine prepare_engine(o.channels, o.inflight, 0, o.max_outstanding);
  const json prepare = target->Prepare(prepare_engine);
  Engine engine(o.channels, o.inflight, o.rate, o.max_outstanding);
  Result r;
  double client_cpu_s = 0;
  const IssueFn issue = [&](int channel, Done done) {
    return target->Issue(channel, std::move(done));
  };
  engine.Run(issue, o.warmup_s, o.duration_s, &probes, &client_cpu_s, &r);
  if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));

  const std::string doc = Report(o, *target, r, prepare, probes, client_cpu_s).dump(2);
  if (o.out.empty()) {
    std::cout << doc << std::endl;
  } else {
    std::ofstream(o.out) << doc << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace coffer::bench

int main(int argc, char** argv) {
  try {
    return coffer::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "coffer-bench: " << e.what() << "\n";
    return 1;
  }
}
