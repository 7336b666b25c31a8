// The vault end to end in one process: VaultApp on a fresh PostgreSQL database, called over
// real gRPC on loopback with tokens signed by a test Ed25519 key (StaticJwksSource).
#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <pqxx/binarystring>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <set>
#include <thread>

#include "coffer/vault/v1/admin.grpc.pb.h"
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
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/app/vault_app.h"
#include "services/vault/domain/otp.h"

namespace coffer::vault {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
namespace pb = ::coffer::vault::v1;

constexpr char kMarkerName[] = "ZebraMarkerName";
constexpr char kMarkerSecret[] = "PlaintextPasswordMarker";
constexpr char kMarkerMeta[] = "MetadataMarkerValue";

class VaultGrpcPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COFFER_PG_TEST_DATABASE(db_);
    COFFER_ASSERT_OK_AND_ASSIGN(key_, crypto::Ed25519PrivateKey::Generate());
    jwks_.Set(auth::JwkSet{{auth::Jwk::FromPublicKey("test-key", key_->PublicKey())}});
    app::VaultConfig config;
    config.db_dsn = db_->dsn();
    config.db_pool_size = 8;
    config.kek = "k1:" + crypto::Base64Encode(std::string(32, '\x42'));
    config.shard_id = "shard-a";
    config.history_retention = 3;
    config.shutdown_grace_ms = 1000;
    config.rest_addr = "127.0.0.1:0";
    COFFER_ASSERT_OK_AND_ASSIGN(app_, app::VaultApp::Create(config, {&jwks_, nullptr}));
    COFFER_ASSERT_OK(app_->Start());
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(app_->grpc_port()),
                                   grpc::InsecureChannelCredentials());
    records_ = pb::RecordService::NewStub(channel_);
    spaces_ = pb::SpaceService::NewStub(channel_);
    admin_ = pb::AdminService::NewStub(channel_);
    files_ = pb::FileService::NewStub(channel_);
    alice_ = Token("alice");
    bob_ = Token("bob");
  }

  void TearDown() override {
    if (app_) app_->Shutdown();
  }

  std::string Token(const std::string& subject, std::vector<std::string> scopes = {},
                    int64_t exp_offset = 3600, const crypto::Ed25519PrivateKey* key = nullptr,
                    const std::string& audience = "coffer") {
    auth::Claims claims;
    claims.iss = "coffer-identity";
    claims.sub = subject;
    claims.aud = {audience};
    int64_t now = time(nullptr);
    claims.iat = now;
    claims.exp = now + exp_offset;
    claims.scope = std::move(scopes);
    if (with_vault_scope_) claims.scope.push_back("vault");  // required of every token
    auto token = auth::SignJwt(claims, "test-key", key != nullptr ? *key : *key_);
    EXPECT_TRUE(token.ok());
    return token.value_or("");
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return ctx;
  }

  static pb::Record Credential(const std::string& name, const std::string& password = "pw") {
    pb::Record r;
    r.set_type(pb::RECORD_TYPE_CREDENTIAL);
    r.set_name(name);
    (*r.mutable_metadata())["site"] = kMarkerMeta;
    r.mutable_credential()->set_login("alice@example.org");
    r.mutable_credential()->set_password(password);
    return r;
  }

  pb::Record Create(const std::string& token, const pb::Record& record,
                    const std::string& id = "") {
    pb::CreateRecordRequest req;
    *req.mutable_record() = record;
    req.set_record_id(id);
    pb::CreateRecordResponse resp;
    grpc::Status s = records_->CreateRecord(Ctx(token).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.record();
  }

  grpc::Status Update(const std::string& token, pb::Record record, uint64_t expected,
                      pb::Record* out = nullptr) {
    pb::UpdateRecordRequest req;
    *req.mutable_record() = std::move(record);
    req.set_expected_version(expected);
    pb::UpdateRecordResponse resp;
    grpc::Status s = records_->UpdateRecord(Ctx(token).get(), req, &resp);
    if (out != nullptr) *out = resp.record();
    return s;
  }

  // One UploadFile call: `meta` first (unless null), then `pieces` as chunk messages, then
  // half-close. `extra` messages (if any) are sent right after the metadata.
  grpc::Status Upload(const std::string& token, const pb::UploadFileMetadata* meta,
                      const std::vector<std::string>& pieces, pb::UploadFileResponse* out,
                      const std::vector<pb::UploadFileRequest>& extra = {}) {
    auto ctx = Ctx(token);
    pb::UploadFileResponse resp;
    std::unique_ptr<grpc::ClientWriter<pb::UploadFileRequest>> w =
        files_->UploadFile(ctx.get(), &resp);
    pb::UploadFileRequest msg;
    if (meta != nullptr) {
      *msg.mutable_metadata() = *meta;
      w->Write(msg);
    }
    for (const pb::UploadFileRequest& e : extra) w->Write(e);
    for (const std::string& p : pieces) {
      msg.set_chunk(p);
      if (!w->Write(msg)) break;  // the server already answered
    }
    w->WritesDone();
    grpc::Status s = w->Finish();
    if (out != nullptr) *out = resp;
    return s;
  }

  static pb::UploadFileMetadata FileMeta(const std::string& content, const std::string& name) {
    pb::UploadFileMetadata m;
    m.set_file_name(name);
    m.set_size_bytes(content.size());
    m.set_sha256_hex(crypto::HexEncode(crypto::Sha256(content)));
    return m;
  }

  static std::vector<std::string> Pieces(const std::string& content, size_t piece) {
    std::vector<std::string> out;
    for (size_t at = 0; at < content.size(); at += piece) out.push_back(content.substr(at, piece));
    return out;
  }

  // DownloadFile: the info message and the concatenated chunks (and each chunk's size).
  grpc::Status Download(const std::string& token, const std::string& blob_id, pb::FileInfo* info,
                        std::string* content, std::vector<size_t>* sizes = nullptr) {
    pb::DownloadFileRequest req;
    req.set_blob_id(blob_id);
    auto ctx = Ctx(token);
    auto reader = files_->DownloadFile(ctx.get(), req);
    pb::DownloadFileResponse msg;
    bool first = true;
    while (reader->Read(&msg)) {
      if (first) {
        EXPECT_TRUE(msg.has_info()) << "the first message is the info";
        *info = msg.info();
        first = false;
        continue;
      }
      EXPECT_EQ(msg.data_case(), pb::DownloadFileResponse::kChunk);
      content->append(msg.chunk());
      if (sizes != nullptr) sizes->push_back(msg.chunk().size());
    }
    return reader->Finish();
  }

  int64_t Count(const std::string& sql) {
    pqxx::connection conn(db_->dsn());
    pqxx::nontransaction txn(conn);
    return txn.exec(sql)[0][0].as<int64_t>();
  }

  bool with_vault_scope_ = true;  // Token() adds the scope the vault requires
  std::unique_ptr<testing::PgTestDatabase> db_;
  std::optional<crypto::Ed25519PrivateKey> key_;
  auth::StaticJwksSource jwks_;
  std::unique_ptr<app::VaultApp> app_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::RecordService::Stub> records_;
  std::unique_ptr<pb::SpaceService::Stub> spaces_;
  std::unique_ptr<pb::AdminService::Stub> admin_;
  std::unique_ptr<pb::FileService::Stub> files_;
  std::string alice_, bob_;
};

TEST_F(VaultGrpcPgTest, EveryRecordRpcRoundTrips) {
  // Create with a client-chosen id; a retry with the same content is idempotent.
  const std::string id = "0f0e0d0c-0b0a-4908-8706-050403020100";
  pb::Record created = Create(alice_, Credential("bank"), id);
  EXPECT_EQ(created.id(), id);
  EXPECT_EQ(created.version(), 1u);
  EXPECT_EQ(created.origin_shard(), "shard-a");
  EXPECT_EQ(created.vector().counters().at("shard-a"), 1u);
  EXPECT_GT(created.hlc().physical_ms(), 0u);
  EXPECT_EQ(Create(alice_, Credential("bank"), id).version(), 1u);
  {
    pb::CreateRecordRequest req;
    *req.mutable_record() = Credential("other");
    req.set_record_id(id);
    pb::CreateRecordResponse resp;
    EXPECT_EQ(records_->CreateRecord(Ctx(alice_).get(), req, &resp).error_code(),
              grpc::StatusCode::ALREADY_EXISTS);
  }

  // Get.
  pb::GetRecordRequest get;
  get.set_id(id);
  pb::GetRecordResponse got;
  ASSERT_TRUE(records_->GetRecord(Ctx(alice_).get(), get, &got).ok());
  EXPECT_EQ(got.record().credential().password(), "pw");
  EXPECT_EQ(got.record().metadata().at("site"), kMarkerMeta);

  // Update with check-and-set.
  pb::Record next = Credential("bank", "pw2");
  next.set_id(id);
  pb::Record v2;
  ASSERT_TRUE(Update(alice_, next, 1, &v2).ok());
  EXPECT_EQ(v2.version(), 2u);
  grpc::Status stale = Update(alice_, next, 1);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(stale.error_message(), HasSubstr("current version is 2"));

  // Search.
  pb::SearchRecordsRequest search;
  search.set_query("BANK");
  pb::SearchRecordsResponse found;
  ASSERT_TRUE(records_->SearchRecords(Ctx(alice_).get(), search, &found).ok());
  ASSERT_EQ(found.records_size(), 1);

  // Versions, GetVersion, Restore.
  pb::ListRecordVersionsRequest versions_req;
  versions_req.set_id(id);
  pb::ListRecordVersionsResponse versions;
  ASSERT_TRUE(records_->ListRecordVersions(Ctx(alice_).get(), versions_req, &versions).ok());
  ASSERT_EQ(versions.versions_size(), 2);
  EXPECT_EQ(versions.versions(0).version(), 2u);
  pb::GetRecordVersionRequest gv;
  gv.set_id(id);
  gv.set_version(1);
  pb::GetRecordVersionResponse v1;
  ASSERT_TRUE(records_->GetRecordVersion(Ctx(alice_).get(), gv, &v1).ok());
  EXPECT_EQ(v1.record().credential().password(), "pw");
  pb::RestoreRecordVersionRequest restore;
  restore.set_id(id);
  restore.set_version(1);
  restore.set_expected_version(2);
  pb::RestoreRecordVersionResponse restored;
  ASSERT_TRUE(records_->RestoreRecordVersion(Ctx(alice_).get(), restore, &restored).ok());
  EXPECT_EQ(restored.record().version(), 3u);
  EXPECT_EQ(restored.record().credential().password(), "pw");

  // Delete to trash, list the trash, undelete, delete again, purge.
  pb::DeleteRecordRequest del;
  del.set_id(id);
  del.set_expected_version(3);
  pb::DeleteRecordResponse deleted;
  ASSERT_TRUE(records_->DeleteRecord(Ctx(alice_).get(), del, &deleted).ok());
  EXPECT_TRUE(deleted.record().deleted());
  pb::ListRecordsRequest list;
  list.mutable_filter()->set_in_trash(true);
  pb::ListRecordsResponse trash;
  ASSERT_TRUE(records_->ListRecords(Ctx(alice_).get(), list, &trash).ok());
  ASSERT_EQ(trash.records_size(), 1);
  pb::UndeleteRecordRequest undel;
  undel.set_id(id);
  undel.set_expected_version(4);
  pb::UndeleteRecordResponse undeleted;
  ASSERT_TRUE(records_->UndeleteRecord(Ctx(alice_).get(), undel, &undeleted).ok());
  EXPECT_FALSE(undeleted.record().deleted());
  del.set_expected_version(5);
  ASSERT_TRUE(records_->DeleteRecord(Ctx(alice_).get(), del, &deleted).ok());
  pb::PurgeRecordRequest purge;
  purge.set_id(id);
  purge.set_expected_version(6);
  pb::PurgeRecordResponse purged;
  ASSERT_TRUE(records_->PurgeRecord(Ctx(alice_).get(), purge, &purged).ok());
  EXPECT_EQ(records_->GetRecord(Ctx(alice_).get(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Count("SELECT count(*) FROM record_history WHERE record_id = '" + id + "'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM records WHERE purged AND name_ct IS NULL"), 1);

  // OTP code, server-side.
  pb::Record otp;
  otp.set_type(pb::RECORD_TYPE_OTP);
  otp.set_name("2fa");
  otp.mutable_otp()->set_secret_base32(domain::Base32Encode("12345678901234567890"));
  otp.mutable_otp()->set_kind(pb::OTP_KIND_HOTP);
  pb::Record otp_record = Create(alice_, otp);
  pb::GetOtpCodeRequest code_req;
  code_req.set_id(otp_record.id());
  pb::GetOtpCodeResponse code;
  ASSERT_TRUE(records_->GetOtpCode(Ctx(alice_).get(), code_req, &code).ok());
  EXPECT_EQ(code.code(), "755224");
  ASSERT_TRUE(records_->GetOtpCode(Ctx(alice_).get(), code_req, &code).ok());
  EXPECT_EQ(code.code(), "287082");

  // Conflicts: none on a single shard.
  pb::ListConflictsRequest conflicts_req;
  pb::ListConflictsResponse conflicts;
  ASSERT_TRUE(records_->ListConflicts(Ctx(alice_).get(), conflicts_req, &conflicts).ok());
  EXPECT_EQ(conflicts.conflicts_size(), 0);

  // Spaces: the personal space exists and is the caller's.
  pb::ListSpacesResponse spaces;
  ASSERT_TRUE(spaces_->ListSpaces(Ctx(alice_).get(), pb::ListSpacesRequest(), &spaces).ok());
  ASSERT_EQ(spaces.spaces_size(), 1);
  EXPECT_TRUE(spaces.spaces(0).personal());
  EXPECT_EQ(spaces.spaces(0).role(), pb::ROLE_OWNER);
  EXPECT_EQ(spaces.spaces(0).id(), otp_record.space_id());
  pb::GetSpaceRequest space_req;
  space_req.set_space_id(otp_record.space_id());
  pb::GetSpaceResponse space;
  ASSERT_TRUE(spaces_->GetSpace(Ctx(alice_).get(), space_req, &space).ok());
  EXPECT_EQ(spaces_->GetSpace(Ctx(bob_).get(), space_req, &space).error_code(),
            grpc::StatusCode::NOT_FOUND);
  pb::CreateSpaceResponse created_space;
  grpc::Status unnamed =
      spaces_->CreateSpace(Ctx(alice_).get(), pb::CreateSpaceRequest(), &created_space);
  EXPECT_EQ(unnamed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(unnamed.error_message(), "name: required");
}

TEST_F(VaultGrpcPgTest, AuthenticationAndAdminScope) {
  pb::PingResponse pong;
  EXPECT_TRUE(admin_->Ping(Ctx(alice_).get(), pb::PingRequest(), &pong).ok());
  EXPECT_EQ(admin_->Ping(Ctx("").get(), pb::PingRequest(), &pong).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      admin_->Ping(Ctx(Token("alice", {}, -3600)).get(), pb::PingRequest(), &pong).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  COFFER_ASSERT_OK_AND_ASSIGN(auto forger, crypto::Ed25519PrivateKey::Generate());
  EXPECT_EQ(admin_->Ping(Ctx(Token("alice", {}, 3600, &forger)).get(), pb::PingRequest(), &pong)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      admin_->Ping(Ctx(Token("alice", {}, 3600, nullptr, "other")).get(), pb::PingRequest(), &pong)
          .error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(admin_->Ping(Ctx("not.a.jwt").get(), pb::PingRequest(), &pong).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  pb::ListRecordsResponse list;
  EXPECT_EQ(records_->ListRecords(Ctx("").get(), pb::ListRecordsRequest(), &list).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  pb::Record r = Create(alice_, Credential("x"));
  pb::GetSpaceDigestRequest digest_req;
  digest_req.set_space_id(r.space_id());
  pb::GetSpaceDigestResponse digest;
  EXPECT_EQ(admin_->GetSpaceDigest(Ctx(alice_).get(), digest_req, &digest).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  const std::string admin = Token("ops", {"vault.admin"});
  ASSERT_TRUE(admin_->GetSpaceDigest(Ctx(admin).get(), digest_req, &digest).ok());
  EXPECT_EQ(digest.digest_hex().size(), 64u);
  EXPECT_EQ(digest.record_count(), 1u);
  pb::GetShardStatusResponse status;
  EXPECT_EQ(
      admin_->GetShardStatus(Ctx(alice_).get(), pb::GetShardStatusRequest(), &status).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(admin_->GetShardStatus(Ctx(admin).get(), pb::GetShardStatusRequest(), &status).ok());
  EXPECT_EQ(status.shard_id(), "shard-a");
  EXPECT_EQ(status.outbox_backlog(), 1u);

  // Without Kafka the shard runs alone: no leadership, no partitions.
  EXPECT_FALSE(status.is_relay_leader());
  EXPECT_FALSE(status.is_consumer_leader());
  EXPECT_EQ(status.partitions_size(), 0);

  // The change feed works standalone (sync_pg_test covers it across shards).
  auto sync = pb::SyncService::NewStub(channel_);
  pb::SyncResponse sync_resp;
  ASSERT_TRUE(sync->Sync(Ctx(alice_).get(), pb::SyncRequest(), &sync_resp).ok());
  EXPECT_EQ(sync_resp.changes_size(), 1);
  EXPECT_FALSE(sync_resp.reset());
  // A token minted for another service (identity's admin token) cannot read vaults: the vault
  // requires its own scope (issue 17). vault.admin tokens pass for the admin RPCs.
  with_vault_scope_ = false;
  const std::string foreign = Token("alice", {"identity.admin", "identity.introspect"});
  with_vault_scope_ = true;
  pb::ListRecordsResponse foreign_list;
  grpc::Status refused =
      records_->ListRecords(Ctx(foreign).get(), pb::ListRecordsRequest(), &foreign_list);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("\"vault\" scope"), std::string::npos);
}

TEST_F(VaultGrpcPgTest, AnotherUserGetsNotFoundFromEveryRpc) {
  pb::Record r = Create(alice_, Credential("mine"));
  const int64_t outbox = Count("SELECT count(*) FROM outbox");
  auto nf = grpc::StatusCode::NOT_FOUND;
  pb::GetRecordRequest get;
  get.set_id(r.id());
  pb::GetRecordResponse got;
  EXPECT_EQ(records_->GetRecord(Ctx(bob_).get(), get, &got).error_code(), nf);
  pb::Record upd = Credential("stolen");
  upd.set_id(r.id());
  EXPECT_EQ(Update(bob_, upd, 1).error_code(), nf);
  pb::DeleteRecordRequest del;
  del.set_id(r.id());
  del.set_expected_version(1);
  pb::DeleteRecordResponse deleted;
  EXPECT_EQ(records_->DeleteRecord(Ctx(bob_).get(), del, &deleted).error_code(), nf);
  pb::UndeleteRecordRequest undel;
  undel.set_id(r.id());
  undel.set_expected_version(1);
  pb::UndeleteRecordResponse undeleted;
  EXPECT_EQ(records_->UndeleteRecord(Ctx(bob_).get(), undel, &undeleted).error_code(), nf);
  pb::PurgeRecordRequest purge;
  purge.set_id(r.id());
  purge.set_expected_version(1);
  pb::PurgeRecordResponse purged;
  EXPECT_EQ(records_->PurgeRecord(Ctx(bob_).get(), purge, &purged).error_code(), nf);
  pb::ListRecordVersionsRequest lv;
  lv.set_id(r.id());
  pb::ListRecordVersionsResponse versions;
  EXPECT_EQ(records_->ListRecordVersions(Ctx(bob_).get(), lv, &versions).error_code(), nf);
  pb::GetRecordVersionRequest gv;
  gv.set_id(r.id());
  gv.set_version(1);
  pb::GetRecordVersionResponse version;
  EXPECT_EQ(records_->GetRecordVersion(Ctx(bob_).get(), gv, &version).error_code(), nf);
  pb::RestoreRecordVersionRequest restore;
  restore.set_id(r.id());
  restore.set_version(1);
  restore.set_expected_version(1);
  pb::RestoreRecordVersionResponse restored;
  EXPECT_EQ(records_->RestoreRecordVersion(Ctx(bob_).get(), restore, &restored).error_code(), nf);
  pb::GetOtpCodeRequest otp;
  otp.set_id(r.id());
  pb::GetOtpCodeResponse code;
  EXPECT_EQ(records_->GetOtpCode(Ctx(bob_).get(), otp, &code).error_code(), nf);
  pb::ListRecordsRequest list;
  list.set_space_id(r.space_id());
  pb::ListRecordsResponse listed;
  EXPECT_EQ(records_->ListRecords(Ctx(bob_).get(), list, &listed).error_code(), nf);
  pb::SearchRecordsRequest search;
  search.set_space_id(r.space_id());
  search.set_query("mine");
  pb::SearchRecordsResponse found;
  EXPECT_EQ(records_->SearchRecords(Ctx(bob_).get(), search, &found).error_code(), nf);
  pb::ListConflictsRequest conflicts;
  conflicts.set_space_id(r.space_id());
  pb::ListConflictsResponse conflicted;
  EXPECT_EQ(records_->ListConflicts(Ctx(bob_).get(), conflicts, &conflicted).error_code(), nf);
  pb::CreateRecordRequest create;
  *create.mutable_record() = Credential("intruder");
  create.mutable_record()->set_space_id(r.space_id());
  pb::CreateRecordResponse created;
  EXPECT_EQ(records_->CreateRecord(Ctx(bob_).get(), create, &created).error_code(), nf);
  // Bob's own listing does not show Alice's record.
  ASSERT_TRUE(records_->ListRecords(Ctx(bob_).get(), pb::ListRecordsRequest(), &listed).ok());
  EXPECT_EQ(listed.records_size(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), outbox);
  EXPECT_EQ(Count("SELECT max(version) FROM records"), 1);
}

TEST_F(VaultGrpcPgTest, MalformedInputIsInvalidArgumentNamingTheFieldAndChangesNothing) {
  pb::Record r = Create(alice_, Credential("ok"));
  const int64_t outbox = Count("SELECT count(*) FROM outbox");
  auto expect_field = [&](const grpc::Status& s, const std::string& field) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_THAT(s.error_message(), StartsWith(field)) << s.error_message();
  };
  pb::CreateRecordRequest req;
  pb::CreateRecordResponse resp;
  *req.mutable_record() = Credential("");
  expect_field(records_->CreateRecord(Ctx(alice_).get(), req, &resp), "record.name");
  *req.mutable_record() = Credential("x");
  req.mutable_record()->set_type(pb::RECORD_TYPE_CARD);
  expect_field(records_->CreateRecord(Ctx(alice_).get(), req, &resp), "record.type");
  req.mutable_record()->set_type(pb::RECORD_TYPE_CARD);
  req.mutable_record()->mutable_card()->set_number("4111111111111112");
  expect_field(records_->CreateRecord(Ctx(alice_).get(), req, &resp), "record.card.number");
  *req.mutable_record() = Credential("x");
  req.set_record_id("nope");
  expect_field(records_->CreateRecord(Ctx(alice_).get(), req, &resp), "record_id");
  pb::Record bad = Credential(std::string(300, 'n'));
  bad.set_id(r.id());
  expect_field(Update(alice_, bad, 1), "record.name");
  pb::GetRecordRequest get;
  get.set_id("not-a-uuid");
  pb::GetRecordResponse got;
  expect_field(records_->GetRecord(Ctx(alice_).get(), get, &got), "id");
  get.set_id(r.id());
  get.set_consistency_token("s1.7.MalformedTokenMarker");
  grpc::Status bad_token = records_->GetRecord(Ctx(alice_).get(), get, &got);
  expect_field(bad_token, "consistency_token");
  EXPECT_THAT(bad_token.error_message(), Not(HasSubstr("MalformedTokenMarker")));
  pb::ListRecordsRequest list;
  list.set_page_token("bogus");
  pb::ListRecordsResponse listed;
  expect_field(records_->ListRecords(Ctx(alice_).get(), list, &listed), "page_token");
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), outbox);
  EXPECT_EQ(Count("SELECT count(*) FROM records"), 1);
  EXPECT_EQ(Count("SELECT max(version) FROM records"), 1);
}

TEST_F(VaultGrpcPgTest, ConcurrentUpdatesWithSameExpectedVersionExactlyOneWins) {
  for (int round = 0; round < 10; ++round) {
    pb::Record r = Create(alice_, Credential("race" + std::to_string(round)));
    std::atomic<int> ok{0}, precondition{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; ++w) {
      writers.emplace_back([&, w] {
        pb::Record next = Credential("race", "writer" + std::to_string(w));
        next.set_id(r.id());
        grpc::Status s = Update(alice_, next, 1);
        if (s.ok()) ++ok;
        if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) ++precondition;
      });
    }
    for (auto& t : writers) t.join();
    EXPECT_EQ(ok.load(), 1) << "round " << round;
    EXPECT_EQ(precondition.load(), 1) << "round " << round;
    EXPECT_EQ(Count("SELECT version FROM records WHERE record_id = '" + r.id() + "'"), 2);
    EXPECT_EQ(Count("SELECT count(*) FROM record_history WHERE record_id = '" + r.id() + "'"), 2);
  }
}

TEST_F(VaultGrpcPgTest, PaginationIsStableUnderConcurrentInserts) {
  std::set<std::string> original;
  for (int i = 0; i < 30; ++i) {
    char name[16];
    std::snprintf(name, sizeof(name), "item-%02d", i);
    original.insert(Create(alice_, Credential(name)).id());
  }
  std::atomic<bool> stop{false};
  std::thread inserter([&] {
    for (int i = 0; !stop && i < 200; ++i) {
      // Names sort both before and after the pages already read.
      Create(alice_, Credential((i % 2 ? "a-new-" : "z-new-") + std::to_string(i)));
    }
  });
  std::vector<std::string> seen;
  std::string token;
  do {
    pb::ListRecordsRequest req;
    req.set_page_size(7);
    req.set_page_token(token);
    pb::ListRecordsResponse resp;
    ASSERT_TRUE(records_->ListRecords(Ctx(alice_).get(), req, &resp).ok());
    for (const auto& rec : resp.records()) seen.push_back(rec.id());
    token = resp.next_page_token();
  } while (!token.empty());
  stop = true;
  inserter.join();
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a record was returned twice";
  for (const std::string& id : original) EXPECT_EQ(unique.count(id), 1u) << id;
}

TEST_F(VaultGrpcPgTest, RetentionKeepsTheNewestRevisionsAndRestoreWritesANewOne) {
  pb::Record r = Create(alice_, Credential("kept", "p1"));
  for (uint64_t v = 1; v < 6; ++v) {
    pb::Record next = Credential("kept", "p" + std::to_string(v + 1));
    next.set_id(r.id());
    ASSERT_TRUE(Update(alice_, next, v).ok());
  }
  EXPECT_EQ(Count("SELECT count(*) FROM record_history WHERE record_id = '" + r.id() + "'"), 3);
  pb::ListRecordVersionsRequest lv;
  lv.set_id(r.id());
  lv.set_page_size(2);
  pb::ListRecordVersionsResponse page1, page2;
  ASSERT_TRUE(records_->ListRecordVersions(Ctx(alice_).get(), lv, &page1).ok());
  ASSERT_EQ(page1.versions_size(), 2);
  EXPECT_EQ(page1.versions(0).version(), 6u);
  lv.set_page_token(page1.next_page_token());
  ASSERT_TRUE(records_->ListRecordVersions(Ctx(alice_).get(), lv, &page2).ok());
  ASSERT_EQ(page2.versions_size(), 1);
  EXPECT_EQ(page2.versions(0).version(), 4u);
  EXPECT_TRUE(page2.next_page_token().empty());

  pb::GetRecordVersionRequest gv;
  gv.set_id(r.id());
  gv.set_version(2);
  pb::GetRecordVersionResponse dropped;
  EXPECT_EQ(records_->GetRecordVersion(Ctx(alice_).get(), gv, &dropped).error_code(),
            grpc::StatusCode::NOT_FOUND);
  pb::RestoreRecordVersionRequest restore;
  restore.set_id(r.id());
  restore.set_version(4);
  restore.set_expected_version(6);
  pb::RestoreRecordVersionResponse restored;
  ASSERT_TRUE(records_->RestoreRecordVersion(Ctx(alice_).get(), restore, &restored).ok());
  EXPECT_EQ(restored.record().version(), 7u);
  EXPECT_EQ(restored.record().credential().password(), "p4");
}

TEST_F(VaultGrpcPgTest, NothingSecretIsStoredInPlaintext) {
  pb::Record r = Credential(kMarkerName, kMarkerSecret);
  pb::Record created = Create(alice_, r);
  pb::Record next = Credential(kMarkerName, std::string(kMarkerSecret) + "2");
  next.set_id(created.id());
  ASSERT_TRUE(Update(alice_, next, 1).ok());

  pqxx::connection conn(db_->dsn());
  pqxx::nontransaction txn(conn);
  const std::vector<std::string> markers = {kMarkerName, kMarkerSecret, kMarkerMeta,
                                            "alice@example.org"};
  int rows = 0;
  for (const char* table : {"records", "record_siblings", "record_history", "outbox"}) {
    // The whole row as text (bytea appears hex-encoded), plus the raw ciphertext bytes.
    pqxx::result result = txn.exec(std::string("SELECT t::text, name_ct, metadata_ct, payload_ct "
                                               "FROM ") +
                                   table + " t");
    for (const auto& row : result) {
      ++rows;
      std::string text = row[0].as<std::string>();
      for (const std::string& m : markers) {
        EXPECT_EQ(text.find(m), std::string::npos) << table << " row text holds " << m;
        EXPECT_EQ(text.find(crypto::HexEncode(m)), std::string::npos) << table << " hex " << m;
        for (int col = 1; col <= 3; ++col) {
          std::string bytes = pqxx::binarystring(row[col]).str();
          EXPECT_EQ(bytes.find(m), std::string::npos) << table << " column " << col;
        }
      }
    }
  }
  EXPECT_EQ(rows, 1 + 2 + 2);  // head, two history rows, two outbox rows
  // ... and the API still returns the plaintext.
  pb::GetRecordRequest get;
  get.set_id(created.id());
  pb::GetRecordResponse got;
  ASSERT_TRUE(records_->GetRecord(Ctx(alice_).get(), get, &got).ok());
  EXPECT_EQ(got.record().credential().password(), std::string(kMarkerSecret) + "2");
}

// Every write answers with a session token; a GetRecord with it is served (from the head cache
// when its copy is new enough), and unchanged records are served from memory, counted. Writes
// start from the replica's copy (after a create, a read or a write of this replica) without a
// read, and PostgreSQL's check-and-set accepts them: counted as used, never stale here.
TEST_F(VaultGrpcPgTest, WritesReturnSessionTokensAndGetsUseTheHeadCache) {
  httplib::Client admin("127.0.0.1", app_->admin_port());
  auto counter = [&](const std::string& name) {
    auto metrics = admin.Get("/metrics");
    EXPECT_TRUE(metrics);
    if (!metrics) return -1.0;
    const size_t at = metrics->body.find("\n" + name + " ");
    EXPECT_NE(at, std::string::npos) << name;
    return at == std::string::npos ? -1.0 : std::stod(metrics->body.substr(at + name.size() + 2));
  };
  const std::string used = R"(coffer_vault_write_guesses_total{outcome="used"})";
  const std::string stale = R"(coffer_vault_write_guesses_total{outcome="stale"})";
  const double used_before = counter(used);
  const double stale_before = counter(stale);
  pb::CreateRecordRequest create;
  *create.mutable_record() = Credential("cached");
  pb::CreateRecordResponse created;
  ASSERT_TRUE(records_->CreateRecord(Ctx(alice_).get(), create, &created).ok());
  EXPECT_THAT(created.consistency_token(), StartsWith("s1."));
  pb::Record r = created.record();
  pb::UpdateRecordResponse updated;
  {
    pb::UpdateRecordRequest req;
    *req.mutable_record() = Credential("cached", "new password");
    req.mutable_record()->set_id(r.id());
    req.set_expected_version(1);
    ASSERT_TRUE(records_->UpdateRecord(Ctx(alice_).get(), req, &updated).ok());
  }
  EXPECT_THAT(updated.consistency_token(), StartsWith("s1."));
  EXPECT_NE(updated.consistency_token(), created.consistency_token());

  const double hits = counter("coffer_vault_head_cache_hits_total");
  const double misses = counter("coffer_vault_head_cache_misses_total");
  pb::GetRecordRequest get;
  get.set_id(r.id());
  get.set_consistency_token(updated.consistency_token());
  for (int i = 0; i < 3; ++i) {
    pb::GetRecordResponse got;
    ASSERT_TRUE(records_->GetRecord(Ctx(alice_).get(), get, &got).ok());
    EXPECT_EQ(got.record().version(), 2u);
    EXPECT_EQ(got.record().credential().password(), "new password");
  }
  // The first read after the update refilled the entry; the other two came from memory.
  EXPECT_EQ(counter("coffer_vault_head_cache_misses_total"), misses + 1);
  EXPECT_EQ(counter("coffer_vault_head_cache_hits_total"), hits + 2);
  // Another user's Get never reaches the cache: membership is checked first.
  pb::GetRecordResponse other;
  EXPECT_EQ(records_->GetRecord(Ctx(bob_).get(), get, &other).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(counter("coffer_vault_head_cache_hits_total"), hits + 2);

  // Purge answers with a token too.
  pb::DeleteRecordRequest del;
  del.set_id(r.id());
  del.set_expected_version(2);
  pb::DeleteRecordResponse deleted;
  ASSERT_TRUE(records_->DeleteRecord(Ctx(alice_).get(), del, &deleted).ok());
  pb::PurgeRecordRequest purge;
  purge.set_id(r.id());
  purge.set_expected_version(3);
  pb::PurgeRecordResponse purged;
  ASSERT_TRUE(records_->PurgeRecord(Ctx(alice_).get(), purge, &purged).ok());
  EXPECT_THAT(purged.consistency_token(), StartsWith("s1."));
  // Update (from the create's copy), delete (from the Get's), purge (from the delete's).
  EXPECT_EQ(counter(used), used_before + 3);
  EXPECT_EQ(counter(stale), stale_before);
  get.set_consistency_token(purged.consistency_token());
  pb::GetRecordResponse gone;
  EXPECT_EQ(records_->GetRecord(Ctx(alice_).get(), get, &gone).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(VaultGrpcPgTest, MetricsAndReadiness) {
  Create(alice_, Credential("counted"));
  pb::PingResponse pong;
  admin_->Ping(Ctx("").get(), pb::PingRequest(), &pong);
  httplib::Client admin("127.0.0.1", app_->admin_port());
  auto ready = admin.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              HasSubstr("coffer_vault_records_written_total{op=\"create\",type=\"credential\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("coffer_vault_auth_failures_total{reason=\"missing\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("CreateRecord"));
  EXPECT_EQ(metrics->body.find(alice_), std::string::npos);
}

// The REST/JSON face serves the same handlers with the same authentication and isolation.
TEST_F(VaultGrpcPgTest, RestGatewayServesRecordsWithTheSameAuthAndIsolation) {
  ASSERT_GT(app_->rest_port(), 0);
  httplib::Client http("127.0.0.1", app_->rest_port());
  const httplib::Headers as_alice = {{"Authorization", "Bearer " + alice_}};
  const httplib::Headers as_bob = {{"Authorization", "Bearer " + bob_}};

  auto created = http.Post("/v1/records", as_alice,
                           R"({"record":{"type":"RECORD_TYPE_TEXT","name":"rest note",)"
                           R"("metadata":{"via":"rest"},"text":{"text":"hello over http"}}})",
                           "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 200) << created->body;
  nlohmann::json record = nlohmann::json::parse(created->body)["record"];
  const std::string id = record["id"];
  EXPECT_EQ(record["version"], "1");  // uint64 is a JSON string in proto3 JSON

  auto got = http.Get("/v1/records/" + id, as_alice);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200) << got->body;
  EXPECT_EQ(nlohmann::json::parse(got->body)["record"]["text"]["text"], "hello over http");

  auto listed = http.Get("/v1/records?page_size=10", as_alice);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->status, 200) << listed->body;
  EXPECT_EQ(nlohmann::json::parse(listed->body)["records"].size(), 1u);

  auto other_user = http.Get("/v1/records/" + id, as_bob);
  ASSERT_TRUE(other_user);
  EXPECT_EQ(other_user->status, 404) << other_user->body;

  auto anonymous = http.Get("/v1/records/" + id);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401) << anonymous->body;

  auto invalid = http.Post("/v1/records", as_alice,
                           R"({"record":{"type":"RECORD_TYPE_CARD","name":"c",)"
                           R"("card":{"number":"4111111111111112"}}})",
                           "application/json");
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->status, 400) << invalid->body;
  EXPECT_THAT(std::string(nlohmann::json::parse(invalid->body)["message"]), HasSubstr("card"));
}

}  // namespace
}  // namespace coffer::vault

namespace coffer::vault {
namespace {

constexpr char kFileMarker[] = "FileContentMarker";

TEST_F(VaultGrpcPgTest, FileUploadAndDownloadRoundTripAcrossChunkBoundaries) {
  // 600 KiB + 17 bytes sent in 100 KiB pieces: stored as 256 KiB chunks (3 of them).
  std::string content = crypto::RandomBytes(600 * 1024 + 17 - sizeof(kFileMarker) + 1);
  content += kFileMarker;
  const pb::UploadFileMetadata meta = FileMeta(content, "report.pdf");
  pb::UploadFileResponse up;
  ASSERT_TRUE(Upload(alice_, &meta, Pieces(content, 100 * 1024), &up).ok());
  EXPECT_EQ(up.size_bytes(), content.size());
  EXPECT_EQ(up.sha256_hex(), meta.sha256_hex());
  EXPECT_FALSE(up.has_record());

  pb::GetFileInfoRequest info_req;
  info_req.set_blob_id(up.blob_id());
  pb::GetFileInfoResponse info;
  ASSERT_TRUE(files_->GetFileInfo(Ctx(alice_).get(), info_req, &info).ok());
  EXPECT_EQ(info.info().blob_id(), up.blob_id());
  EXPECT_EQ(info.info().file_name(), "report.pdf");
  EXPECT_EQ(info.info().content_type(), "application/octet-stream");
  EXPECT_EQ(info.info().chunk_count(), 3u);
  EXPECT_EQ(info.info().size_bytes(), content.size());
  EXPECT_GT(info.info().create_time().seconds(), 0);

  pb::FileInfo got_info;
  std::string got;
  std::vector<size_t> sizes;
  ASSERT_TRUE(Download(alice_, up.blob_id(), &got_info, &got, &sizes).ok());
  EXPECT_EQ(got_info.sha256_hex(), meta.sha256_hex());
  EXPECT_EQ(got, content);
  EXPECT_THAT(sizes, ::testing::ElementsAre(262144, 262144, content.size() - 2 * 262144));

  // The same content again, under another name and in other pieces: the same blob, stored once.
  pb::UploadFileMetadata again = FileMeta(content, "copy.pdf");
  again.set_content_type("application/pdf");
  pb::UploadFileResponse up2;
  ASSERT_TRUE(Upload(alice_, &again, Pieces(content, 7000), &up2).ok());
  EXPECT_EQ(up2.blob_id(), up.blob_id());
  EXPECT_EQ(Count("SELECT count(*) FROM blobs"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM blob_chunks"), 3);
  // Another user's identical content is another blob: ids are addressed per space.
  pb::UploadFileResponse bobs;
  ASSERT_TRUE(Upload(bob_, &meta, Pieces(content, 262144), &bobs).ok());
  EXPECT_NE(bobs.blob_id(), up.blob_id());

  // An empty file: metadata only; the download is the info alone.
  const pb::UploadFileMetadata empty = FileMeta("", "empty.txt");
  pb::UploadFileResponse up_empty;
  ASSERT_TRUE(Upload(alice_, &empty, {}, &up_empty).ok());
  std::string none;
  ASSERT_TRUE(Download(alice_, up_empty.blob_id(), &got_info, &none).ok());
  EXPECT_EQ(got_info.chunk_count(), 0u);
  EXPECT_TRUE(none.empty());

  // At rest: neither the content, the file name nor the SHA-256 in plaintext.
  pqxx::connection conn(db_->dsn());
  pqxx::nontransaction txn(conn);
  int rows = 0;
  for (const auto& row : txn.exec("SELECT b::text, info_ct FROM blobs b")) {
    ++rows;
    const std::string text = row[0].as<std::string>();
    const std::string ct = pqxx::binarystring(row[1]).str();
    for (const std::string& m : {std::string("report.pdf"), meta.sha256_hex()}) {
      EXPECT_EQ(text.find(m), std::string::npos) << m;
      EXPECT_EQ(text.find(crypto::HexEncode(m)), std::string::npos) << m;
      EXPECT_EQ(ct.find(m), std::string::npos) << m;
    }
  }
  EXPECT_EQ(rows, 3);
  for (const auto& row : txn.exec("SELECT chunk_ct FROM blob_chunks")) {
    EXPECT_EQ(pqxx::binarystring(row[0]).str().find(kFileMarker), std::string::npos);
  }
}

TEST_F(VaultGrpcPgTest, FileUploadRejectsBadInputAndStoresNothing) {
  const std::string content = "hello, file";
  const pb::UploadFileMetadata good = FileMeta(content, "a.txt");
  auto code = [&](const pb::UploadFileMetadata* meta, const std::vector<std::string>& pieces,
                  const std::vector<pb::UploadFileRequest>& extra = {}) {
    grpc::Status s = Upload(alice_, meta, pieces, nullptr, extra);
    return std::make_pair(s.error_code(), s.error_message());
  };
  using C = grpc::StatusCode;
  pb::UploadFileMetadata m = good;
  m.set_sha256_hex(crypto::HexEncode(crypto::Sha256("other")));
  EXPECT_EQ(code(&m, {content}).first, C::INVALID_ARGUMENT);  // content differs from the hash
  EXPECT_THAT(code(&m, {content}).second, HasSubstr("SHA-256"));
  EXPECT_EQ(code(&good, {content.substr(0, 5)}).first, C::INVALID_ARGUMENT);  // short
  EXPECT_EQ(code(&good, {content, "x"}).first, C::INVALID_ARGUMENT);          // beyond the size
  EXPECT_EQ(code(nullptr, {content}).first, C::INVALID_ARGUMENT);             // chunk first
  EXPECT_EQ(code(nullptr, {}).first, C::INVALID_ARGUMENT);                    // empty stream
  pb::UploadFileRequest meta_again;
  *meta_again.mutable_metadata() = good;
  EXPECT_EQ(code(&good, {content}, {meta_again}).first, C::INVALID_ARGUMENT);
  m = good;
  m.set_size_bytes(300 * 1024);
  m.set_sha256_hex(crypto::HexEncode(crypto::Sha256(std::string(300 * 1024, 'x'))));
  EXPECT_EQ(code(&m, {std::string(256 * 1024 + 1, 'x')}).first, C::INVALID_ARGUMENT);  // chunk
  EXPECT_EQ(code(&good, {""}).first, C::INVALID_ARGUMENT);  // an empty chunk
  for (const char* name : {"", "../etc/passwd", "dir/a.txt", "..", "tab\there"}) {
    m = good;
    m.set_file_name(name);
    auto [c, msg] = code(&m, {content});
    EXPECT_EQ(c, C::INVALID_ARGUMENT) << name;
    EXPECT_THAT(msg, HasSubstr("metadata.file_name")) << name;
  }
  m = good;
  m.set_file_name(std::string(256, 'n'));
  EXPECT_EQ(code(&m, {content}).first, C::INVALID_ARGUMENT);
  m = good;
  m.set_sha256_hex("abc");
  EXPECT_THAT(code(&m, {content}).second, HasSubstr("metadata.sha256_hex"));
  m = good;
  m.set_space_id("not-a-uuid");
  EXPECT_THAT(code(&m, {content}).second, HasSubstr("metadata.space_id"));
  m = good;
  m.set_expected_version(3);
  EXPECT_THAT(code(&m, {content}).second, HasSubstr("metadata.expected_version"));
  m = good;
  m.set_size_bytes((uint64_t{64} << 20) + 1);  // over the default --max-file-bytes
  EXPECT_EQ(code(&m, {}).first, C::RESOURCE_EXHAUSTED);

  EXPECT_EQ(Count("SELECT count(*) FROM blobs"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM blob_chunks"), 0);
  // The same stream, well-formed, then goes through.
  EXPECT_TRUE(Upload(alice_, &good, {content}, nullptr).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM blobs"), 1);
}

TEST_F(VaultGrpcPgTest, FilesOfAnotherUserAreNotFound) {
  const std::string content = "alice's file";
  const pb::UploadFileMetadata meta = FileMeta(content, "a.txt");
  pb::UploadFileResponse up;
  ASSERT_TRUE(Upload(alice_, &meta, {content}, &up).ok());
  pb::GetFileInfoRequest req;
  req.set_blob_id(up.blob_id());
  pb::GetFileInfoResponse info;
  EXPECT_EQ(files_->GetFileInfo(Ctx(bob_).get(), req, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
  req.set_blob_id("00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(files_->GetFileInfo(Ctx(alice_).get(), req, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
  req.set_blob_id("nope");
  EXPECT_EQ(files_->GetFileInfo(Ctx(alice_).get(), req, &info).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  pb::FileInfo got_info;
  std::string got;
  EXPECT_EQ(Download(bob_, up.blob_id(), &got_info, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(Download("", up.blob_id(), &got_info, &got).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Upload("", &meta, {content}, nullptr).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // Bob can neither upload into Alice's space nor attach to her record.
  pb::Record file_record;
  file_record.set_type(pb::RECORD_TYPE_FILE);
  file_record.set_name("contract");
  file_record.mutable_file()->set_file_name("contract.pdf");
  pb::Record created = Create(alice_, file_record);
  pb::UploadFileMetadata into = meta;
  into.set_space_id(created.space_id());
  EXPECT_EQ(Upload(bob_, &into, {content}, nullptr).error_code(), grpc::StatusCode::NOT_FOUND);
  into = meta;
  into.set_record_id(created.id());
  into.set_expected_version(1);
  EXPECT_EQ(Upload(bob_, &into, {content}, nullptr).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Count("SELECT count(*) FROM blobs"), 1);
}

TEST_F(VaultGrpcPgTest, UploadAttachesContentToAFileRecord) {
  pb::Record file_record;
  file_record.set_type(pb::RECORD_TYPE_FILE);
  file_record.set_name("contract");
  (*file_record.mutable_metadata())["person"] = "Bob";
  file_record.mutable_file()->set_file_name("draft.pdf");
  pb::Record created = Create(alice_, file_record);
  ASSERT_EQ(created.version(), 1u);

  const std::string content = "%PDF-1.7 signed contract";
  pb::UploadFileMetadata meta = FileMeta(content, "contract.pdf");
  meta.set_content_type("application/pdf");
  meta.set_record_id(created.id());
  meta.set_expected_version(1);
  pb::UploadFileResponse up;
  ASSERT_TRUE(Upload(alice_, &meta, {content}, &up).ok());
  ASSERT_TRUE(up.has_record());
  EXPECT_EQ(up.record().version(), 2u);
  EXPECT_EQ(up.record().name(), "contract");
  EXPECT_EQ(up.record().metadata().at("person"), "Bob");
  EXPECT_EQ(up.record().file().blob_id(), up.blob_id());
  EXPECT_EQ(up.record().file().file_name(), "contract.pdf");
  EXPECT_EQ(up.record().file().content_type(), "application/pdf");
  EXPECT_EQ(up.record().file().size_bytes(), content.size());
  EXPECT_EQ(up.record().file().sha256_hex(), meta.sha256_hex());

  // The blob belongs to the record's space, and a stale version is a check-and-set failure.
  pb::GetFileInfoRequest info_req;
  info_req.set_blob_id(up.blob_id());
  pb::GetFileInfoResponse info;
  ASSERT_TRUE(files_->GetFileInfo(Ctx(alice_).get(), info_req, &info).ok());
  EXPECT_EQ(info.info().space_id(), created.space_id());
  grpc::Status stale = Upload(alice_, &meta, {content}, nullptr);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  // A FILE record may only point at content uploaded to its own space; the answer is the same
  // for an id nobody uploaded and for another user's blob.
  pb::UploadFileResponse bobs;
  const pb::UploadFileMetadata bob_meta = FileMeta("bob's", "b.txt");
  ASSERT_TRUE(Upload(bob_, &bob_meta, {"bob's"}, &bobs).ok());
  for (const std::string& blob_id :
       {bobs.blob_id(), std::string("00000000-0000-4000-8000-000000000000"), std::string("b-1")}) {
    pb::Record ref = file_record;
    ref.mutable_file()->set_blob_id(blob_id);
    pb::CreateRecordRequest create;
    *create.mutable_record() = ref;
    pb::CreateRecordResponse created_ref;
    grpc::Status refused = records_->CreateRecord(Ctx(alice_).get(), create, &created_ref);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << blob_id;
    EXPECT_THAT(refused.error_message(), StartsWith("record.file.blob_id")) << blob_id;
  }
  pb::Record own_ref = file_record;
  own_ref.mutable_file()->set_blob_id(up.blob_id());
  own_ref.mutable_file()->set_size_bytes(content.size() + 1);
  pb::CreateRecordRequest create;
  *create.mutable_record() = own_ref;
  pb::CreateRecordResponse created_ref;
  EXPECT_THAT(records_->CreateRecord(Ctx(alice_).get(), create, &created_ref).error_message(),
              StartsWith("record.file.size_bytes"));
  own_ref.mutable_file()->set_size_bytes(content.size());
  *create.mutable_record() = own_ref;
  ASSERT_TRUE(records_->CreateRecord(Ctx(alice_).get(), create, &created_ref).ok());
  // Renaming keeps the reference as it is: not checked again.
  pb::Record renamed = up.record();
  renamed.set_name("contract (signed)");
  EXPECT_TRUE(Update(alice_, renamed, 2).ok());

  // Content attaches only to FILE records.
  pb::Record cred = Create(alice_, Credential("login"));
  meta.set_record_id(cred.id());
  meta.set_expected_version(1);
  grpc::Status wrong_type = Upload(alice_, &meta, {content}, nullptr);
  EXPECT_EQ(wrong_type.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(wrong_type.error_message(), HasSubstr("not a FILE record"));
}

}  // namespace
}  // namespace coffer::vault
