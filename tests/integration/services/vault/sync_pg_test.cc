// Shard sync end to end in one process: two (or three) VaultApps on fresh PostgreSQL databases
// sharing one librdkafka mock cluster, called over real gRPC. Covers replication, conflicts
// and their resolution, tombstones, replay idempotence, relay leader failover, the change feed
// (Sync cursors, resets) and Watch across shards.
#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <random>
#include <thread>

#include "coffer/vault/v1/admin.grpc.pb.h"
#include "coffer/vault/v1/events.pb.h"
#include "coffer/vault/v1/files.grpc.pb.h"
#include "coffer/vault/v1/spaces.grpc.pb.h"
#include "coffer/vault/v1/sync.grpc.pb.h"
#include "coffer/vault/v1/vault.grpc.pb.h"
#include "pkg/auth/jwks_source.h"
#include "pkg/auth/jwt.h"
#include "pkg/crypto/ed25519.h"
#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"
#include "pkg/crypto/random.h"
#include "pkg/kafka/consumer.h"
#include "pkg/kafka/producer.h"
#include "pkg/testing/kafka_mock.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/app/vault_app.h"
#include "services/vault/domain/ids.h"
#include "services/vault/sync/change_event.h"
#include "services/vault/sync/event_auth.h"

namespace coffer::vault {
namespace {

namespace pb = ::coffer::vault::v1;
constexpr char kTopic[] = "coffer.vault.changes.v1";
constexpr int kPartitions = 4;

// Every shard of a deployment shares the KEK keyring (events carry envelopes as stored).
std::string KekSpec() { return "k1:" + crypto::Base64Encode(std::string(32, '\x42')); }

// Polls `cond` until true or `timeout`.
bool Eventually(const std::function<bool()>& cond,
                std::chrono::milliseconds timeout = std::chrono::seconds(45)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

// One replica: the app and its stubs.
struct Replica {
  std::unique_ptr<app::VaultApp> app;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::RecordService::Stub> records;
  std::unique_ptr<pb::AdminService::Stub> admin;
  std::unique_ptr<pb::SyncService::Stub> sync;
  std::unique_ptr<pb::FileService::Stub> files;
  std::unique_ptr<pb::SpaceService::Stub> spaces;
};

class VaultSyncPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COFFER_PG_TEST_DATABASE(db_a_);
    COFFER_PG_TEST_DATABASE(db_b_);
    COFFER_ASSERT_OK_AND_ASSIGN(cluster_, testing::KafkaMockCluster::Create(1));
    COFFER_ASSERT_OK(cluster_->CreateTopic(kTopic, kPartitions));
    COFFER_ASSERT_OK_AND_ASSIGN(key_, crypto::Ed25519PrivateKey::Generate());
    jwks_.Set(auth::JwkSet{{auth::Jwk::FromPublicKey("test-key", key_->PublicKey())}});
    alice_ = Token("alice");
    admin_token_ = Token("ops", {"vault.admin"});
    space_ = domain::PersonalSpaceId("alice");
    a_ = StartReplica("shard-a", *db_a_);
    b_ = StartReplica("shard-b", *db_b_);
    ASSERT_TRUE(a_.app && b_.app);
  }

  void TearDown() override {
    for (Replica* r : {&a_, &b_, &a2_}) {
      if (r->app) r->app->Shutdown();
    }
  }

  Replica StartReplica(const std::string& shard, const testing::PgTestDatabase& db,
                       int watch_heartbeat_ms = 300,
                       const std::function<void(app::VaultConfig&)>& tweak = nullptr) {
    app::VaultConfig config;
    config.db_dsn = db.dsn();
    config.db_pool_size = 8;
    // Every shard of a deployment shares the KEK keyring (events carry envelopes as stored).
    config.kek = KekSpec();
    config.shard_id = shard;
    config.history_retention = 10;
    config.shutdown_grace_ms = 500;
    config.kafka_bootstrap = cluster_->bootstrap_servers();
    config.kafka_topic = kTopic;
    config.watch_heartbeat_ms = watch_heartbeat_ms;
    if (tweak) tweak(config);
    Replica r;
    auto created = app::VaultApp::Create(config, {&jwks_, nullptr});
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return r;
    r.app = *std::move(created);
    absl::Status started = r.app->Start();
    EXPECT_TRUE(started.ok()) << started;
    r.channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(r.app->grpc_port()),
                                    grpc::InsecureChannelCredentials());
    r.records = pb::RecordService::NewStub(r.channel);
    r.admin = pb::AdminService::NewStub(r.channel);
    r.sync = pb::SyncService::NewStub(r.channel);
    r.files = pb::FileService::NewStub(r.channel);
    r.spaces = pb::SpaceService::NewStub(r.channel);
    return r;
  }

  std::string Token(const std::string& subject, std::vector<std::string> scopes = {},
                    int64_t expires_in_s = 3600) {
    auth::Claims claims;
    claims.iss = "coffer-identity";
    claims.sub = subject;
    claims.aud = {"coffer"};
    int64_t now = time(nullptr);
    claims.iat = now;
    claims.exp = now + expires_in_s;
    claims.scope = std::move(scopes);
    claims.scope.push_back("vault");  // the scope the vault requires of every token
    auto token = auth::SignJwt(claims, "test-key", *key_);
    EXPECT_TRUE(token.ok());
    return token.value_or("");
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token, int seconds = 20) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    return ctx;
  }

  static pb::Record Credential(const std::string& name, const std::string& password) {
    pb::Record r;
    r.set_type(pb::RECORD_TYPE_CREDENTIAL);
    r.set_name(name);
    r.mutable_credential()->set_login("alice@example.org");
    r.mutable_credential()->set_password(password);
    return r;
  }

  pb::Record Create(Replica& on, const pb::Record& record) {
    pb::CreateRecordRequest req;
    *req.mutable_record() = record;
    pb::CreateRecordResponse resp;
    grpc::Status s = on.records->CreateRecord(Ctx(alice_).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.record();
  }

  grpc::Status Update(Replica& on, const std::string& id, const pb::Record& content,
                      uint64_t expected, pb::Record* out = nullptr) {
    pb::UpdateRecordRequest req;
    *req.mutable_record() = content;
    req.mutable_record()->set_id(id);
    req.set_expected_version(expected);
    pb::UpdateRecordResponse resp;
    grpc::Status s = on.records->UpdateRecord(Ctx(alice_).get(), req, &resp);
    if (out != nullptr) *out = resp.record();
    return s;
  }

  // GetRecord with siblings; nullopt when the call fails (e.g. not replicated yet).
  std::optional<pb::GetRecordResponse> Get(Replica& on, const std::string& id) {
    pb::GetRecordRequest req;
    req.set_id(id);
    req.set_include_siblings(true);
    pb::GetRecordResponse resp;
    if (!on.records->GetRecord(Ctx(alice_).get(), req, &resp).ok()) return std::nullopt;
    return resp;
  }

  std::string Digest(Replica& on) {
    pb::GetSpaceDigestRequest req;
    req.set_space_id(space_);
    pb::GetSpaceDigestResponse resp;
    grpc::Status s = on.admin->GetSpaceDigest(Ctx(admin_token_).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.digest_hex() + "/" + std::to_string(resp.record_count());
  }

  pb::GetShardStatusResponse Status(Replica& on) {
    pb::GetShardStatusResponse resp;
    grpc::Status s =
        on.admin->GetShardStatus(Ctx(admin_token_).get(), pb::GetShardStatusRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // True when both shards published their whole outbox and then both applied the topic up to
  // where it ended at that moment (waiting up to 5 s for that), and their digests are equal. Not
  // "lag 0": with tombstone GC, progress markers keep arriving, and they change no record.
  bool Converged() {
    std::vector<int64_t> end(kPartitions, -1);
    for (Replica* r : {&a_, &b_}) {
      pb::GetShardStatusResponse st = Status(*r);
      if (st.outbox_backlog() != 0 || st.partitions_size() != kPartitions) return false;
      for (int i = 0; i < kPartitions; ++i) {
        if (st.partitions(i).high_watermark() < 0) return false;
        end[i] = std::max(end[i], st.partitions(i).high_watermark());
      }
    }
    auto applied = [&](Replica& r) {
      pb::GetShardStatusResponse st = Status(r);
      if (st.partitions_size() != kPartitions) return false;
      for (int i = 0; i < kPartitions; ++i) {
        if (st.partitions(i).next_offset() < end[i]) return false;
      }
      return true;
    };
    if (!Eventually([&] { return applied(a_) && applied(b_); }, std::chrono::seconds(5))) {
      return false;
    }
    return Digest(a_) == Digest(b_);
  }

  // Tombstone GC on, fast: markers every 100 ms, collection every 200 ms, no minimum age.
  static void FastGc(app::VaultConfig& c) {
    c.progress_interval_ms = 100;
    c.tombstone_gc_interval_ms = 200;
    c.tombstone_gc_min_age_ms = 0;
  }

  Replica StartGcReplica(const std::string& shard, const testing::PgTestDatabase& db) {
    return StartReplica(shard, db, 300, FastGc);
  }

  // Restarts both shards with tombstone GC and waits until both accept writes (joined).
  void RestartWithGc() {
    for (Replica* r : {&a_, &b_}) {
      r->app->Shutdown();
      r->app.reset();
    }
    a_ = StartGcReplica("shard-a", *db_a_);
    b_ = StartGcReplica("shard-b", *db_b_);
    ASSERT_TRUE(a_.app && b_.app);
    for (Replica* r : {&a_, &b_}) {
      httplib::Client admin("127.0.0.1", r->app->admin_port());
      ASSERT_TRUE(Eventually([&] {
        auto res = admin.Get("/readyz");
        return res && res->status == 200;
      })) << "shard did not join replication";
    }
  }

  // True when record `id` still has a row (head or tombstone) in `db`.
  static bool HasRow(const testing::PgTestDatabase& db, const std::string& id) {
    pqxx::connection conn(db.dsn());
    pqxx::nontransaction txn(conn);
    return !txn.exec_params("SELECT 1 FROM records WHERE record_id = $1::uuid", id).empty();
  }

  // One integer from a query on `db`.
  static int64_t QueryInt(const testing::PgTestDatabase& db, const std::string& sql) {
    pqxx::connection conn(db.dsn());
    pqxx::nontransaction txn(conn);
    return txn.exec1(sql)[0].as<int64_t>();
  }

  // Sessions of `db` that LISTEN for change notifications (each running replica's notifier has
  // one once its listener thread is connected; notifications sent before that are not seen).
  static int64_t Listeners(const testing::PgTestDatabase& db) {
    return QueryInt(db,
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'idle' AND query ILIKE 'LISTEN%'");
  }

  void TrashAndPurge(Replica& on, const std::string& id) {
    std::optional<pb::GetRecordResponse> got = Get(on, id);
    ASSERT_TRUE(got.has_value());
    pb::DeleteRecordRequest del;
    del.set_id(id);
    del.set_expected_version(got->record().version());
    pb::DeleteRecordResponse deleted;
    ASSERT_TRUE(on.records->DeleteRecord(Ctx(alice_).get(), del, &deleted).ok());
    pb::PurgeRecordRequest purge;
    purge.set_id(id);
    purge.set_expected_version(deleted.record().version());
    pb::PurgeRecordResponse purged;
    grpc::Status s = on.records->PurgeRecord(Ctx(alice_).get(), purge, &purged);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  pb::SyncResponse Sync(Replica& on, const std::string& cursor, int page_size = 0) {
    pb::SyncRequest req;
    req.set_cursor(cursor);
    req.set_page_size(page_size);
    pb::SyncResponse resp;
    grpc::Status s = on.sync->Sync(Ctx(alice_).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // Writes one message straight to the change topic, as anyone with access to Kafka could.
  void ProduceRaw(int32_t partition, const std::optional<std::string>& key,
                  const std::string& value, const std::vector<kafka::Header>& headers) {
    kafka::ProducerConfig config;
    config.bootstrap_servers = cluster_->bootstrap_servers();
    COFFER_ASSERT_OK_AND_ASSIGN(auto producer, kafka::Producer::Create(config));
    kafka::ProducerRecord record;
    record.topic = kTopic;
    record.partition = partition;
    record.key = key;
    record.value = value;
    record.headers = headers;
    std::atomic<bool> delivered{false};
    COFFER_ASSERT_OK(producer->Produce(
        record, [&](const kafka::DeliveryReport& r) { delivered = r.status.ok(); }));
    COFFER_ASSERT_OK(producer->Flush(std::chrono::seconds(10)));
    ASSERT_TRUE(delivered);
  }

  // The value of one Prometheus series on `on`'s admin port (`series` with its labels), -1 when
  // absent (every series these tests read exists from the start).
  static double Metric(Replica& on, const std::string& series) {
    httplib::Client admin("127.0.0.1", on.app->admin_port());
    auto res = admin.Get("/metrics");
    if (!res) return -1;
    size_t at = res->body.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(res->body.substr(at + series.size() + 2));
  }

  std::vector<pb::DeadLetter> DeadLetters(Replica& on, const std::string& direction = "") {
    pb::ListDeadLettersRequest req;
    req.set_direction(direction);
    pb::ListDeadLettersResponse resp;
    grpc::Status s = on.admin->ListDeadLetters(Ctx(admin_token_).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.dead_letters().begin(), resp.dead_letters().end()};
  }

  pb::Record CreateAs(const std::string& token, Replica& on, const pb::Record& record,
                      const std::string& id = "", grpc::Status* status = nullptr) {
    pb::CreateRecordRequest req;
    *req.mutable_record() = record;
    req.set_record_id(id);
    pb::CreateRecordResponse resp;
    grpc::Status s = on.records->CreateRecord(Ctx(token).get(), req, &resp);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp.record();
  }

  std::optional<pb::GetRecordResponse> GetAs(const std::string& token, Replica& on,
                                             const std::string& id,
                                             const std::string& space_id = "",
                                             grpc::Status* status = nullptr) {
    pb::GetRecordRequest req;
    req.set_id(id);
    req.set_space_id(space_id);
    pb::GetRecordResponse resp;
    grpc::Status s = on.records->GetRecord(Ctx(token).get(), req, &resp);
    if (status != nullptr) *status = s;
    if (!s.ok()) return std::nullopt;
    return resp;
  }

  // --- shared spaces (SpaceService) ---

  std::string CreateSpace(Replica& on, const std::string& token, const std::string& name) {
    pb::CreateSpaceRequest req;
    req.set_name(name);
    pb::CreateSpaceResponse resp;
    grpc::Status s = on.spaces->CreateSpace(Ctx(token).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.space().id();
  }

  grpc::Status Invite(Replica& on, const std::string& token, const std::string& space,
                      const std::string& user, pb::Role role, std::string* invitation = nullptr) {
    pb::InviteMemberRequest req;
    req.set_space_id(space);
    req.set_user_id(user);
    req.set_role(role);
    pb::InviteMemberResponse resp;
    grpc::Status s = on.spaces->InviteMember(Ctx(token).get(), req, &resp);
    if (invitation != nullptr) *invitation = resp.invitation().id();
    return s;
  }

  grpc::Status Accept(Replica& on, const std::string& token, const std::string& invitation) {
    pb::AcceptInvitationRequest req;
    req.set_invitation_id(invitation);
    pb::AcceptInvitationResponse resp;
    return on.spaces->AcceptInvitation(Ctx(token).get(), req, &resp);
  }

  // Pending invitations addressed to the caller.
  std::vector<pb::Invitation> Invitations(Replica& on, const std::string& token) {
    pb::ListInvitationsResponse resp;
    grpc::Status s =
        on.spaces->ListInvitations(Ctx(token).get(), pb::ListInvitationsRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.invitations().begin(), resp.invitations().end()};
  }

  // user id -> role, as `on` lists the space's members (empty when the call fails).
  std::map<std::string, pb::Role> Members(Replica& on, const std::string& token,
                                          const std::string& space) {
    pb::ListMembersRequest req;
    req.set_space_id(space);
    pb::ListMembersResponse resp;
    std::map<std::string, pb::Role> out;
    if (!on.spaces->ListMembers(Ctx(token).get(), req, &resp).ok()) return out;
    for (const pb::Member& m : resp.members()) out[m.user_id()] = m.role();
    return out;
  }

  // Invites `user` (token `user_token`) on `on` and accepts on `accept_on` once it arrived.
  void Join(const std::string& space, Replica& on, const std::string& user,
            const std::string& user_token, pb::Role role, Replica& accept_on) {
    std::string invitation;
    ASSERT_TRUE(Invite(on, alice_, space, user, role, &invitation).ok());
    ASSERT_TRUE(Eventually([&] { return Accept(accept_on, user_token, invitation).ok(); }));
  }

  std::string SpaceDigest(Replica& on, const std::string& space) {
    pb::GetSpaceDigestRequest req;
    req.set_space_id(space);
    pb::GetSpaceDigestResponse resp;
    grpc::Status s = on.admin->GetSpaceDigest(Ctx(admin_token_).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.digest_hex() + "/" + std::to_string(resp.record_count());
  }

  pb::Record CreateIn(const std::string& token, Replica& on, const std::string& space,
                      const std::string& name, grpc::Status* status = nullptr) {
    pb::Record r = Text(name, 10);
    r.set_space_id(space);
    return CreateAs(token, on, r, "", status);
  }

  static pb::Record Text(const std::string& name, size_t bytes) {
    pb::Record r;
    r.set_type(pb::RECORD_TYPE_TEXT);
    r.set_name(name);
    r.mutable_text()->set_text(std::string(bytes, 'a'));
    return r;
  }

  std::unique_ptr<testing::PgTestDatabase> db_a_, db_b_;
  std::unique_ptr<testing::KafkaMockCluster> cluster_;
  std::optional<crypto::Ed25519PrivateKey> key_;
  auth::StaticJwksSource jwks_;
  std::string alice_, admin_token_, space_;
  Replica a_, b_, a2_;
};

TEST_F(VaultSyncPgTest, WriteOnAIsVisibleOnBThroughGetAndSync) {
  pb::Record created = Create(a_, Credential("bank", "s3cret"));
  ASSERT_FALSE(created.id().empty());
  ASSERT_TRUE(Eventually([&] { return Get(b_, created.id()).has_value(); }));
  pb::GetRecordResponse on_b = *Get(b_, created.id());
  EXPECT_EQ(on_b.record().version(), 1u);
  EXPECT_EQ(on_b.record().origin_shard(), "shard-a");
  EXPECT_EQ(on_b.record().credential().password(), "s3cret");
  EXPECT_EQ(on_b.siblings_size(), 0);

  // B's change feed lists the merged record; its cursor is B's.
  pb::SyncResponse page = Sync(b_, "");
  ASSERT_EQ(page.changes_size(), 1);
  EXPECT_EQ(page.changes(0).id(), created.id());
  EXPECT_FALSE(page.reset());
  EXPECT_FALSE(page.next_cursor().empty());
  // Nothing new: same cursor back, no changes.
  pb::SyncResponse again = Sync(b_, page.next_cursor());
  EXPECT_EQ(again.changes_size(), 0);
  EXPECT_EQ(again.next_cursor(), page.next_cursor());
  // A cursor of shard B on shard A: explicit reset.
  pb::SyncResponse foreign = Sync(a_, page.next_cursor());
  EXPECT_TRUE(foreign.reset());
  EXPECT_EQ(foreign.reset_reason(), pb::RESET_REASON_FOREIGN_SHARD);
  EXPECT_EQ(foreign.changes_size(), 0);

  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  pb::GetShardStatusResponse st_a = Status(a_);
  pb::GetShardStatusResponse st_b = Status(b_);
  EXPECT_TRUE(st_a.is_relay_leader());
  EXPECT_TRUE(st_a.is_consumer_leader());
  EXPECT_TRUE(st_b.is_consumer_leader());
  int64_t produced = 0;
  for (const auto& p : st_a.partitions()) produced += p.high_watermark();
  EXPECT_EQ(produced, 1);  // one event in the topic, no echo from B
}

TEST_F(VaultSyncPgTest, FileUploadedOnAIsDownloadableOnB) {
  // 600 KiB: three chunk events; and an empty file: one event without content.
  const std::string content = crypto::RandomBytes(600 * 1024);
  std::map<std::string, std::string> uploaded;  // blob id -> content
  for (const std::string& c : {content, std::string()}) {
    auto ctx = Ctx(alice_);
    pb::UploadFileResponse up;
    auto w = a_.files->UploadFile(ctx.get(), &up);
    pb::UploadFileRequest msg;
    msg.mutable_metadata()->set_file_name("scan.bin");
    msg.mutable_metadata()->set_size_bytes(c.size());
    msg.mutable_metadata()->set_sha256_hex(crypto::HexEncode(crypto::Sha256(c)));
    ASSERT_TRUE(w->Write(msg));
    for (size_t at = 0; at < c.size(); at += 100 * 1024) {
      msg.set_chunk(c.substr(at, 100 * 1024));
      ASSERT_TRUE(w->Write(msg));
    }
    w->WritesDone();
    grpc::Status st = w->Finish();
    ASSERT_TRUE(st.ok()) << st.error_message();
    uploaded[up.blob_id()] = c;
  }
  auto download = [&](Replica& r, const std::string& blob_id) -> std::optional<std::string> {
    pb::DownloadFileRequest req;
    req.set_blob_id(blob_id);
    auto ctx = Ctx(alice_);
    auto reader = r.files->DownloadFile(ctx.get(), req);
    pb::DownloadFileResponse msg;
    std::string got;
    bool info = false;
    while (reader->Read(&msg)) {
      if (msg.has_info()) {
        info = msg.info().file_name() == "scan.bin";
      } else {
        got += msg.chunk();
      }
    }
    if (!reader->Finish().ok() || !info) return std::nullopt;
    return got;
  };
  for (const auto& [blob_id, c] : uploaded) {
    ASSERT_TRUE(Eventually([&] { return download(b_, blob_id).has_value(); })) << blob_id;
    EXPECT_EQ(*download(b_, blob_id), c);
    // Another user still cannot see it on B.
    pb::GetFileInfoRequest req;
    req.set_blob_id(blob_id);
    pb::GetFileInfoResponse info;
    EXPECT_EQ(b_.files->GetFileInfo(Ctx(Token("bob")).get(), req, &info).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  // A's own chunk events come back to A and change nothing there (no echo, no second copy).
  // Converged: both shards applied the topic to its end, A's own chunk events included.
  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  pqxx::connection conn_a(db_a_->dsn());
  pqxx::nontransaction txn_a(conn_a);
  ASSERT_TRUE(Eventually(
      [&] { return txn_a.exec("SELECT count(*) FROM blob_outbox")[0][0].as<int64_t>() == 0; }));
  EXPECT_EQ(txn_a.exec("SELECT count(*) FROM blob_chunks")[0][0].as<int64_t>(), 3);
  pqxx::connection conn_b(db_b_->dsn());
  pqxx::nontransaction txn_b(conn_b);
  EXPECT_EQ(txn_b.exec("SELECT count(*) FROM blobs WHERE complete")[0][0].as<int64_t>(), 2);
  EXPECT_EQ(txn_b.exec("SELECT count(*) FROM blob_outbox")[0][0].as<int64_t>(), 0);  // no echo
}

TEST_F(VaultSyncPgTest, ConcurrentUpdatesBecomeSiblingsOnBothShardsAndAWriteResolvesThem) {
  pb::Record created = Create(a_, Credential("mail", "v1"));
  ASSERT_TRUE(Eventually([&] { return Get(b_, created.id()).has_value(); }));

  // Partition the shards: both accept an update of version 1 without seeing the other one.
  COFFER_ASSERT_OK(cluster_->SetBrokerDown(1));
  pb::Record on_a, on_b;
  ASSERT_TRUE(Update(a_, created.id(), Credential("mail", "from-a"), 1, &on_a).ok());
  ASSERT_TRUE(Update(b_, created.id(), Credential("mail", "from-b"), 1, &on_b).ok());
  EXPECT_EQ(on_a.version(), 2u);
  EXPECT_EQ(on_b.version(), 2u);
  COFFER_ASSERT_OK(cluster_->SetBrokerUp(1));

  auto conflicted = [&](Replica& r) {
    auto got = Get(r, created.id());
    return got && got->siblings_size() == 1;
  };
  ASSERT_TRUE(Eventually([&] { return conflicted(a_) && conflicted(b_); }));
  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  pb::GetRecordResponse ga = *Get(a_, created.id());
  pb::GetRecordResponse gb = *Get(b_, created.id());
  // Same head on both (greatest (hlc, origin)), the other write kept as the sibling.
  EXPECT_EQ(ga.record().origin_shard(), gb.record().origin_shard());
  EXPECT_EQ(ga.record().credential().password(), gb.record().credential().password());
  EXPECT_EQ(ga.siblings(0).credential().password(), gb.siblings(0).credential().password());
  EXPECT_NE(ga.record().credential().password(), ga.siblings(0).credential().password());
  EXPECT_EQ(ga.record().sibling_count(), 1u);

  // The conflict is visible in ListRecords(in_conflict) on B.
  pb::ListRecordsRequest list;
  list.mutable_filter()->set_in_conflict(true);
  pb::ListRecordsResponse listed;
  ASSERT_TRUE(b_.records->ListRecords(Ctx(alice_).get(), list, &listed).ok());
  ASSERT_EQ(listed.records_size(), 1);
  EXPECT_EQ(listed.records(0).id(), created.id());

  // A write with the head's version resolves it, on both shards.
  pb::Record resolved;
  ASSERT_TRUE(
      Update(b_, created.id(), Credential("mail", "merged"), gb.record().version(), &resolved)
          .ok());
  auto clean = [&](Replica& r) {
    auto got = Get(r, created.id());
    return got && got->siblings_size() == 0 && got->record().credential().password() == "merged";
  };
  ASSERT_TRUE(Eventually([&] { return clean(a_) && clean(b_); }));
  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  listed.Clear();
  ASSERT_TRUE(a_.records->ListRecords(Ctx(alice_).get(), list, &listed).ok());
  EXPECT_EQ(listed.records_size(), 0);
}

TEST_F(VaultSyncPgTest, DeleteOnABecomesATombstoneOnBAndReplayChangesNothing) {
  pb::Record keep = Create(a_, Credential("keep", "k"));
  pb::Record gone = Create(a_, Credential("gone", "g"));
  pb::Record from_b = Create(b_, Credential("from-b", "b"));
  ASSERT_TRUE(Eventually([&] { return Get(b_, gone.id()).has_value(); }));
  pb::SyncResponse before = Sync(b_, "");

  pb::DeleteRecordRequest del;
  del.set_id(gone.id());
  del.set_expected_version(1);
  pb::DeleteRecordResponse deleted;
  ASSERT_TRUE(a_.records->DeleteRecord(Ctx(alice_).get(), del, &deleted).ok());
  ASSERT_TRUE(Eventually([&] {
    auto got = Get(b_, gone.id());
    return got && got->record().deleted();
  }));
  // B's feed reports the tombstone after the earlier cursor.
  pb::SyncResponse after = Sync(b_, before.next_cursor());
  ASSERT_EQ(after.changes_size(), 1);
  EXPECT_EQ(after.changes(0).id(), gone.id());
  EXPECT_TRUE(after.changes(0).deleted());

  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  const std::string digest = Digest(b_);

  // Replay: restart B with its stored offsets reset to 0; every event is applied again.
  b_.app->Shutdown();
  b_.app.reset();
  COFFER_ASSERT_OK(db_b_->Exec("UPDATE consumer_offsets SET next_offset = 0"));
  b_ = StartReplica("shard-b", *db_b_);
  ASSERT_TRUE(b_.app);
  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  EXPECT_EQ(Digest(b_), digest);
  EXPECT_EQ(Digest(a_), digest);
  // Nothing changed, so nothing new in B's feed either.
  EXPECT_EQ(Sync(b_, after.next_cursor()).changes_size(), 0);
  EXPECT_TRUE(Get(b_, keep.id()).has_value());
  EXPECT_TRUE(Get(a_, from_b.id()).has_value());
}

TEST_F(VaultSyncPgTest, RelayLeaderFailoverDrainsTheOutbox) {
  // A second replica of shard A on the same database.
  a2_ = StartReplica("shard-a", *db_a_);
  ASSERT_TRUE(a2_.app);
  ASSERT_TRUE(
      Eventually([&] { return Status(a_).is_relay_leader() || Status(a2_).is_relay_leader(); }));
  Replica& leader = Status(a_).is_relay_leader() ? a_ : a2_;
  Replica& standby = &leader == &a_ ? a2_ : a_;
  EXPECT_FALSE(Status(standby).is_relay_leader());

  leader.app->Shutdown();
  leader.app.reset();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(Create(standby, Credential("after-failover-" + std::to_string(i), "x")).id());
  }
  ASSERT_TRUE(Eventually([&] { return Status(standby).is_relay_leader(); }));
  ASSERT_TRUE(Eventually([&] { return Status(standby).outbox_backlog() == 0; }));
  for (const std::string& id : ids) {
    ASSERT_TRUE(Eventually([&] { return Get(b_, id).has_value(); })) << id;
  }
}

TEST_F(VaultSyncPgTest, WatchOnBReceivesAChangeWrittenOnA) {
  auto ctx = Ctx(alice_, 60);
  pb::WatchRequest req;
  auto stream = b_.sync->Watch(ctx.get(), req);
  pb::WatchResponse msg;
  // The catch-up of an empty space ends with a heartbeat.
  ASSERT_TRUE(stream->Read(&msg));
  ASSERT_TRUE(msg.has_heartbeat());

  pb::Record created = Create(a_, Credential("watched", "w"));
  bool seen = false;
  int heartbeats = 0;
  while (!seen && stream->Read(&msg)) {
    if (msg.has_heartbeat()) {
      ++heartbeats;
      continue;
    }
    ASSERT_TRUE(msg.has_change());
    EXPECT_FALSE(msg.change().cursor().empty());
    seen = msg.change().record().id() == created.id();
    if (seen) {
      EXPECT_EQ(msg.change().record().credential().password(), "w");
    }
  }
  EXPECT_TRUE(seen);
  // Idle stream: heartbeats keep coming (interval 300 ms).
  ASSERT_TRUE(stream->Read(&msg));
  EXPECT_TRUE(msg.has_heartbeat());
  ctx->TryCancel();
  while (stream->Read(&msg)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// A Watch stream is not a way around token expiry (security audit H1): its token is checked
// again on every wake-up, so the stream ends UNAUTHENTICATED once the token (with the verifier's
// 30 s leeway) is no longer valid.
TEST_F(VaultSyncPgTest, WatchEndsUnauthenticatedWhenItsTokenExpires) {
  // Valid for about 8 more seconds (expired 22 s ago, inside the 30 s leeway): long enough for
  // the stream to start on a loaded machine, short enough to watch it end.
  const std::string short_lived = Token("alice", {}, -22);
  auto ctx = Ctx(short_lived, 60);
  auto stream = b_.sync->Watch(ctx.get(), pb::WatchRequest());
  pb::WatchResponse msg;
  ASSERT_TRUE(stream->Read(&msg));  // caught up: the stream was accepted
  int heartbeats = 0;
  while (stream->Read(&msg)) ++heartbeats;  // heartbeats every 300 ms until it ends
  grpc::Status ended = stream->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ended.error_message();
  EXPECT_GT(heartbeats, 0);
  EXPECT_EQ(ended.error_message().find(short_lived), std::string::npos);
}

// Writes do not NOTIFY inside their transaction (V003); the writing replica's ChangeNotifier
// publishes after commit. A second replica of the same shard must still be woken: its Watch
// heartbeat (and hence its re-query) is an hour, longer than the stream lives (its deadline is
// 5 min), so any push can only come from the cross-replica notification (or, for its own write,
// from the in-process wake-up). "Promptly" is bounded at 30 s per push: far above what a loaded
// machine needs (milliseconds here), far below the heartbeat, so a wake-up that regressed to a
// poll or a slow reconnect still fails.
TEST_F(VaultSyncPgTest, WatchOnASecondReplicaIsWokenPromptlyByWritesOnEitherReplica) {
  a2_ = StartReplica("shard-a", *db_a_, /*watch_heartbeat_ms=*/3600000);
  ASSERT_TRUE(a2_.app);
  // a2's notifier LISTENs from a thread of its own: a write notified before that is (legally)
  // only seen at the next heartbeat, an hour away. Wait for both replicas' listeners.
  ASSERT_TRUE(Eventually([&] { return Listeners(*db_a_) >= 2; }))
      << "the second replica never listened for notifications";
  auto ctx = Ctx(alice_, 300);
  pb::WatchRequest req;
  auto stream = a2_.sync->Watch(ctx.get(), req);
  pb::WatchResponse msg;
  ASSERT_TRUE(stream->Read(&msg));
  ASSERT_TRUE(msg.has_heartbeat());

  auto expect_push = [&](Replica& writer, const std::string& name) {
    pb::Record created = Create(writer, Credential(name, "p"));
    ASSERT_FALSE(created.id().empty());
    const auto written = std::chrono::steady_clock::now();
    bool seen = false;
    while (!seen && stream->Read(&msg)) {
      ASSERT_TRUE(msg.has_change()) << "a heartbeat instead of a push for " << name;
      seen = msg.change().record().id() == created.id();
    }
    ASSERT_TRUE(seen) << "no push for " << name << " before the stream's deadline";
    EXPECT_LT(std::chrono::steady_clock::now() - written, std::chrono::seconds(30))
        << "the push for " << name << " came, but only after a poll-like delay";
  };
  expect_push(a_, "written-on-the-other-replica");
  expect_push(a2_, "written-on-this-replica");
  expect_push(a_, "written-on-the-other-replica-again");

  ctx->TryCancel();
  while (stream->Read(&msg)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(VaultSyncPgTest, SyncCursorNeverSkipsATransactionThatCommitsLate) {
  pb::Record x = Create(a_, Credential("x", "1"));
  pb::Record y = Create(a_, Credential("y", "1"));
  // Paging: one record per page, has_more until the end.
  pb::SyncResponse first = Sync(a_, "", 1);
  ASSERT_EQ(first.changes_size(), 1);
  EXPECT_TRUE(first.has_more());
  pb::SyncResponse second = Sync(a_, first.next_cursor(), 1);
  ASSERT_EQ(second.changes_size(), 1);
  EXPECT_FALSE(second.has_more());
  EXPECT_NE(first.changes(0).id(), second.changes(0).id());
  const std::string base = second.next_cursor();

  // Merges are numbered at commit by the trigger: T1 changes x like a merge (state_seq only)
  // and stays open while a real local write of y commits. T1 holds no space lock yet, so the
  // write does not wait for it.
  constexpr char kMergeLike[] =
      "UPDATE records SET state_seq = state_seq + 1 WHERE record_id = $1::uuid";
  pqxx::connection c1(db_a_->dsn());
  std::string after_merge;
  {
    pqxx::work t1(c1);
    t1.exec_params(kMergeLike, x.id());
    ASSERT_TRUE(Update(a_, y.id(), Credential("y", "2"), y.version(), &y).ok());
    pb::SyncResponse mid = Sync(a_, base);
    ASSERT_EQ(mid.changes_size(), 1);
    EXPECT_EQ(mid.changes(0).id(), y.id());
    // T1 commits after a reader already moved past y: x must still come after that cursor.
    t1.commit();
    pb::SyncResponse late = Sync(a_, mid.next_cursor());
    ASSERT_EQ(late.changes_size(), 1);
    EXPECT_EQ(late.changes(0).id(), x.id());
    after_merge = late.next_cursor();
  }

  // Local writes number themselves (V005) under the space's commit-order lock, taken before the
  // sequence value: T2 does what kReplaceHead does to x and stays open. A real write of y must
  // then wait for T2's commit, so its larger value can never become visible before T2's.
  constexpr char kLockSpace[] =
      "SELECT pg_advisory_xact_lock(1684873540, hashtext(space_id::text)) FROM records"
      " WHERE record_id = $1::uuid";
  constexpr char kLocalLike[] =
      "UPDATE records SET state_seq = state_seq + 1, change_seq = nextval('record_change_seq')"
      " WHERE record_id = $1::uuid";
  {
    pqxx::work t2(c1);
    t2.exec_params(kLockSpace, x.id());
    t2.exec_params(kLocalLike, x.id());
    std::atomic<bool> written{false};
    std::thread writer([&] {
      EXPECT_TRUE(Update(a_, y.id(), Credential("y", "3"), y.version()).ok());
      written = true;
    });
    // Proof that the write reached the database and waits there for the space's lock (an
    // advisory lock not granted), not merely that it had not got that far yet.
    EXPECT_TRUE(Eventually([&] {
      return written || QueryInt(*db_a_,
                                 "SELECT count(*) FROM pg_locks l JOIN pg_database d"
                                 " ON d.oid = l.database WHERE d.datname = current_database()"
                                 " AND l.locktype = 'advisory' AND NOT l.granted") > 0;
    }));
    EXPECT_FALSE(written) << "a write of the same space did not wait for the space lock";
    EXPECT_EQ(Sync(a_, after_merge).changes_size(), 0);
    t2.commit();
    writer.join();
    EXPECT_TRUE(written);
    pb::SyncResponse both = Sync(a_, after_merge);
    ASSERT_EQ(both.changes_size(), 2);
    EXPECT_EQ(both.changes(0).id(), x.id());
    EXPECT_EQ(both.changes(1).id(), y.id());
  }

  // A cursor beyond anything this database issued (e.g. a restored database): reset EXPIRED.
  std::string future = crypto::Base64UrlEncode("c1|shard-a|" + space_ + "|999999");
  pb::SyncResponse expired = Sync(a_, future);
  EXPECT_TRUE(expired.reset());
  EXPECT_EQ(expired.reset_reason(), pb::RESET_REASON_EXPIRED);
  // Garbage is INVALID_ARGUMENT.
  pb::SyncRequest bad;
  bad.set_cursor("%%%");
  pb::SyncResponse bad_resp;
  EXPECT_EQ(a_.sync->Sync(Ctx(alice_).get(), bad, &bad_resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Nemesis: random creates, updates and deletes on both shards (versions as each shard sees
// them, so concurrent edits happen), while the broker goes down and up. After healing, both
// shards hold identical state (digest, and per record the same head and siblings).
TEST_F(VaultSyncPgTest, RandomizedWritesWithBrokerOutagesConverge) {
  std::mt19937 rng(20261122);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(Create(a_, Credential("r" + std::to_string(i), "0")).id());
  ASSERT_TRUE(Eventually([&] { return Get(b_, ids.back()).has_value(); }));
  bool down = false;
  int writes = 0;
  for (int step = 0; step < 80; ++step) {
    if (step % 20 == 10) {
      down = !down;
      COFFER_ASSERT_OK(down ? cluster_->SetBrokerDown(1) : cluster_->SetBrokerUp(1));
    }
    Replica& on = rng() % 2 == 0 ? a_ : b_;
    int op = static_cast<int>(rng() % 10);
    if (op == 0) {
      pb::Record r = Create(on, Credential("n" + std::to_string(step), "c"));
      if (!r.id().empty()) ids.push_back(r.id());
      ++writes;
      continue;
    }
    const std::string& id = ids[rng() % ids.size()];
    std::optional<pb::GetRecordResponse> got = Get(on, id);
    if (!got) continue;  // created on the other shard, not here yet
    uint64_t version = got->record().version();
    if (op == 1 && !got->record().deleted()) {
      pb::DeleteRecordRequest del;
      del.set_id(id);
      del.set_expected_version(version);
      pb::DeleteRecordResponse resp;
      if (on.records->DeleteRecord(Ctx(alice_).get(), del, &resp).ok()) ++writes;
    } else if (!got->record().deleted()) {
      if (Update(on, id, Credential("u", std::to_string(step)), version).ok()) ++writes;
    }
    if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 30));
  }
  if (down) {
    COFFER_ASSERT_OK(cluster_->SetBrokerUp(1));
  }
  EXPECT_GT(writes, 20);
  ASSERT_TRUE(Eventually([&] { return Converged(); }, std::chrono::seconds(90)));
  int conflicted = 0;
  for (const std::string& id : ids) {
    std::optional<pb::GetRecordResponse> ga = Get(a_, id), gb = Get(b_, id);
    ASSERT_TRUE(ga && gb) << id;
    EXPECT_EQ(ga->record().version(), gb->record().version()) << id;
    EXPECT_EQ(ga->record().origin_shard(), gb->record().origin_shard()) << id;
    EXPECT_EQ(ga->record().deleted(), gb->record().deleted()) << id;
    EXPECT_EQ(ga->siblings_size(), gb->siblings_size()) << id;
    conflicted += ga->siblings_size() > 0 ? 1 : 0;
  }
  std::cout << "randomized: " << writes << " writes, " << ids.size() << " records, " << conflicted
            << " in conflict at the end\n";
}

// Tombstone GC: a purged record is dropped on every shard once every registered shard's
// progress marker has settled past its tombstone; a change-feed cursor from before the GC is
// reset (the client never saw the delete), and the shards still agree.
TEST_F(VaultSyncPgTest, PurgedRecordIsCollectedOnEveryShardBehindTheHorizon) {
  RestartWithGc();
  if (HasFatalFailure()) return;
  // A standby replica of shard-a (not the consumer leader) accepts writes too once joined.
  a2_ = StartGcReplica("shard-a", *db_a_);
  ASSERT_TRUE(a2_.app);
  {
    httplib::Client standby("127.0.0.1", a2_.app->admin_port());
    ASSERT_TRUE(Eventually([&] {
      auto res = standby.Get("/readyz");
      return res && res->status == 200;
    })) << "a standby replica never joined";
  }
  pb::Record kept = Create(a2_, Credential("kept", "k"));
  pb::Record doomed = Create(a_, Credential("doomed", "d"));
  ASSERT_TRUE(Eventually([&] { return Get(b_, doomed.id()).has_value(); }));
  const std::string old_cursor = Sync(b_, "").next_cursor();
  TrashAndPurge(a_, doomed.id());
  ASSERT_TRUE(Eventually([&] {
    return !HasRow(*db_a_, doomed.id()) && !HasRow(*db_b_, doomed.id());
  })) << "the tombstone was never collected";
  EXPECT_TRUE(HasRow(*db_a_, kept.id()) && HasRow(*db_b_, kept.id())) << "GC took a live record";
  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  pb::SyncResponse stale = Sync(b_, old_cursor);
  EXPECT_TRUE(stale.reset());
  EXPECT_EQ(stale.reset_reason(), pb::RESET_REASON_EXPIRED);
  // A cursor issued after the GC goes on normally.
  pb::SyncResponse fresh = Sync(b_, "");
  EXPECT_FALSE(Sync(b_, fresh.next_cursor()).reset());
  httplib::Client admin("127.0.0.1", a_.app->admin_port());
  auto metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, ::testing::HasSubstr("coffer_vault_gc_registered_shards 2"));
  EXPECT_THAT(metrics->body, ::testing::HasSubstr("coffer_vault_replication_joined 1"));
  // Counted just after the DELETE committed: the row may be gone a moment before the count.
  EXPECT_TRUE(
      Eventually([&] { return Metric(a_, "coffer_vault_tombstones_collected_total") >= 1; }));
}

// The horizon waits for every registered shard: while shard B is down, A keeps the tombstone
// (B could still hold revisions concurrent with it); once B is back and has passed it, both
// collect it.
TEST_F(VaultSyncPgTest, TombstoneIsKeptWhileARegisteredShardIsDown) {
  RestartWithGc();
  if (HasFatalFailure()) return;
  pb::Record doomed = Create(a_, Credential("doomed", "d"));
  ASSERT_TRUE(Eventually([&] { return Get(b_, doomed.id()).has_value(); }));
  // B must be registered on A (a progress row for every partition) before it stops, or A's
  // horizon would rightly not wait for it.
  ASSERT_TRUE(Eventually([&] {
    return QueryInt(*db_a_, "SELECT count(*) FROM shard_progress WHERE shard_id = 'shard-b'") ==
           kPartitions;
  })) << "shard-b's progress markers never reached shard-a";
  b_.app->Shutdown();
  b_.app.reset();
  TrashAndPurge(a_, doomed.id());
  // The tombstone is a GC candidate once A read its own tombstone event back (its GC position);
  // then many GC rounds run on A, counted, and the tombstone must stay.
  ASSERT_TRUE(Eventually([&] {
    return QueryInt(*db_a_, "SELECT count(*) FROM records WHERE record_id = '" + doomed.id() +
                                "' AND gc_offset IS NOT NULL") == 1;
  })) << "shard-a never read its own tombstone back";
  const double rounds = Metric(a_, "coffer_vault_gc_rounds_total");
  ASSERT_GE(rounds, 0) << "no GC round counter";
  ASSERT_TRUE(Eventually([&] { return Metric(a_, "coffer_vault_gc_rounds_total") >= rounds + 5; }))
      << "shard-a's GC stopped running";
  EXPECT_TRUE(HasRow(*db_a_, doomed.id())) << "collected although shard-b had not passed it";
  b_ = StartGcReplica("shard-b", *db_b_);
  ASSERT_TRUE(b_.app);
  ASSERT_TRUE(Eventually([&] {
    return !HasRow(*db_a_, doomed.id()) && !HasRow(*db_b_, doomed.id());
  })) << "the tombstone was never collected after shard-b came back";
  ASSERT_TRUE(Eventually([&] { return Converged(); }))
      << "a: " << Status(a_).ShortDebugString() << " " << Digest(a_)
      << "\nb: " << Status(b_).ShortDebugString() << " " << Digest(b_);
}

// Bootstrap from a peer's snapshot, the re-bootstrap case: shard-a's database is lost and a
// new one is bootstrapped from shard-b. Shard-b's state predates shard-a's last write W (b was
// down when W was published), so W exists only in the change log, under shard-a's own origin:
// the new shard-a must merge it instead of skipping it as an echo, and then follow the log.
TEST_F(VaultSyncPgTest, ReBootstrappedShardImportsAPeerSnapshotAndMergesItsOwnLaterEvents) {
  pb::Record early = Create(a_, Credential("early", "e"));
  pb::Record gone = Create(a_, Credential("gone", "g"));
  ASSERT_TRUE(Eventually([&] { return Get(b_, gone.id()).has_value(); }));
  TrashAndPurge(a_, gone.id());
  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  b_.app->Shutdown();
  b_.app.reset();
  pb::Record late = Create(a_, Credential("late", "w"));
  ASSERT_TRUE(Eventually([&] { return Status(a_).outbox_backlog() == 0; }));
  const std::string a_digest = Digest(a_);
  a_.app->Shutdown();
  a_.app.reset();

  // Shard-b serves its (older) state without consuming meanwhile.
  b_ = StartReplica("shard-b", *db_b_, 300, [](app::VaultConfig& c) { c.kafka_bootstrap.clear(); });
  ASSERT_TRUE(b_.app);
  std::unique_ptr<testing::PgTestDatabase> fresh;
  COFFER_PG_TEST_DATABASE(fresh);
  char tmpl[] = "/tmp/coffer-bootstrap-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string token_file = std::string(tmpl) + "/token";
  std::ofstream(token_file) << admin_token_ << "\n";
  const std::string peer = "127.0.0.1:" + std::to_string(b_.app->grpc_port());
  a_ = StartReplica("shard-a", *fresh, 300, [&](app::VaultConfig& c) {
    c.bootstrap_peer = peer;
    c.bootstrap_token_file = token_file;
    c.bootstrap_mode = "snapshot";
  });
  ASSERT_TRUE(a_.app);
  std::filesystem::remove_all(tmpl);
  // The snapshot brought what shard-b had, the purge tombstone included ...
  EXPECT_TRUE(Get(a_, early.id()).has_value());
  EXPECT_FALSE(Get(a_, gone.id()).has_value());
  EXPECT_TRUE(HasRow(*fresh, gone.id())) << "the tombstone travels with the snapshot";
  {
    pqxx::connection conn(fresh->dsn());
    pqxx::nontransaction txn(conn);
    EXPECT_FALSE(
        txn.exec_params1("SELECT gc_offset FROM records WHERE record_id = $1::uuid", gone.id())[0]
            .is_null())
        << "the tombstone's GC position travels too, or it could never be collected here";
  }
  // ... and the log brings the own write the peer had not applied.
  ASSERT_TRUE(Eventually([&] { return Get(a_, late.id()).has_value(); }))
      << "shard-a's own earlier write was skipped as an echo";
  EXPECT_EQ(Digest(a_), a_digest) << "the re-bootstrapped shard holds what it held before";
  // New writes flow as usual once shard-b consumes again.
  b_.app->Shutdown();
  b_.app.reset();
  b_ = StartReplica("shard-b", *db_b_);
  pb::Record after = Create(a_, Credential("after", "x"));
  ASSERT_TRUE(Eventually([&] { return Get(b_, after.id()).has_value() && Converged(); }));
}

// Without a usable log start and without a peer, an empty shard refuses to start instead of
// silently starting with a partial state (here: snapshot mode forced, no peer configured).
TEST_F(VaultSyncPgTest, BootstrapNeedsAPeerWhenTheLogIsIncomplete) {
  std::unique_ptr<testing::PgTestDatabase> fresh;
  COFFER_PG_TEST_DATABASE(fresh);
  app::VaultConfig config;
  config.db_dsn = fresh->dsn();
  config.kek = "k1:" + crypto::Base64Encode(std::string(32, '\x42'));
  config.shard_id = "shard-c";
  config.kafka_bootstrap = cluster_->bootstrap_servers();
  config.kafka_topic = kTopic;
  config.bootstrap_mode = "snapshot";
  auto created = app::VaultApp::Create(config, {&jwks_, nullptr});
  ASSERT_TRUE(created.ok()) << created.status();
  absl::Status started = (*created)->Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition) << started;
  EXPECT_THAT(std::string(started.message()), ::testing::HasSubstr("--bootstrap-peer"));
}

TEST_F(VaultSyncPgTest, ConsumerRefusesToResumeFromAnUnusableOffsetInsteadOfSkipping) {
  // B's stored positions point outside the log (here beyond its end; a truncated log start is
  // the production case, which the mock cluster cannot produce on demand).
  b_.app->Shutdown();
  b_.app.reset();
  COFFER_ASSERT_OK(db_b_->Exec(
      "INSERT INTO consumer_offsets (partition, next_offset) SELECT g, 1000 FROM "
      "generate_series(0, 3) g ON CONFLICT (partition) DO UPDATE SET next_offset = 1000"));
  b_ = StartReplica("shard-b", *db_b_);
  ASSERT_TRUE(b_.app);
  pb::Record created = Create(a_, Credential("not-applied", "x"));
  httplib::Client admin("127.0.0.1", b_.app->admin_port());
  ASSERT_TRUE(Eventually([&] {
    auto res = admin.Get("/metrics");
    return res && res->body.find("coffer_vault_consumer_stalled 1") != std::string::npos;
  }));
  EXPECT_FALSE(Get(b_, created.id()).has_value());
  // Nothing was skipped: the stored positions did not move.
  pb::GetShardStatusResponse st = Status(b_);
  ASSERT_EQ(st.partitions_size(), kPartitions);
  for (const pb::PartitionStatus& p : st.partitions()) EXPECT_EQ(p.next_offset(), 1000);
  // The status names why, and /replicationz reports it (the consumer re-checks, so the reason
  // may be briefly cleared); the replica stays ready: its API still serves.
  EXPECT_TRUE(Eventually([&] { return !Status(b_).consumer_stall_reason().empty(); }));
  EXPECT_TRUE(Eventually([&] {
    auto res = admin.Get("/replicationz");
    return res && res->status == 503 && res->body.find("\"consumer\"") != std::string::npos;
  }));
  auto ready = admin.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
}

// A broker outage is a replication problem, not un-readiness: every replica of every shard
// shares the broker, so failing /readyz would take the whole service out of its load balancers
// while each shard's API still works. /readyz stays 200; /replicationz and the
// coffer_vault_replication_healthy gauge report the outage, and its end.
TEST_F(VaultSyncPgTest, BrokerDownKeepsShardsReadyAndIsReportedOnReplicationz) {
  auto replication_ok = [](httplib::Client& admin) {
    auto res = admin.Get("/replicationz");
    return res && res->status == 200;
  };
  auto healthy_gauge = [](httplib::Client& admin) -> std::string {
    auto res = admin.Get("/metrics");
    if (!res) return "unreachable";
    const std::string name = "coffer_vault_replication_healthy ";
    const size_t at = res->body.find("\n" + name);
    if (at == std::string::npos) return "missing";
    return res->body.substr(at + 1 + name.size(), 1);
  };
  httplib::Client admin_a("127.0.0.1", a_.app->admin_port());
  httplib::Client admin_b("127.0.0.1", b_.app->admin_port());
  for (httplib::Client* admin : {&admin_a, &admin_b}) {
    ASSERT_TRUE(Eventually([&] { return replication_ok(*admin); }));
    EXPECT_EQ(healthy_gauge(*admin), "1");
  }

  COFFER_ASSERT_OK(cluster_->SetBrokerDown(1));
  for (httplib::Client* admin : {&admin_a, &admin_b}) {
    ASSERT_TRUE(Eventually([&] {
      auto res = admin->Get("/replicationz");
      return res && res->status == 503 && res->body.find("\"kafka\"") != std::string::npos;
    })) << "the outage never showed on /replicationz";
    // Checked while the outage is visible.
    auto ready = admin->Get("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200) << ready->body;
    EXPECT_TRUE(Eventually([&] { return healthy_gauge(*admin) == "0"; }));
  }
  // The API serves meanwhile: a write is accepted (and queued in the outbox).
  pb::Record during = Create(a_, Credential("during-outage", "x"));

  COFFER_ASSERT_OK(cluster_->SetBrokerUp(1));
  for (httplib::Client* admin : {&admin_a, &admin_b}) {
    ASSERT_TRUE(Eventually([&] { return replication_ok(*admin); }));
    EXPECT_TRUE(Eventually([&] { return healthy_gauge(*admin) == "1"; }));
  }
  EXPECT_TRUE(Eventually([&] { return Get(b_, during.id()).has_value(); }));
}

// The dev broker (librdkafka's mock cluster) keeps at most 5 MiB per partition and drops the
// oldest events beyond that, as retention would: a shard that is down while more than that is
// written finds its stored position below the log start. With a peer configured it merges the
// peer's snapshot and resumes by itself.
TEST_F(VaultSyncPgTest, ShardBehindTheLogStartRecoversFromItsPeerByItself) {
  pb::Record before = Create(a_, Credential("before", "1"));
  ASSERT_TRUE(Eventually([&] { return Get(b_, before.id()).has_value(); }));
  b_.app->Shutdown();
  b_.app.reset();
  std::vector<std::string> big;
  for (int i = 0; i < 7; ++i) big.push_back(CreateAs(alice_, a_, Text("big", 899'000)).id());
  pb::Record after = Create(a_, Credential("after", "2"));
  ASSERT_TRUE(Eventually([&] { return Status(a_).outbox_backlog() == 0; }));

  const std::string token_file =
      std::filesystem::temp_directory_path() / ("coffer-peer-token-" + std::to_string(getpid()));
  {
    std::ofstream out(token_file);
    out << admin_token_ << "\n";
  }
  b_ = StartReplica("shard-b", *db_b_, 300, [&](app::VaultConfig& c) {
    c.bootstrap_peer = "127.0.0.1:" + std::to_string(a_.app->grpc_port());
    c.bootstrap_token_file = token_file;
  });
  ASSERT_TRUE(b_.app);
  ASSERT_TRUE(Eventually([&] {
    return Metric(b_, "coffer_vault_consumer_recoveries_total{result=\"ok\"}") >= 1;
  })) << "shard-b never recovered";
  for (const std::string& id : big) {
    ASSERT_TRUE(Eventually([&] { return Get(b_, id).has_value(); })) << id;
  }
  ASSERT_TRUE(Eventually([&] { return Get(b_, after.id()).has_value(); }));
  pb::Record later = Create(b_, Credential("written after recovery", "3"));
  ASSERT_TRUE(Eventually([&] { return Get(a_, later.id()).has_value(); }));
  EXPECT_EQ(Status(b_).consumer_stall_reason(), "");
  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  std::filesystem::remove(token_file);
}

// Anyone who can write to the topic: an event without a MAC, one signed under another key (a
// forged purge of a real record), garbage and a schema from the future. Each is quarantined
// with its kind on both shards, the partition moves on, and the record stays.
TEST_F(VaultSyncPgTest, HostileEventsAreQuarantinedAndTheNextValidEventApplies) {
  pb::Record victim = Create(a_, Credential("victim", "1"));
  ASSERT_TRUE(Eventually([&] { return Get(b_, victim.id()).has_value(); }));
  const int32_t partition = sync::PartitionForSpace(space_, kPartitions);

  repository::StoredRevision purge;
  purge.space_id = space_;
  purge.record_id = victim.id();
  purge.type = domain::RecordType::kCredential;
  purge.stamp.version = 99;
  purge.stamp.vector.Set("shard-a", 1000);
  purge.stamp.vector.Set("evil", 1);
  purge.stamp.hlc = domain::HlcTimestamp::Pack(domain::HlcTimestamp::kMaxPhysicalMs, 0);
  purge.stamp.origin_shard = "evil";
  purge.deleted = purge.purged = true;
  const std::string forged = sync::EncodeChangeEvent(purge, "forged");
  COFFER_ASSERT_OK_AND_ASSIGN(
      crypto::Keyring other,
      crypto::Keyring::Parse("k1:" + crypto::Base64Encode(std::string(32, 'x'))));
  sync::EventAuthenticator forger(other);
  ProduceRaw(partition, sync::EventKey(purge), forged, {});
  ProduceRaw(partition, sync::EventKey(purge), forged, forger.Sign(sync::EventKey(purge), forged));
  // Header bytes that are not text: the dead letter must still be storable.
  ProduceRaw(partition, sync::EventKey(purge), forged,
             {{sync::kMacKeyIdHeader, "\xff\xfe"}, {sync::kMacHeader, "\xff"}});
  COFFER_ASSERT_OK_AND_ASSIGN(crypto::Keyring real, crypto::Keyring::Parse(KekSpec()));
  sync::EventAuthenticator insider(real);  // a signed event that still is garbage
  ProduceRaw(partition, std::nullopt, "\xff\x01garbage",
             insider.Sign(std::nullopt, "\xff\x01garbage"));
  v1::ChangeEvent future;
  future.set_schema_version(99);
  future.set_origin_shard("shard-z");
  const std::string future_value = future.SerializeAsString();
  ProduceRaw(partition, std::nullopt, future_value, insider.Sign(std::nullopt, future_value));

  pb::Record after = Create(a_, Credential("after", "2"));
  ASSERT_TRUE(Eventually([&] { return Get(b_, after.id()).has_value(); }));
  for (Replica* r : {&a_, &b_}) {
    ASSERT_TRUE(Eventually([&] {
      return Metric(*r, "coffer_vault_consumer_events_quarantined_total{kind=\"mac\"}") == 3 &&
             Metric(*r, "coffer_vault_consumer_events_quarantined_total{kind=\"decode\"}") == 1 &&
             Metric(*r, "coffer_vault_consumer_events_quarantined_total{kind=\"schema\"}") == 1;
    })) << "quarantine metrics";
    std::optional<pb::GetRecordResponse> kept = Get(*r, victim.id());
    ASSERT_TRUE(kept.has_value());
    EXPECT_FALSE(kept->record().deleted());
    EXPECT_EQ(kept->record().version(), 1u);
  }
  EXPECT_EQ(Metric(b_, "coffer_vault_consumer_stalled"), 0);
  std::vector<pb::DeadLetter> letters = DeadLetters(b_, "in");
  ASSERT_EQ(letters.size(), 5u);
  EXPECT_EQ(letters[0].kind(), "mac");
  EXPECT_EQ(letters[0].claimed_origin_shard(), "evil");
  EXPECT_EQ(letters[0].partition(), partition);
  EXPECT_EQ(letters[2].kind(), "mac");
  EXPECT_EQ(letters[4].kind(), "schema");
  std::cout << "quarantined on shard-b: ";
  for (const pb::DeadLetter& d : letters) std::cout << d.kind() << " ";
  std::cout << "\n";

  // A retry runs the checks again: the forged event stays out.
  pb::RetryDeadLetterRequest retry;
  retry.set_id(letters[1].id());
  pb::RetryDeadLetterResponse retried;
  grpc::Status s = b_.admin->RetryDeadLetter(Ctx(admin_token_).get(), retry, &retried);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_FALSE(Get(b_, victim.id())->record().deleted());
  pb::DiscardDeadLetterRequest discard;
  discard.set_id(letters[1].id());
  pb::DiscardDeadLetterResponse discarded;
  EXPECT_TRUE(b_.admin->DiscardDeadLetter(Ctx(admin_token_).get(), discard, &discarded).ok());
  EXPECT_EQ(b_.admin->DiscardDeadLetter(Ctx(admin_token_).get(), discard, &discarded).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(DeadLetters(b_, "in").size(), 4u);
  // Only an admin may look.
  pb::ListDeadLettersResponse denied;
  EXPECT_EQ(b_.admin->ListDeadLetters(Ctx(alice_).get(), pb::ListDeadLettersRequest(), &denied)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// A flood of bad events cannot fill the disk: past the cap, dead letters keep where and why only.
TEST_F(VaultSyncPgTest, DeadLettersPastTheCapKeepNoContent) {
  COFFER_ASSERT_OK(
      db_b_->Exec("INSERT INTO dead_letters (direction, kind, error, kafka_partition, kafka_offset,"
                  " event_value) SELECT 'in', 'mac', 'earlier', 0, -g, 'x'::bytea"
                  " FROM generate_series(1, 10000) g"));
  const int32_t partition = sync::PartitionForSpace(space_, kPartitions);
  const std::string big(500'000, 'z');
  ProduceRaw(partition, std::string("k"), big, {});
  pb::Record after = Create(a_, Credential("after the flood", "1"));
  ASSERT_TRUE(Eventually([&] { return Get(b_, after.id()).has_value(); }));
  pqxx::connection conn(db_b_->dsn());
  pqxx::nontransaction txn(conn);
  pqxx::row last = txn.exec1(
      "SELECT octet_length(event_value), event_key IS NULL, error FROM dead_letters"
      " WHERE kafka_offset >= 0 ORDER BY id DESC LIMIT 1");
  EXPECT_EQ(last[0].as<int>(), 0);
  EXPECT_TRUE(last[1].as<bool>());
  EXPECT_THAT(last[2].as<std::string>(), ::testing::HasSubstr("content not kept"));
}

// A valid event replayed long after (read back from the topic and written again, headers and
// all) changes nothing: the merge is idempotent and a dominated revision is a no-op.
TEST_F(VaultSyncPgTest, ReplayedOldValidEventChangesNothing) {
  pb::Record v1 = Create(a_, Credential("replayed", "v1"));
  pb::Record v2;
  ASSERT_TRUE(Update(a_, v1.id(), Credential("replayed", "v2"), 1, &v2).ok());
  ASSERT_TRUE(Eventually([&] {
    auto got = Get(b_, v1.id());
    return got && got->record().version() == 2;
  }));
  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  const std::string before = Digest(b_);

  kafka::ConsumerConfig config;
  config.bootstrap_servers = cluster_->bootstrap_servers();
  COFFER_ASSERT_OK_AND_ASSIGN(auto reader, kafka::Consumer::Create(config));
  const int32_t partition = sync::PartitionForSpace(space_, kPartitions);
  COFFER_ASSERT_OK(reader->Assign({{kTopic, partition, kafka::kOffsetBeginning}}));
  std::optional<kafka::Message> first;
  ASSERT_TRUE(Eventually([&] {
    auto m = reader->Poll(std::chrono::milliseconds(200));
    if (m.ok() && m->has_value() && (*m)->key && (*m)->key->find(v1.id()) != std::string::npos) {
      first = **m;
    }
    return first.has_value();
  }));
  const double unchanged = Metric(b_, "coffer_vault_merges_unchanged_total");
  ProduceRaw(partition, first->key, first->value, first->headers);
  // Proof the replay was read and merged (as a no-op), not merely not read yet.
  ASSERT_TRUE(Eventually(
      [&] { return Metric(b_, "coffer_vault_merges_unchanged_total") >= unchanged + 1; }));
  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  EXPECT_EQ(Digest(b_), before);
  EXPECT_EQ(Get(b_, v1.id())->record().version(), 2u);
  EXPECT_EQ(Metric(b_, "coffer_vault_consumer_events_quarantined_total{kind=\"mac\"}"), 0);
}

// Two users pick the same record id at the same moment on two shards (here: while the broker is
// down, so neither shard has seen the other's event; security audit C1). Records are identified
// by (space, id), so these are two records: both exist on both shards, nothing is quarantined,
// and replication keeps flowing for everyone.
TEST_F(VaultSyncPgTest, SameIdInTwoSpacesOnTwoShardsIsTwoRecordsEverywhere) {
  const std::string bob = Token("bob"), carol = Token("carol");
  const std::string id = "0f0e0d0c-0b0a-4908-8706-0504030201aa";
  COFFER_ASSERT_OK(cluster_->SetBrokerDown(1));
  CreateAs(alice_, a_, Credential("alice's", "1"), id);
  CreateAs(bob, b_, Credential("bob's", "2"), id);
  COFFER_ASSERT_OK(cluster_->SetBrokerUp(1));

  ASSERT_TRUE(Eventually([&] { return GetAs(alice_, b_, id).has_value(); }));
  ASSERT_TRUE(Eventually([&] { return GetAs(bob, a_, id).has_value(); }));
  for (Replica* r : {&a_, &b_}) {
    EXPECT_EQ(GetAs(alice_, *r, id)->record().name(), "alice's");
    EXPECT_EQ(GetAs(bob, *r, id)->record().name(), "bob's");
    EXPECT_EQ(GetAs(alice_, *r, id)->record().space_id(), space_);
  }
  pb::Record third = CreateAs(carol, a_, Credential("carol's", "3"));
  ASSERT_TRUE(Eventually([&] { return GetAs(carol, b_, third.id()).has_value(); }));
  for (Replica* r : {&a_, &b_}) {
    EXPECT_EQ(Metric(*r, "coffer_vault_consumer_events_quarantined_total{kind=\"merge\"}"), 0);
    EXPECT_EQ(Metric(*r, "coffer_vault_consumer_stalled"), 0);
    EXPECT_TRUE(DeadLetters(*r).empty());
  }
  ASSERT_TRUE(Eventually([&] { return Converged(); }));
}

// Every record the API accepts fits in one event; a larger one is refused at the API with the
// limit named, never accepted and then stuck in the outbox.
TEST_F(VaultSyncPgTest, LargestAcceptedRecordReplicatesAndALargerOneIsRefusedAtTheApi) {
  grpc::Status refused;
  CreateAs(alice_, a_, Text("too big", 1024 * 1024), "", &refused);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), ::testing::HasSubstr("900000"));
  EXPECT_THAT(refused.error_message(), ::testing::StartsWith("record:"));

  pb::Record big = CreateAs(alice_, a_, Text("near the limit", 899'000));
  ASSERT_FALSE(big.id().empty());
  pb::Record small = Create(a_, Credential("behind it", "x"));
  ASSERT_TRUE(Eventually([&] { return Get(b_, small.id()).has_value(); }));
  std::optional<pb::GetRecordResponse> on_b = Get(b_, big.id());
  ASSERT_TRUE(on_b.has_value());
  EXPECT_EQ(on_b->record().text().text().size(), 899'000u);
  EXPECT_TRUE(DeadLetters(a_).empty());
}

// An outbox row Kafka refuses for good (here written straight into the outbox, over the
// producer's message.max.bytes) goes to the dead letters; the rows behind it flow on.
TEST_F(VaultSyncPgTest, RefusedOutboxRowIsDeadLetteredAndTheRowsBehindItFlow) {
  COFFER_ASSERT_OK(db_a_->Exec(
      "INSERT INTO outbox (record_id, origin_shard, origin_counter, space_id, type, version,"
      " vector, hlc, deleted, purged, key_id, name_ct, metadata_ct, payload_ct, created_at_ms,"
      " updated_at_ms) VALUES (gen_random_uuid(), 'shard-a', 1, '" +
      space_ +
      "', 'text', 1, '{\"shard-a\": 1}', 1, false, false, 'k1', '\\x01', '\\x01',"
      " decode(repeat('ab', 1100000), 'hex'), 1, 1)"));
  pb::Record behind = Create(a_, Credential("behind", "x"));
  ASSERT_TRUE(Eventually([&] { return Get(b_, behind.id()).has_value(); }));
  ASSERT_TRUE(Eventually([&] { return DeadLetters(a_, "out").size() == 1; }));
  pb::DeadLetter letter = DeadLetters(a_, "out")[0];
  EXPECT_EQ(letter.kind(), "too_large");
  EXPECT_GT(letter.event_bytes(), 1'000'000);
  EXPECT_EQ(letter.offset(), -1);
  // Counted just after the row moved to the dead letters: wait for the count.
  ASSERT_TRUE(Eventually([&] {
    return Metric(a_, "coffer_vault_relay_dead_letters_total{kind=\"too_large\"}") >= 1;
  }));
  EXPECT_EQ(Metric(a_, "coffer_vault_relay_dead_letters_total{kind=\"too_large\"}"), 1);
  // The row behind it may have gone out in a later batch, delivered before its outbox row is
  // deleted: wait for the backlog to drain rather than read it once.
  EXPECT_TRUE(Eventually([&] { return Status(a_).outbox_backlog() == 0u; }));
}

// ---- Shared spaces across shards (docs/architecture.md §3a) ----

// The demo's flow: alice shares a space on shard-a, bob joins and writes on shard-b, each sees
// the other's records, and the space (records and membership) converges.
TEST_F(VaultSyncPgTest, SpaceSharedOnAIsJoinedAndWrittenOnB) {
  const std::string bob = Token("bob");
  const std::string space = CreateSpace(a_, alice_, "Family");
  pb::Record from_alice = CreateIn(alice_, a_, space, "wifi");
  std::string invitation;
  ASSERT_TRUE(Invite(a_, alice_, space, "bob", pb::ROLE_WRITER, &invitation).ok());
  // The invitation reaches shard-b, where bob finds it and accepts it.
  ASSERT_TRUE(Eventually([&] { return Invitations(b_, bob).size() == 1; }));
  pb::Invitation seen = Invitations(b_, bob)[0];
  EXPECT_EQ(seen.space_name(), "Family");
  EXPECT_EQ(seen.role(), pb::ROLE_WRITER);
  EXPECT_EQ(seen.inviter_id(), "alice");
  ASSERT_TRUE(Accept(b_, bob, invitation).ok());
  grpc::Status again = Accept(b_, bob, invitation);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(again.error_message().find("accepted"), std::string::npos);

  ASSERT_TRUE(Eventually([&] { return GetAs(bob, b_, from_alice.id(), space).has_value(); }));
  pb::Record from_bob = CreateIn(bob, b_, space, "groceries");
  ASSERT_TRUE(Eventually([&] { return GetAs(alice_, a_, from_bob.id(), space).has_value(); }));
  ASSERT_TRUE(Eventually([&] { return Members(a_, alice_, space).count("bob") == 1; }));
  EXPECT_EQ(Members(a_, alice_, space),
            (std::map<std::string, pb::Role>{{"alice", pb::ROLE_OWNER}, {"bob", pb::ROLE_WRITER}}));
  // A third user sees nothing of it, on either shard.
  const std::string eve = Token("eve");
  grpc::Status hidden;
  GetAs(eve, a_, from_alice.id(), space, &hidden);
  EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Members(b_, eve, space).empty());
  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  EXPECT_EQ(SpaceDigest(a_, space), SpaceDigest(b_, space));
}

// Removal on one shard is enforced on the other once it arrives: reads are refused and an open
// Watch stream ends with PERMISSION_DENIED.
TEST_F(VaultSyncPgTest, MemberRemovedOnAIsRefusedOnBAndItsWatchEnds) {
  const std::string bob = Token("bob");
  const std::string space = CreateSpace(a_, alice_, "Team");
  pb::Record record = CreateIn(alice_, a_, space, "shared");
  Join(space, a_, "bob", bob, pb::ROLE_READER, b_);
  ASSERT_TRUE(Eventually([&] { return GetAs(bob, b_, record.id(), space).has_value(); }));
  // A reader cannot write.
  grpc::Status refused;
  CreateIn(bob, b_, space, "nope", &refused);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("writer"), std::string::npos);

  auto watch_ctx = Ctx(bob, 60);
  pb::WatchRequest watch_req;
  watch_req.set_space_id(space);
  auto stream = b_.sync->Watch(watch_ctx.get(), watch_req);
  pb::WatchResponse first;
  ASSERT_TRUE(stream->Read(&first));  // the stream is live

  // bob joined on shard-b: shard-a can remove him once his membership arrived there.
  ASSERT_TRUE(Eventually([&] { return Members(a_, alice_, space).count("bob") == 1; }));
  pb::RemoveMemberRequest remove;
  remove.set_space_id(space);
  remove.set_user_id("bob");
  pb::RemoveMemberResponse removed;
  ASSERT_TRUE(a_.spaces->RemoveMember(Ctx(alice_).get(), remove, &removed).ok());
  ASSERT_TRUE(Eventually([&] {
    grpc::Status s;
    GetAs(bob, b_, record.id(), space, &s);
    return s.error_code() == grpc::StatusCode::NOT_FOUND;
  }));
  pb::WatchResponse rest;
  while (stream->Read(&rest)) {
  }
  grpc::Status ended = stream->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::PERMISSION_DENIED) << ended.error_message();
  grpc::Status on_a;
  GetAs(bob, a_, record.id(), space, &on_a);
  EXPECT_EQ(on_a.error_code(), grpc::StatusCode::NOT_FOUND);
}

// Two shards that cannot talk both accept an ownership transfer from the owner: once they
// talk again every shard names the same single owner, and the space's digests are equal.
TEST_F(VaultSyncPgTest, ConcurrentOwnershipTransfersConvergeToOneOwner) {
  const std::string bob = Token("bob"), carol = Token("carol");
  const std::string space = CreateSpace(a_, alice_, "Contested");
  Join(space, a_, "bob", bob, pb::ROLE_WRITER, a_);
  Join(space, a_, "carol", carol, pb::ROLE_WRITER, a_);
  ASSERT_TRUE(Eventually([&] { return Members(b_, alice_, space).size() == 3; }));

  COFFER_ASSERT_OK(cluster_->SetBrokerDown(1));
  for (auto [on, to] : {std::pair<Replica*, const char*>{&a_, "bob"}, {&b_, "carol"}}) {
    pb::TransferOwnershipRequest req;
    req.set_space_id(space);
    req.set_user_id(to);
    pb::TransferOwnershipResponse resp;
    grpc::Status s = on->spaces->TransferOwnership(Ctx(alice_).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.space().owner_id(), to);
  }
  COFFER_ASSERT_OK(cluster_->SetBrokerUp(1));
  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  std::map<std::string, pb::Role> on_a, on_b;
  ASSERT_TRUE(Eventually([&] {
    on_a = Members(a_, alice_, space);
    on_b = Members(b_, alice_, space);
    return on_a == on_b && on_a.size() == 3;
  }));
  int owners = 0;
  for (const auto& [user, role] : on_a) owners += role == pb::ROLE_OWNER ? 1 : 0;
  EXPECT_EQ(owners, 1);
  EXPECT_EQ(on_a.at("alice"), pb::ROLE_ADMIN);
  EXPECT_EQ(SpaceDigest(a_, space), SpaceDigest(b_, space));
}

// Concurrent role changes on two shards, and one invitation accepted on both at once, converge
// to one role and one membership.
TEST_F(VaultSyncPgTest, ConcurrentRoleChangesAndDoubleAcceptConverge) {
  const std::string bob = Token("bob"), carol = Token("carol");
  const std::string space = CreateSpace(a_, alice_, "Roles");
  Join(space, a_, "bob", bob, pb::ROLE_WRITER, a_);
  std::string invitation;
  ASSERT_TRUE(Invite(a_, alice_, space, "carol", pb::ROLE_READER, &invitation).ok());
  ASSERT_TRUE(Eventually([&] { return Invitations(b_, carol).size() == 1; }));

  COFFER_ASSERT_OK(cluster_->SetBrokerDown(1));
  for (auto [on, role] :
       {std::pair<Replica*, pb::Role>{&a_, pb::ROLE_READER}, {&b_, pb::ROLE_ADMIN}}) {
    pb::UpdateMemberRoleRequest req;
    req.set_space_id(space);
    req.set_user_id("bob");
    req.set_role(role);
    pb::UpdateMemberRoleResponse resp;
    grpc::Status s = on->spaces->UpdateMemberRole(Ctx(alice_).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_TRUE(Accept(a_, carol, invitation).ok());
  ASSERT_TRUE(Accept(b_, carol, invitation).ok());
  COFFER_ASSERT_OK(cluster_->SetBrokerUp(1));
  ASSERT_TRUE(Eventually([&] { return Converged(); }));
  std::map<std::string, pb::Role> on_a, on_b;
  ASSERT_TRUE(Eventually([&] {
    on_a = Members(a_, alice_, space);
    on_b = Members(b_, alice_, space);
    return on_a == on_b && on_a.size() == 3;
  }));
  EXPECT_TRUE(on_a.at("bob") == pb::ROLE_READER || on_a.at("bob") == pb::ROLE_ADMIN);
  EXPECT_EQ(on_a.at("carol"), pb::ROLE_READER);
  EXPECT_TRUE(Invitations(a_, carol).empty());
  EXPECT_EQ(SpaceDigest(a_, space), SpaceDigest(b_, space));
}

// A shard bootstrapped from a peer's snapshot holds the peer's spaces and members.
TEST_F(VaultSyncPgTest, SnapshotCarriesMembership) {
  const std::string bob = Token("bob");
  const std::string space = CreateSpace(a_, alice_, "Snap");
  pb::Record record = CreateIn(alice_, a_, space, "kept");
  Join(space, a_, "bob", bob, pb::ROLE_WRITER, a_);
  ASSERT_TRUE(Eventually([&] { return Members(b_, alice_, space).size() == 2; }));
  std::vector<std::string> changes;
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + admin_token_);
  auto reader = a_.admin->ExportSnapshot(&ctx, pb::ExportSnapshotRequest());
  pb::ExportSnapshotResponse msg;
  while (reader->Read(&msg)) {
    for (const std::string& c : msg.space_changes()) changes.push_back(c);
  }
  ASSERT_TRUE(reader->Finish().ok());
  // info, owner, bob's membership, the accepted invitation.
  ASSERT_EQ(changes.size(), 4u);
  for (const std::string& c : changes) {
    absl::StatusOr<sync::TopicEvent> e = sync::DecodeTopicEvent(c);
    ASSERT_TRUE(e.ok()) << e.status();
    ASSERT_TRUE(e->space_change.has_value());
    EXPECT_EQ(e->space_change->space_id, space);
    // The name travels sealed, never in plaintext.
    EXPECT_EQ(c.find("Snap"), std::string::npos);
  }
}

}  // namespace
}  // namespace coffer::vault
