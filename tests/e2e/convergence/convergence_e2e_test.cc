// Shard convergence under faults, as separate processes (issue "Shard sync", Proof).
//
// One PostgreSQL with three shard databases, the dev broker (coffer-devbroker, librdkafka's mock
// cluster) and three coffer-vault processes (shard-a/b/c). Client threads create, update,
// trash, undelete and purge records of a small key space on random shards while a nemesis
// injects faults: broker down, produce acknowledgements delayed past the relay's delivery
// timeout (written but ack lost), SIGKILL of a shard, SIGSTOP of a shard, and a crash of the
// relay between Kafka's acknowledgement and the outbox delete (failpoint
// "vault-relay-crash-after-produce"). Then the faults heal and the test checks:
//   * every shard drained its outbox and applied the whole log; all digests are equal and so are
//     full dumps (head + siblings of every record id ever used);
//   * every acknowledged write is the head, a sibling, or dominated by one (a write that saw it);
//   * no purged record comes back (an alive head is never one the purge had seen);
//   * no value appears that no client wrote;
//   * each fault kind was injected at least once (counts are printed).
// Tombstone GC runs throughout (fast intervals), so purged records are collected under the same
// faults; purged ids are never reused by the clients.
// A hostile client runs alongside (issue "Replication that no user can stop"): another user
// creates records with the same ids as the clients' in their own space, and near-limit records;
// forged (unsigned, or signed under another key) purges of the clients' records, garbage and
// events of a future schema are written straight to the topic. After healing, every shard has
// quarantined each hostile event exactly once (dead letters, by kind), the other user's records
// are intact everywhere, and the checks above hold for the clients' records.
// A membership client runs too (issue "Shared spaces"): in one shared space it invites users,
// has them accept, changes roles, removes members and transfers ownership on random shards, has
// members write, and has a never-invited user try to write. After healing: the space's digests
// (records and membership registers) are equal, every shard lists the same members with exactly
// one owner, and no shard ever accepted the outsider's write.
// Seeds: COFFER_CONVERGENCE_SEEDS (comma-separated, default "1,2,3,4"); the client phase lasts
// COFFER_CONVERGENCE_SECONDS (default 20). scripts/soak-convergence runs a longer soak.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "coffer/vault/v1/admin.grpc.pb.h"
#include "coffer/vault/v1/spaces.grpc.pb.h"
#include "coffer/vault/v1/vault.grpc.pb.h"
#include "pkg/auth/jwks.h"
#include "pkg/auth/jwt.h"
#include "pkg/crypto/ed25519.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/random.h"
#include "pkg/failpoint/failpoint.h"
#include "pkg/kafka/producer.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/process.h"
#include "services/vault/domain/ids.h"
#include "services/vault/sync/change_event.h"
#include "services/vault/sync/event_auth.h"

namespace coffer {
namespace {

namespace pb = ::coffer::vault::v1;
using namespace std::chrono_literals;
using testing::ChildProcess;

constexpr char kTopic[] = "coffer.vault.changes.v1";
constexpr int kPartitions = 4;
constexpr int kShards = 3;
constexpr int kKeySlots = 8;
constexpr int kClients = 3;
constexpr int kDeliveryTimeoutMs = 2000;  // the relay's Kafka delivery timeout
constexpr char kRelayFailpoint[] = "vault-relay-crash-after-produce";
const char* const kFaultNames[] = {"broker_down", "produce_ack_delayed", "shard_sigkill",
                                   "shard_sigstop", "relay_crash_after_produce"};
constexpr int kFaultKinds = 5;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::atoi(v);
}

std::vector<uint32_t> Seeds() {
  std::vector<uint32_t> seeds;
  const char* v = std::getenv("COFFER_CONVERGENCE_SEEDS");
  std::stringstream in(v == nullptr || *v == '\0' ? "1,2,3,4" : v);
  std::string item;
  while (std::getline(in, item, ',')) seeds.push_back(static_cast<uint32_t>(std::stoul(item)));
  return seeds;
}

std::string NewId() { return vault::domain::UuidV4FromBytes(crypto::RandomBytes(16)); }

bool Eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return cond();
}

// a ≥ b component-wise (a has seen every write b has seen).
bool Covers(const pb::VersionVector& a, const pb::VersionVector& b) {
  for (const auto& [shard, n] : b.counters()) {
    auto it = a.counters().find(shard);
    if (it == a.counters().end() || it->second < n) return false;
  }
  return true;
}

std::string VectorString(const pb::VersionVector& v) {
  std::map<std::string, uint64_t> sorted(v.counters().begin(), v.counters().end());
  std::string out = "{";
  for (const auto& [shard, n] : sorted) out += shard + ":" + std::to_string(n) + " ";
  return out + "}";
}

// Canonical text of one revision (for dumps; map fields sorted).
std::string RevisionString(const pb::Record& r) {
  std::ostringstream out;
  out << r.id() << " v" << r.version() << " " << VectorString(r.vector()) << " hlc "
      << r.hlc().physical_ms() << "." << r.hlc().logical() << " " << r.origin_shard()
      << (r.deleted() ? " deleted" : "") << " name=" << r.name()
      << " password=" << r.credential().password();
  return out.str();
}

// An acknowledged write as the client saw it.
struct AckedWrite {
  std::string id;
  pb::Record revision;
};

// An acknowledged purge of a trashed revision with vector `seen`.
struct AckedPurge {
  std::string id;
  pb::VersionVector seen;
};

// What every client did; guarded by mu.
struct History {
  std::mutex mu;
  std::vector<AckedWrite> writes;
  std::vector<AckedPurge> purges;
  std::set<std::string> attempted_values;  // every password value any client sent
  // Record ids a purge was sent for: retired, never created again (GC would allow it, and the
  // checks below do not model a second incarnation).
  std::set<std::string> purge_attempted;
  std::set<std::string> ids;            // every record id used
  std::map<std::string, int> ops;       // acknowledged operations by kind
  std::map<std::string, int> failures;  // failed calls by gRPC code
};

class Shard {
 public:
  Shard(std::string id, std::string work_dir) : id_(std::move(id)), work_dir_(work_dir) {
    failpoint_dir_ = work_dir + "/failpoints-" + id_;
    std::filesystem::create_directories(failpoint_dir_);
  }

  bool Start(const std::vector<std::string>& argv) {
    if (!process_) {
      process_ = std::make_unique<ChildProcess>(
          id_, ChildProcess::Options{.argv = argv,
                                     .log_path = work_dir_ + "/" + id_ + ".log",
                                     .env = {"COFFER_FAILPOINT_DIR=" + failpoint_dir_}});
    }
    if (!process_->Start()) return false;
    int port = process_->WaitForLogInt("grpc_port");
    if (port == 0) return false;
    if (grpc_port_ == 0) {
      // Pin the ports picked on the first start, so clients' channels survive restarts.
      grpc_port_ = port;
      admin_port_ = process_->WaitForLogInt("admin_port");
      std::vector<std::string> pinned = argv;
      for (size_t i = 0; i + 1 < pinned.size(); ++i) {
        if (pinned[i] == "--grpc-addr") pinned[i + 1] = "127.0.0.1:" + std::to_string(grpc_port_);
        if (pinned[i] == "--admin-addr") {
          pinned[i + 1] = "127.0.0.1:" + std::to_string(admin_port_);
        }
      }
      process_->set_argv(pinned);
      argv_ = pinned;
      channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_),
                                     grpc::InsecureChannelCredentials());
      records_ = pb::RecordService::NewStub(channel_);
      admin_ = pb::AdminService::NewStub(channel_);
      spaces_ = pb::SpaceService::NewStub(channel_);
    }
    return true;
  }
  // Restart after a kill or crash (same ports).
  bool Restart() { return Start({}); }
  // Arguments for every later start (after the first one pinned the ports).
  void AddArgs(const std::vector<std::string>& extra) {
    argv_.insert(argv_.end(), extra.begin(), extra.end());
    process_->set_argv(argv_);
  }
  int grpc_port() const { return grpc_port_; }

  ChildProcess& process() { return *process_; }
  pb::RecordService::Stub& records() { return *records_; }
  pb::AdminService::Stub& admin() { return *admin_; }
  pb::SpaceService::Stub& spaces() { return *spaces_; }
  const std::string& id() const { return id_; }
  const std::string& failpoint_dir() const { return failpoint_dir_; }
  int admin_port() const { return admin_port_; }

 private:
  std::string id_;
  std::string work_dir_;
  std::vector<std::string> argv_;  // pinned argv
  std::string failpoint_dir_;
  std::unique_ptr<ChildProcess> process_;
  int grpc_port_ = 0;
  int admin_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::RecordService::Stub> records_;
  std::unique_ptr<pb::AdminService::Stub> admin_;
  std::unique_ptr<pb::SpaceService::Stub> spaces_;
};

class ConvergenceE2eTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  void SetUp() override {
    seed_ = GetParam();
    std::cout << "convergence seed " << seed_ << " (rerun: COFFER_CONVERGENCE_SEEDS=" << seed_
              << ")" << std::endl;
    for (auto& db : dbs_) COFFER_PG_TEST_DATABASE(db);
    char tmpl[] = "/tmp/coffer-convergence-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    work_dir_ = tmpl;

    // Tokens are signed here; the shards fetch the public key over HTTP like any OIDC JWKS.
    auto key = crypto::Ed25519PrivateKey::Generate();
    ASSERT_TRUE(key.ok()) << key.status();
    key_.emplace(*std::move(key));
    jwks_json_ = auth::JwkSet{{auth::Jwk::FromPublicKey("conv-key", key_->PublicKey())}}.ToJson();
    jwks_server_.Get("/jwks.json", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(jwks_json_, "application/json");
    });
    jwks_port_ = jwks_server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(jwks_port_, 0);
    jwks_thread_ = std::thread([this] { jwks_server_.listen_after_bind(); });
    user_token_ = Token("convergence-user", {});
    admin_token_ = Token("convergence-ops", {"vault.admin"});
    space_ = vault::domain::PersonalSpaceId("convergence-user");

    // Every shard of a deployment shares the KEK keyring; the test makes a fresh one.
    kek_file_ = work_dir_ + "/kek";
    {
      std::ofstream out(kek_file_);
      out << "k1:" << crypto::Base64Encode(crypto::RandomBytes(32)) << "\n";
    }
    ::chmod(kek_file_.c_str(), 0600);
    intruder_token_ = Token("convergence-intruder", {});

    const std::string port_file = work_dir_ + "/broker.port";
    broker_ = std::make_unique<ChildProcess>(
        "devbroker",
        ChildProcess::Options{.argv = {COFFER_DEVBROKER_BIN, "--topics",
                                       std::string(kTopic) + ":" + std::to_string(kPartitions),
                                       "--port-file", port_file, "--control-stdin"},
                              .log_path = work_dir_ + "/devbroker.log",
                              .stdin_pipe = true});
    ASSERT_TRUE(broker_->Start());
    ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(port_file); }, 30s))
        << broker_->Log();
    bootstrap_ = testing::ReadWholeFile(port_file);
    ASSERT_FALSE(bootstrap_.empty());

    for (int i = 0; i < kShards; ++i) {
      shards_.push_back(
          std::make_unique<Shard>(std::string("shard-") + static_cast<char>('a' + i), work_dir_));
      Shard& s = *shards_.back();
      ASSERT_TRUE(s.Start(VaultArgv(s.id(), dbs_[i]->dsn()))) << s.id() << " did not start:\n"
                                                              << s.process().Log();
    }
    // Each shard recovers from the next one's snapshot when the log is truncated under it (the
    // dev broker keeps 5 MiB per partition, and a stopped or killed shard can fall behind that):
    // the peers' ports are known once every shard has started, so each restarts once with them.
    const std::string token_file = work_dir_ + "/peer-token";
    {
      std::ofstream out(token_file);
      out << admin_token_ << "\n";
    }
    ::chmod(token_file.c_str(), 0600);
    for (int i = 0; i < kShards; ++i) {
      Shard& s = *shards_[i];
      s.AddArgs({"--bootstrap-peer",
                 "127.0.0.1:" + std::to_string(shards_[(i + 1) % kShards]->grpc_port()),
                 "--bootstrap-token-file", token_file});
      s.process().Stop();
      ASSERT_TRUE(s.Restart()) << s.id() << " did not restart:\n" << s.process().LogSinceStart();
    }
    // With tombstone GC a shard accepts writes once it joined replication (/readyz).
    for (auto& s : shards_) {
      httplib::Client admin("127.0.0.1", s->admin_port());
      ASSERT_TRUE(Eventually(
          [&] {
            auto res = admin.Get("/readyz");
            return res && res->status == 200;
          },
          60s))
          << s->id() << " never became ready:\n"
          << s->process().Log();
    }
  }

  void TearDown() override {
    for (auto& s : shards_) s->process().Stop(3s);
    if (broker_) broker_->Stop(3s);
    jwks_server_.stop();
    if (jwks_thread_.joinable()) jwks_thread_.join();
    if (!HasFailure() && !work_dir_.empty()) {
      std::filesystem::remove_all(work_dir_);
    } else if (!work_dir_.empty()) {
      std::cout << "logs kept in " << work_dir_ << std::endl;
    }
  }

  std::vector<std::string> VaultArgv(const std::string& shard, const std::string& dsn) {
    return {COFFER_VAULT_BIN, "--shard-id", shard, "--grpc-addr", "127.0.0.1:0", "--admin-addr",
            "127.0.0.1:0", "--db-dsn", dsn, "--db-pool-size", "6", "--kek-file", kek_file_,
            "--jwks-url", "http://127.0.0.1:" + std::to_string(jwks_port_) + "/jwks.json",
            "--kafka-bootstrap", bootstrap_, "--kafka-topic", kTopic, "--kafka-delivery-timeout-ms",
            std::to_string(kDeliveryTimeoutMs), "--history-retention", "0",
            // Tombstone GC on, fast, so collection runs under the faults too.
            "--progress-interval-ms", "300", "--tombstone-gc-interval-ms", "500",
            "--tombstone-gc-min-age-ms", "0", "--shutdown-grace-ms", "500"};
  }

  std::string Token(const std::string& subject, std::vector<std::string> scopes) {
    auth::Claims claims;
    claims.iss = "coffer-identity";
    claims.sub = subject;
    claims.aud = {"coffer"};
    const int64_t now = time(nullptr);
    claims.iat = now;
    claims.nbf = now - 5;
    claims.exp = now + 3600;
    claims.jti = crypto::Base64UrlEncode(crypto::RandomBytes(12));
    claims.scope = std::move(scopes);
    claims.scope.push_back("vault");  // the scope the vault requires of every token
    auto token = auth::SignJwt(claims, "conv-key", *key_);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.value_or("");
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token,
                                           std::chrono::milliseconds timeout = 3s) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + timeout);
    return ctx;
  }

  // Sends a control command to the dev broker and waits for its "ok" answer.
  bool BrokerCommand(const std::string& command) {
    auto count = [&] {
      const std::string log = broker_->Log(), needle = "ok " + command + "\n";
      size_t n = 0;
      for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
        ++n;
      }
      return n;
    };
    const size_t before = count();
    if (!broker_->WriteLine(command)) return false;
    // A condition wait: generous, it only costs time when the broker never answers.
    return Eventually([&] { return count() > before; }, 60s);
  }

  static pb::Record Credential(const std::string& value) {
    pb::Record r;
    r.set_type(pb::RECORD_TYPE_CREDENTIAL);
    r.set_name("convergence");
    r.mutable_credential()->set_login("user@example.org");
    r.mutable_credential()->set_password(value);
    return r;
  }

  void Failed(History& h, const grpc::Status& s) {
    std::lock_guard<std::mutex> lock(h.mu);
    ++h.failures[std::to_string(s.error_code())];
  }

  // DeleteRecord / UndeleteRecord of `id` at `version` through `call`; an acknowledged one is
  // recorded as operation `op`.
  template <typename Req, typename Resp, typename Call>
  void TrashWrite(History& h, const std::string& op, const std::string& id, uint64_t version,
                  Call call) {
    Req req;
    req.set_id(id);
    req.set_expected_version(version);
    Resp resp;
    grpc::Status s = call(Ctx(user_token_).get(), req, &resp);
    if (!s.ok()) {
      Failed(h, s);
      return;
    }
    std::lock_guard<std::mutex> lock(h.mu);
    h.writes.push_back({id, resp.record()});
    ++h.ops[op];
  }

  // One client: random operations on random shards until `stop`.
  void RunClient(int client, std::atomic<bool>& stop, History& h, std::vector<std::string>& slots,
                 std::mutex& slots_mu) {
    std::mt19937 rng(seed_ * 7919 + static_cast<uint32_t>(client));
    int n = 0;
    while (!stop.load()) {
      Shard& shard = *shards_[rng() % shards_.size()];
      const size_t slot = rng() % slots.size();
      std::string id;
      {
        std::lock_guard<std::mutex> lock(slots_mu);
        id = slots[slot];
      }
      const std::string value =
          "s" + std::to_string(seed_) + "-c" + std::to_string(client) + "-" + std::to_string(n++);
      pb::GetRecordRequest get;
      get.set_id(id);
      pb::GetRecordResponse got;
      grpc::Status gs = shard.records().GetRecord(Ctx(user_token_).get(), get, &got);
      if (gs.error_code() == grpc::StatusCode::NOT_FOUND) {
        // Not here (yet, or purged): create it with the slot's id; a concurrent create of the
        // same id on another shard becomes a conflict sibling.
        {
          std::lock_guard<std::mutex> lock(h.mu);
          if (h.purge_attempted.count(id) > 0) continue;  // retired
          h.attempted_values.insert(value);
        }
        pb::CreateRecordRequest req;
        *req.mutable_record() = Credential(value);
        req.set_record_id(id);
        pb::CreateRecordResponse resp;
        grpc::Status s = shard.records().CreateRecord(Ctx(user_token_).get(), req, &resp);
        std::lock_guard<std::mutex> lock(h.mu);
        if (s.ok()) {
          h.writes.push_back({id, resp.record()});
          ++h.ops["create"];
        } else if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
          // Purged here: the id is dead; the slot moves on to a fresh record.
          std::lock_guard<std::mutex> slots_lock(slots_mu);
          if (slots[slot] == id) {
            slots[slot] = NewId();
            h.ids.insert(slots[slot]);
          }
        } else {
          ++h.failures[std::to_string(s.error_code())];
        }
        continue;
      }
      if (!gs.ok()) {
        Failed(h, gs);
        continue;
      }
      const pb::Record& head = got.record();
      const int dice = static_cast<int>(rng() % 100);
      if (!head.deleted() && dice < 75) {
        {
          std::lock_guard<std::mutex> lock(h.mu);
          h.attempted_values.insert(value);
        }
        pb::UpdateRecordRequest req;
        *req.mutable_record() = Credential(value);
        req.mutable_record()->set_id(id);
        req.set_expected_version(head.version());
        pb::UpdateRecordResponse resp;
        grpc::Status s = shard.records().UpdateRecord(Ctx(user_token_).get(), req, &resp);
        if (!s.ok()) {
          Failed(h, s);
          continue;
        }
        std::lock_guard<std::mutex> lock(h.mu);
        h.writes.push_back({id, resp.record()});
        ++h.ops["update"];
      } else if (!head.deleted()) {
        TrashWrite<pb::DeleteRecordRequest, pb::DeleteRecordResponse>(
            h, "delete", id, head.version(), [&](auto* ctx, const auto& req, auto* resp) {
              return shard.records().DeleteRecord(ctx, req, resp);
            });
      } else if (dice < 80) {
        TrashWrite<pb::UndeleteRecordRequest, pb::UndeleteRecordResponse>(
            h, "undelete", id, head.version(), [&](auto* ctx, const auto& req, auto* resp) {
              return shard.records().UndeleteRecord(ctx, req, resp);
            });
      } else {
        {
          std::lock_guard<std::mutex> lock(h.mu);
          h.purge_attempted.insert(id);
          std::lock_guard<std::mutex> slots_lock(slots_mu);
          if (slots[slot] == id) {
            slots[slot] = NewId();
            h.ids.insert(slots[slot]);
          }
        }
        pb::PurgeRecordRequest req;
        req.set_id(id);
        req.set_expected_version(head.version());
        pb::PurgeRecordResponse resp;
        grpc::Status s = shard.records().PurgeRecord(Ctx(user_token_).get(), req, &resp);
        if (!s.ok()) {
          Failed(h, s);
          continue;
        }
        std::lock_guard<std::mutex> lock(h.mu);
        h.purges.push_back({id, head.vector()});
        ++h.ops["purge"];
      }
    }
  }

  // Injects one fault of `kind`; true when it took effect.
  bool InjectFault(int kind, std::mt19937& rng) {
    Shard& shard = *shards_[rng() % shards_.size()];
    auto pause = [&](int min_ms, int max_ms) {
      std::this_thread::sleep_for(std::chrono::milliseconds(min_ms + rng() % (max_ms - min_ms)));
    };
    switch (kind) {
      case 0:  // broker down, then up
        if (!BrokerCommand("down")) return false;
        pause(800, 2500);
        return BrokerCommand("up");
      case 1:  // the next produce requests are written but acknowledged after the timeout
        return BrokerCommand("delay-produce 3 " + std::to_string(kDeliveryTimeoutMs + 1500));
      case 2:  // SIGKILL a shard, restart it
        shard.process().Kill();
        pause(200, 1500);
        return shard.Restart();
      case 3:  // SIGSTOP a shard, SIGCONT it
        if (!shard.process().Signal(SIGSTOP)) return false;
        pause(800, 2500);
        return shard.process().Signal(SIGCONT);
      case 4: {  // crash the relay between produce and outbox delete
        if (!failpoint::Arm(shard.failpoint_dir(), kRelayFailpoint)) return false;
        const bool crashed = shard.process().WaitExit(8s).has_value();
        std::error_code ec;
        std::filesystem::remove(std::filesystem::path(shard.failpoint_dir()) / kRelayFailpoint, ec);
        if (!crashed) return false;
        EXPECT_TRUE(shard.process().LogSinceStart().find("failpoint fired") != std::string::npos)
            << shard.id() << " exited without the failpoint";
        return shard.Restart();
      }
    }
    return false;
  }

  // Undoes every fault and restarts whatever is down.
  void Heal() {
    EXPECT_TRUE(BrokerCommand("up"));
    EXPECT_TRUE(BrokerCommand("clear-produce"));
    for (auto& s : shards_) {
      s->process().Signal(SIGCONT);
      std::error_code ec;
      std::filesystem::remove(std::filesystem::path(s->failpoint_dir()) / kRelayFailpoint, ec);
      if (!s->process().Running()) {
        EXPECT_TRUE(s->Restart()) << s->id() << ":\n" << s->process().LogSinceStart();
      }
    }
  }

  std::optional<pb::GetShardStatusResponse> Status(Shard& s) {
    pb::GetShardStatusResponse resp;
    if (!s.admin().GetShardStatus(Ctx(admin_token_).get(), {}, &resp).ok()) return std::nullopt;
    return resp;
  }

  std::optional<std::string> Digest(Shard& s, const std::string& space = "") {
    pb::GetSpaceDigestRequest req;
    req.set_space_id(space.empty() ? space_ : space);
    pb::GetSpaceDigestResponse resp;
    if (!s.admin().GetSpaceDigest(Ctx(admin_token_).get(), req, &resp).ok()) return std::nullopt;
    return resp.digest_hex() + "/" + std::to_string(resp.record_count());
  }

  // Every outbox empty, every shard has applied the topic up to where it ended then, all
  // digests equal. (Not "lag 0": progress markers keep arriving, and they change no record.)
  bool Converged() {
    std::vector<int64_t> end(kPartitions, -1);
    for (auto& s : shards_) {
      auto st = Status(*s);
      if (!st || st->outbox_backlog() != 0 || st->partitions_size() != kPartitions) return false;
      for (int i = 0; i < kPartitions; ++i) {
        if (st->partitions(i).high_watermark() < 0) return false;
        end[i] = std::max(end[i], st->partitions(i).high_watermark());
      }
    }
    auto applied = [&] {
      for (auto& s : shards_) {
        auto st = Status(*s);
        if (!st || st->partitions_size() != kPartitions) return false;
        for (int i = 0; i < kPartitions; ++i) {
          if (st->partitions(i).next_offset() < end[i]) return false;
        }
      }
      return true;
    };
    // The end is fixed now; markers arriving meanwhile must not move it.
    if (!Eventually(applied, 10s)) return false;
    for (const std::string& space : {space_, shared_space_}) {
      if (space.empty()) continue;
      std::optional<std::string> first = Digest(*shards_[0], space);
      if (!first) return false;
      for (size_t i = 1; i < shards_.size(); ++i) {
        if (Digest(*shards_[i], space) != first) return false;
      }
    }
    return true;
  }

  // --- membership under faults (shared spaces, docs/architecture.md §3a) ---

  // What the membership client did.
  struct Membership {
    std::map<std::string, int> acked;  // acknowledged operations by kind
    int outsider_attempts = 0;
    int outsider_acked = 0;  // writes by a never-invited user a shard accepted: must stay 0
  };

  const std::string& UserToken(const std::string& user) {
    std::lock_guard<std::mutex> lock(tokens_mu_);
    auto [it, fresh] = user_tokens_.try_emplace(user);
    if (fresh) it->second = Token(user, {});
    return it->second;
  }

  // One shared space owned first by m0: invitations, accepts, role changes, removals and
  // ownership transfers on random shards, member writes, and an outsider's writes, until `stop`.
  // Beliefs about who is a member are only hints (calls fail or time out under faults); the
  // checks are after healing: one owner, identical membership, no outsider write accepted.
  void RunMembership(std::atomic<bool>& stop, Membership& m) {
    std::mt19937 rng(seed_ * 104729 + 17);
    const std::vector<std::string> pool = {"m0", "m1", "m2", "m3", "m4"};
    std::string owner = "m0";
    std::map<std::string, std::string> pending;  // invitee -> invitation
    std::set<std::string> members;
    auto pick_member = [&] {
      auto it = members.begin();
      std::advance(it, rng() % members.size());
      return *it;
    };
    while (!stop.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10 + rng() % 30));
      Shard& shard = *shards_[rng() % shards_.size()];
      const int op = static_cast<int>(rng() % 6);
      if (op == 0) {
        const std::string user = pool[rng() % pool.size()];
        if (user == owner || members.count(user) > 0 || pending.count(user) > 0) continue;
        pb::InviteMemberRequest req;
        req.set_space_id(shared_space_);
        req.set_user_id(user);
        req.set_role(rng() % 2 == 0 ? pb::ROLE_READER : pb::ROLE_WRITER);
        pb::InviteMemberResponse resp;
        if (shard.spaces().InviteMember(Ctx(UserToken(owner)).get(), req, &resp).ok()) {
          pending[user] = resp.invitation().id();
          ++m.acked["invite"];
        }
      } else if (op == 1 && !pending.empty()) {
        auto it = pending.begin();
        std::advance(it, rng() % pending.size());
        const std::string user = it->first;
        pb::AcceptInvitationRequest req;
        req.set_invitation_id(it->second);
        pb::AcceptInvitationResponse resp;
        grpc::Status st = shard.spaces().AcceptInvitation(Ctx(UserToken(user)).get(), req, &resp);
        if (st.ok()) {
          members.insert(user);
          ++m.acked["accept"];
        }
        if (st.ok() || st.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
          pending.erase(user);
        }
      } else if (op == 2 && !members.empty()) {
        pb::UpdateMemberRoleRequest req;
        req.set_space_id(shared_space_);
        req.set_user_id(pick_member());
        const pb::Role roles[] = {pb::ROLE_READER, pb::ROLE_WRITER, pb::ROLE_ADMIN};
        req.set_role(roles[rng() % 3]);
        pb::UpdateMemberRoleResponse resp;
        if (shard.spaces().UpdateMemberRole(Ctx(UserToken(owner)).get(), req, &resp).ok()) {
          ++m.acked["role"];
        }
      } else if (op == 3 && !members.empty()) {
        pb::RemoveMemberRequest req;
        req.set_space_id(shared_space_);
        req.set_user_id(pick_member());
        pb::RemoveMemberResponse resp;
        if (shard.spaces().RemoveMember(Ctx(UserToken(owner)).get(), req, &resp).ok()) {
          members.erase(req.user_id());
          ++m.acked["remove"];
        }
      } else if (op == 4 && !members.empty() && rng() % 3 == 0) {
        pb::TransferOwnershipRequest req;
        req.set_space_id(shared_space_);
        req.set_user_id(pick_member());
        pb::TransferOwnershipResponse resp;
        if (shard.spaces().TransferOwnership(Ctx(UserToken(owner)).get(), req, &resp).ok()) {
          members.erase(req.user_id());
          members.insert(owner);
          owner = req.user_id();
          ++m.acked["transfer"];
        }
      } else if (op == 5) {
        // A member writes; an outsider, who was never invited, tries the same.
        const std::string member = members.empty() ? owner : pick_member();
        for (const std::string& who : {member, std::string("m-outsider")}) {
          pb::CreateRecordRequest req;
          *req.mutable_record() = Credential("space-" + std::to_string(rng()));
          req.mutable_record()->set_space_id(shared_space_);
          pb::CreateRecordResponse resp;
          const bool ok = shard.records().CreateRecord(Ctx(UserToken(who)).get(), req, &resp).ok();
          if (who == "m-outsider") {
            ++m.outsider_attempts;
            m.outsider_acked += ok ? 1 : 0;
          } else if (ok) {
            ++m.acked["member-write"];
          }
        }
      }
    }
  }

  // user -> role of every member of the shared space as `s` lists it to `as` (empty on error).
  std::map<std::string, pb::Role> SharedMembers(Shard& s, const std::string& as) {
    pb::ListMembersRequest req;
    req.set_space_id(shared_space_);
    pb::ListMembersResponse resp;
    std::map<std::string, pb::Role> out;
    if (!s.spaces().ListMembers(Ctx(UserToken(as), 10s).get(), req, &resp).ok()) return out;
    for (const pb::Member& member : resp.members()) out[member.user_id()] = member.role();
    return out;
  }

  // Head + siblings of `id` on `s`; nullopt = NOT_FOUND (never written or purged).
  std::optional<pb::GetRecordResponse> Dump(Shard& s, const std::string& id) {
    pb::GetRecordRequest req;
    req.set_id(id);
    req.set_include_siblings(true);
    pb::GetRecordResponse resp;
    grpc::Status st = s.records().GetRecord(Ctx(user_token_, 10s).get(), req, &resp);
    EXPECT_TRUE(st.ok() || st.error_code() == grpc::StatusCode::NOT_FOUND)
        << s.id() << " " << id << ": " << st.error_message();
    if (!st.ok()) return std::nullopt;
    return resp;
  }

  static std::string DumpString(const std::optional<pb::GetRecordResponse>& d) {
    if (!d) return "NOT_FOUND";
    std::string out = "head " + RevisionString(d->record());
    for (const pb::Record& s : d->siblings()) out += "\n  sibling " + RevisionString(s);
    return out;
  }

  // What the hostile client did: events written to the topic (acknowledged / attempted) by kind,
  // and the other user's records (id -> name) the API acknowledged.
  struct Hostile {
    std::map<std::string, int> acked, attempted;
    std::map<std::string, std::string> records;
  };

  // Writes one event straight to the topic; true when Kafka acknowledged it.
  bool ProduceRaw(int32_t partition, const std::optional<std::string>& key,
                  const std::string& value, const std::vector<kafka::Header>& headers) {
    kafka::ProducerConfig config;
    config.bootstrap_servers = bootstrap_;
    config.properties["message.timeout.ms"] = "2000";
    auto producer = kafka::Producer::Create(config);
    if (!producer.ok()) return false;
    kafka::ProducerRecord record{kTopic, partition, key, value, headers};
    std::atomic<bool> acked{false};
    if (!(*producer)
             ->Produce(record, [&](const kafka::DeliveryReport& r) { acked = r.status.ok(); })
             .ok()) {
      return false;
    }
    (void)(*producer)->Flush(3s);
    return acked;
  }

  // Another user and a producer without the KEK, while the clients and the nemesis run.
  void RunHostile(std::atomic<bool>& stop, Hostile& out, const std::vector<std::string>& ids) {
    std::mt19937 rng(seed_ * 7919u);
    auto other = crypto::Keyring::Parse("k1:" + crypto::Base64Encode(crypto::RandomBytes(32)));
    auto real = crypto::Keyring::LoadFile(kek_file_);
    ASSERT_TRUE(other.ok() && real.ok());
    vault::sync::EventAuthenticator forger(*other), insider(*real);
    const int32_t partition = vault::sync::PartitionForSpace(space_, kPartitions);
    for (int round = 0; !stop; ++round) {
      std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 300));
      // The same id as a client's record, in the intruder's own space, on a random shard.
      const std::string& id = ids[rng() % ids.size()];
      pb::CreateRecordRequest create;
      create.set_record_id(id);
      create.mutable_record()->set_type(pb::RECORD_TYPE_TEXT);
      create.mutable_record()->set_name("intruder " + std::to_string(round));
      // Now and then the largest record the API accepts.
      create.mutable_record()->mutable_text()->set_text(
          std::string(round % 10 == 3 ? 899'000 : 16, 'x'));
      pb::CreateRecordResponse created;
      Shard& on = *shards_[rng() % shards_.size()];
      if (on.records().CreateRecord(Ctx(intruder_token_).get(), create, &created).ok() &&
          out.records.count(id) == 0) {
        out.records[id] = create.record().name();
      }
      // A forged purge of a client's record: a dominating vector, no valid MAC.
      vault::repository::StoredRevision purge;
      purge.space_id = space_;
      purge.record_id = ids[rng() % ids.size()];
      purge.type = vault::domain::RecordType::kCredential;
      purge.stamp.version = 1'000'000;
      for (char c = 'a'; c < 'a' + kShards; ++c) {
        purge.stamp.vector.Set(std::string("shard-") + c, 1'000'000);
      }
      purge.stamp.vector.Set("evil", 1);
      purge.stamp.hlc =
          vault::domain::HlcTimestamp::Pack(vault::domain::HlcTimestamp::kMaxPhysicalMs, 0);
      purge.stamp.origin_shard = "evil";
      purge.deleted = purge.purged = true;
      const std::string key = vault::sync::EventKey(purge);
      const std::string forged = vault::sync::EncodeChangeEvent(purge, NewId());
      const std::string garbage = "\xff garbage " + std::to_string(round);
      std::string future;
      {
        // schema_version (field 1) = 99 and origin_shard (field 3) = "shard-z", hand-encoded.
        future = std::string("\x08\x63\x1a\x07shard-z", 11);
      }
      const std::vector<std::pair<std::string, std::function<bool()>>> events = {
          {"mac", [&] { return ProduceRaw(partition, key, forged, {}); }},
          {"mac", [&] { return ProduceRaw(partition, key, forged, forger.Sign(key, forged)); }},
          {"decode",
           [&] {
             return ProduceRaw(partition, std::nullopt, garbage,
                               insider.Sign(std::nullopt, garbage));
           }},
          // Another partition: a future-schema event holds back GC of its partition until it is
          // retried or discarded, and the clients' records all live in `partition`.
          {"schema", [&] {
             return ProduceRaw((partition + 1) % kPartitions, std::nullopt, future,
                               insider.Sign(std::nullopt, future));
           }}};
      const auto& [kind, produce] = events[rng() % events.size()];
      ++out.attempted[kind];
      if (produce()) ++out.acked[kind];
    }
  }

  // Dead letters of one shard by kind (direction "in").
  std::map<std::string, int> DeadLetterKinds(Shard& s) {
    std::map<std::string, int> kinds;
    std::string token;
    do {
      pb::ListDeadLettersRequest req;
      req.set_direction("in");
      req.set_page_size(1000);
      req.set_page_token(token);
      pb::ListDeadLettersResponse resp;
      grpc::Status st = s.admin().ListDeadLetters(Ctx(admin_token_, 10s).get(), req, &resp);
      EXPECT_TRUE(st.ok()) << s.id() << ": " << st.error_message();
      if (!st.ok()) break;
      for (const pb::DeadLetter& d : resp.dead_letters()) ++kinds[d.kind()];
      token = resp.next_page_token();
    } while (!token.empty());
    return kinds;
  }

  uint32_t seed_ = 0;
  std::string intruder_token_;
  std::unique_ptr<testing::PgTestDatabase> dbs_[kShards];
  std::string work_dir_;
  std::optional<crypto::Ed25519PrivateKey> key_;
  std::string jwks_json_;
  httplib::Server jwks_server_;
  int jwks_port_ = 0;
  std::thread jwks_thread_;
  std::string user_token_, admin_token_, space_, kek_file_, bootstrap_;
  std::string shared_space_;  // owned first by m0 (RunMembership)
  std::mutex tokens_mu_;
  std::map<std::string, std::string> user_tokens_;
  std::unique_ptr<ChildProcess> broker_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

TEST_P(ConvergenceE2eTest, AllShardsConvergeAndKeepEveryAcknowledgedWrite) {
  const int seconds = EnvInt("COFFER_CONVERGENCE_SECONDS", 20);
  std::mt19937 rng(seed_);
  History h;
  std::mutex slots_mu;
  std::vector<std::string> slots;
  for (int i = 0; i < kKeySlots; ++i) {
    slots.push_back(NewId());
    h.ids.insert(slots.back());
  }

  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] { RunClient(c, stop, h, slots, slots_mu); });
  }
  Hostile hostile;
  const std::vector<std::string> targets = slots;
  clients.emplace_back([&] { RunHostile(stop, hostile, targets); });
  {
    pb::CreateSpaceRequest req;
    req.set_name("shared under faults");
    pb::CreateSpaceResponse resp;
    grpc::Status st = shards_[0]->spaces().CreateSpace(Ctx(UserToken("m0"), 10s).get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    shared_space_ = resp.space().id();
  }
  Membership membership;
  if (!shared_space_.empty()) clients.emplace_back([&] { RunMembership(stop, membership); });
  int injected[kFaultKinds] = {};
  int attempted[kFaultKinds] = {};
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  for (int round = 0; std::chrono::steady_clock::now() < end; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 800));
    // Every kind once first (in a seeded order), then at random.
    int kind = round < kFaultKinds ? (round + static_cast<int>(seed_)) % kFaultKinds
                                   : static_cast<int>(rng() % kFaultKinds);
    ++attempted[kind];
    if (InjectFault(kind, rng)) ++injected[kind];
  }
  stop = true;
  for (auto& t : clients) t.join();
  Heal();

  std::cout << "faults injected (of attempted):";
  for (int k = 0; k < kFaultKinds; ++k) {
    std::cout << " " << kFaultNames[k] << "=" << injected[k] << "/" << attempted[k];
  }
  std::cout << "\nacknowledged ops:";
  for (const auto& [op, n] : h.ops) std::cout << " " << op << "=" << n;
  std::cout << "\nfailed calls by gRPC code:";
  for (const auto& [code, n] : h.failures) std::cout << " " << code << "=" << n;
  std::cout << std::endl;
  for (int k = 0; k < kFaultKinds; ++k) {
    EXPECT_GT(injected[k], 0) << "fault kind " << kFaultNames[k] << " was never injected";
  }
  EXPECT_GE(h.writes.size(), 30u) << "too few acknowledged writes to prove anything";

  ASSERT_TRUE(Eventually([&] { return Converged(); }, 180s))
      << "shards did not converge; logs in " << work_dir_;

  // Membership: one owner, the same on every shard, identical members everywhere (the digests
  // above cover the registers too), and no outsider write was ever accepted.
  std::cout << "membership ops acknowledged:";
  for (const auto& [op, n] : membership.acked) std::cout << " " << op << "=" << n;
  std::cout << "; outsider writes accepted " << membership.outsider_acked << " of "
            << membership.outsider_attempts << std::endl;
  EXPECT_EQ(membership.outsider_acked, 0);
  EXPECT_GT(membership.outsider_attempts, 0);
  EXPECT_GT(membership.acked["accept"], 0) << "nobody joined: membership was not exercised";
  std::string owner;
  for (const std::string user : {"m0", "m1", "m2", "m3", "m4"}) {
    std::map<std::string, pb::Role> seen = SharedMembers(*shards_[0], user);
    auto it = seen.find(user);
    if (it == seen.end() || it->second != pb::ROLE_OWNER) continue;
    EXPECT_TRUE(owner.empty()) << "two owners: " << owner << " and " << user;
    owner = user;
  }
  ASSERT_FALSE(owner.empty()) << "the shared space has no owner on shard-a";
  const std::map<std::string, pb::Role> expected_members = SharedMembers(*shards_[0], owner);
  int owners = 0;
  for (const auto& [user, role] : expected_members) owners += role == pb::ROLE_OWNER ? 1 : 0;
  EXPECT_EQ(owners, 1);
  for (size_t i = 1; i < shards_.size(); ++i) {
    EXPECT_EQ(SharedMembers(*shards_[i], owner), expected_members)
        << "membership differs between shard-a and " << shards_[i]->id();
  }
  std::cout << "shared space members after healing: " << expected_members.size() << ", owner "
            << owner << std::endl;

  // Full dumps are identical on every shard.
  std::map<std::string, std::optional<pb::GetRecordResponse>> final_state;
  for (const std::string& id : h.ids) {
    final_state[id] = Dump(*shards_[0], id);
    const std::string expected = DumpString(final_state[id]);
    for (size_t i = 1; i < shards_.size(); ++i) {
      EXPECT_EQ(DumpString(Dump(*shards_[i], id)), expected)
          << "record " << id << " differs between shard-a and " << shards_[i]->id();
    }
  }

  // Every acknowledged write survives: as the head, as a sibling, or seen by one of them.
  int exact = 0, superseded = 0;
  for (const AckedWrite& w : h.writes) {
    const auto& state = final_state[w.id];
    if (!state) {
      EXPECT_TRUE(h.purge_attempted.count(w.id) > 0)
          << "record " << w.id << " vanished without a purge; lost " << RevisionString(w.revision);
      continue;
    }
    std::vector<const pb::Record*> revisions = {&state->record()};
    for (const pb::Record& s : state->siblings()) revisions.push_back(&s);
    bool kept = false;
    for (const pb::Record* r : revisions) {
      if (!Covers(r->vector(), w.revision.vector())) continue;
      kept = true;
      if (Covers(w.revision.vector(), r->vector())) {
        EXPECT_EQ(RevisionString(*r), RevisionString(w.revision)) << "same vector, other content";
        ++exact;
      } else {
        ++superseded;
      }
      break;
    }
    EXPECT_TRUE(kept) << "acknowledged write lost: " << RevisionString(w.revision) << "\nfinal:\n"
                      << DumpString(state);
  }

  // No purged record comes back: an alive head is never one the purge had already seen.
  for (const AckedPurge& p : h.purges) {
    const auto& state = final_state[p.id];
    if (!state || state->record().deleted()) continue;
    EXPECT_FALSE(Covers(p.seen, state->record().vector()))
        << "purged record came back: " << DumpString(state);
  }

  // No value appears that nobody wrote.
  int revisions = 0;
  for (const auto& [id, state] : final_state) {
    if (!state) continue;
    std::vector<const pb::Record*> all = {&state->record()};
    for (const pb::Record& s : state->siblings()) all.push_back(&s);
    for (const pb::Record* r : all) {
      ++revisions;
      if (!r->has_credential()) continue;  // purge tombstone sibling
      EXPECT_TRUE(h.attempted_values.count(r->credential().password()) > 0)
          << "value nobody wrote: " << RevisionString(*r);
    }
  }
  int64_t collected = 0, recoveries = 0;
  for (auto& s : shards_) {
    httplib::Client admin("127.0.0.1", s->admin_port());
    auto res = admin.Get("/metrics");
    const std::string name = "coffer_vault_tombstones_collected_total ";
    size_t at = res ? res->body.find("\n" + name) : std::string::npos;
    if (at != std::string::npos) collected += std::atoll(res->body.c_str() + at + 1 + name.size());
    // Counted from the logs, which survive restarts (the metric does not).
    const std::string log = s->process().Log();
    for (size_t p = log.find("recovery: merged"); p != std::string::npos;
         p = log.find("recovery: merged", p + 1)) {
      ++recoveries;
    }
  }
  std::cout << "recoveries from a peer after the log was truncated: " << recoveries << "\n";
  std::cout << "tombstones collected since the shards' last restarts: " << collected << "\n";

  // Every hostile event was quarantined exactly once on every shard (a dead letter is stored in
  // the transaction that moves past it, so kills and restarts neither lose nor repeat one), and
  // nothing else was.
  std::cout << "hostile events written (acknowledged/attempted):";
  for (const auto& [kind, n] : hostile.attempted) {
    std::cout << " " << kind << "=" << hostile.acked[kind] << "/" << n;
  }
  std::cout << "\n";
  for (auto& s : shards_) {
    std::map<std::string, int> kinds = DeadLetterKinds(*s);
    std::cout << s->id() << " quarantined:";
    for (const auto& [kind, n] : kinds) std::cout << " " << kind << "=" << n;
    std::cout << "\n";
    EXPECT_EQ(kinds.count("merge"), 0u) << s->id() << " failed to merge a valid event";
    // A shard that recovered from a peer's snapshot (the log was truncated under it) never read
    // the events it skipped, hostile ones included.
    const bool recovered = s->process().Log().find("recovery: merged") != std::string::npos;
    for (const auto& [kind, n] : kinds) {
      // An event whose acknowledgement was lost is in the log all the same.
      if (!recovered) {
        EXPECT_GE(n, hostile.acked[kind]) << s->id() << " " << kind;
      }
      EXPECT_LE(n, hostile.attempted[kind]) << s->id() << " " << kind;
    }
  }
  EXPECT_GT(hostile.acked["mac"], 0) << "no forged event reached the topic";
  // The other user's records, created with the clients' ids, are intact on every shard.
  EXPECT_FALSE(hostile.records.empty());
  for (const auto& [id, name] : hostile.records) {
    for (auto& s : shards_) {
      pb::GetRecordRequest req;
      req.set_id(id);
      pb::GetRecordResponse resp;
      grpc::Status st = s->records().GetRecord(Ctx(intruder_token_, 10s).get(), req, &resp);
      ASSERT_TRUE(st.ok()) << s->id() << " " << id << ": " << st.error_message();
      EXPECT_EQ(resp.record().space_id(), vault::domain::PersonalSpaceId("convergence-intruder"));
    }
  }
  std::cout << "other user's records with the clients' ids: " << hostile.records.size() << "\n";
  EXPECT_GT(collected, 0) << "tombstone GC never ran during the test";
  std::cout << "checked " << h.writes.size() << " acknowledged writes (" << exact
            << " still current, " << superseded << " superseded), " << h.purges.size()
            << " purges, " << final_state.size() << " record ids, " << revisions
            << " final revisions" << std::endl;
}

std::string SeedName(const ::testing::TestParamInfo<uint32_t>& param) {
  return "seed" + std::to_string(param.param);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ConvergenceE2eTest, ::testing::ValuesIn(Seeds()), SeedName);

}  // namespace
}  // namespace coffer
