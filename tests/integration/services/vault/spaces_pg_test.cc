// Shared spaces on one shard, from outside over gRPC and REST: the authorization matrix (every
// record, sync and space RPC × owner, admin, writer, reader, removed member, non-member) and the
// rules of invitations, roles, ownership and deletion. Cross-shard convergence of membership is
// tested in sync_pg_test.cc.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "coffer/vault/v1/spaces.grpc.pb.h"
#include "coffer/vault/v1/sync.grpc.pb.h"
#include "coffer/vault/v1/vault.grpc.pb.h"
#include "pkg/auth/jwks_source.h"
#include "pkg/auth/jwt.h"
#include "pkg/crypto/ed25519.h"
#include "pkg/crypto/encoding.h"
#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/app/vault_app.h"

namespace coffer::vault {
namespace {

namespace pb = ::coffer::vault::v1;
using grpc::StatusCode;

class SpacesPgTest : public ::testing::Test {
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
    config.shutdown_grace_ms = 1000;
    config.rest_addr = "127.0.0.1:0";
    COFFER_ASSERT_OK_AND_ASSIGN(app_, app::VaultApp::Create(config, {&jwks_, nullptr}));
    COFFER_ASSERT_OK(app_->Start());
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(app_->grpc_port()),
                                       grpc::InsecureChannelCredentials());
    records_ = pb::RecordService::NewStub(channel);
    spaces_ = pb::SpaceService::NewStub(channel);
    sync_ = pb::SyncService::NewStub(channel);
  }

  void TearDown() override {
    if (app_) app_->Shutdown();
  }

  std::string Token(const std::string& subject) {
    auth::Claims claims;
    claims.iss = "coffer-identity";
    claims.sub = subject;
    claims.aud = {"coffer"};
    const int64_t now = time(nullptr);
    claims.iat = now;
    claims.exp = now + 3600;
    claims.scope = {"vault"};
    auto token = auth::SignJwt(claims, "test-key", *key_);
    EXPECT_TRUE(token.ok());
    return token.value_or("");
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& subject) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + Token(subject));
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return ctx;
  }

  std::string CreateSpace(const std::string& owner, const std::string& name) {
    pb::CreateSpaceRequest req;
    req.set_name(name);
    pb::CreateSpaceResponse resp;
    grpc::Status s = spaces_->CreateSpace(Ctx(owner).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.space().id();
  }

  grpc::Status Invite(const std::string& as, const std::string& space, const std::string& user,
                      pb::Role role, std::string* id = nullptr, int64_t ttl_seconds = 0) {
    pb::InviteMemberRequest req;
    req.set_space_id(space);
    req.set_user_id(user);
    req.set_role(role);
    req.mutable_ttl()->set_seconds(ttl_seconds);
    pb::InviteMemberResponse resp;
    grpc::Status s = spaces_->InviteMember(Ctx(as).get(), req, &resp);
    if (id != nullptr) *id = resp.invitation().id();
    return s;
  }

  grpc::Status Accept(const std::string& as, const std::string& invitation) {
    pb::AcceptInvitationRequest req;
    req.set_invitation_id(invitation);
    pb::AcceptInvitationResponse resp;
    return spaces_->AcceptInvitation(Ctx(as).get(), req, &resp);
  }

  void Join(const std::string& space, const std::string& user, pb::Role role) {
    std::string id;
    ASSERT_TRUE(Invite("alice", space, user, role, &id).ok());
    ASSERT_TRUE(Accept(user, id).ok());
  }

  grpc::Status Remove(const std::string& as, const std::string& space, const std::string& user) {
    pb::RemoveMemberRequest req;
    req.set_space_id(space);
    req.set_user_id(user);
    pb::RemoveMemberResponse resp;
    return spaces_->RemoveMember(Ctx(as).get(), req, &resp);
  }

  grpc::Status SetRole(const std::string& as, const std::string& space, const std::string& user,
                       pb::Role role) {
    pb::UpdateMemberRoleRequest req;
    req.set_space_id(space);
    req.set_user_id(user);
    req.set_role(role);
    pb::UpdateMemberRoleResponse resp;
    return spaces_->UpdateMemberRole(Ctx(as).get(), req, &resp);
  }

  pb::Record CreateText(const std::string& as, const std::string& space, const std::string& name,
                        grpc::Status* status = nullptr) {
    pb::CreateRecordRequest req;
    req.mutable_record()->set_type(pb::RECORD_TYPE_TEXT);
    req.mutable_record()->set_name(name);
    req.mutable_record()->set_space_id(space);
    req.mutable_record()->mutable_text()->set_text("t");
    pb::CreateRecordResponse resp;
    grpc::Status s = records_->CreateRecord(Ctx(as).get(), req, &resp);
    if (status != nullptr) *status = s;
    return resp.record();
  }

  std::unique_ptr<testing::PgTestDatabase> db_;
  std::optional<crypto::Ed25519PrivateKey> key_;
  auth::StaticJwksSource jwks_;
  std::unique_ptr<app::VaultApp> app_;
  std::unique_ptr<pb::RecordService::Stub> records_;
  std::unique_ptr<pb::SpaceService::Stub> spaces_;
  std::unique_ptr<pb::SyncService::Stub> sync_;
};

// One operation of the matrix: what it needs, and how a given caller runs it (a fresh target
// per caller where the operation changes something).
struct Operation {
  std::string name;
  pb::Role needed;
  std::function<grpc::Status(const std::string& caller)> run;
};

TEST_F(SpacesPgTest, AuthorizationMatrixOverEveryRoleOnGrpcAndRest) {
  const std::string space = CreateSpace("alice", "Matrix");
  const std::vector<std::pair<std::string, pb::Role>> members = {{"adm", pb::ROLE_ADMIN},
                                                                 {"wri", pb::ROLE_WRITER},
                                                                 {"rea", pb::ROLE_READER},
                                                                 {"gone", pb::ROLE_WRITER}};
  for (const auto& [user, role] : members) Join(space, user, role);
  ASSERT_TRUE(Remove("alice", space, "gone").ok());
  const pb::Record shared = CreateText("alice", space, "shared");
  // Per caller: a record to update and delete, and a reader to promote and one to remove.
  const std::vector<std::string> callers = {"alice", "adm", "wri", "rea", "gone", "eve"};
  std::map<std::string, pb::Record> own;
  for (const std::string& c : callers) {
    own[c] = CreateText("alice", space, "for " + c);
    Join(space, "promote-" + c, pb::ROLE_READER);
    Join(space, "drop-" + c, pb::ROLE_READER);
  }

  std::vector<Operation> ops = {
      {"GetRecord", pb::ROLE_READER,
       [&](const std::string& c) {
         pb::GetRecordRequest req;
         req.set_space_id(space);
         req.set_id(shared.id());
         pb::GetRecordResponse resp;
         return records_->GetRecord(Ctx(c).get(), req, &resp);
       }},
      {"ListRecords", pb::ROLE_READER,
       [&](const std::string& c) {
         pb::ListRecordsRequest req;
         req.set_space_id(space);
         pb::ListRecordsResponse resp;
         return records_->ListRecords(Ctx(c).get(), req, &resp);
       }},
      {"SearchRecords", pb::ROLE_READER,
       [&](const std::string& c) {
         pb::SearchRecordsRequest req;
         req.set_space_id(space);
         req.set_query("shared");
         pb::SearchRecordsResponse resp;
         return records_->SearchRecords(Ctx(c).get(), req, &resp);
       }},
      {"ListRecordVersions", pb::ROLE_READER,
       [&](const std::string& c) {
         pb::ListRecordVersionsRequest req;
         req.set_space_id(space);
         req.set_id(shared.id());
         pb::ListRecordVersionsResponse resp;
         return records_->ListRecordVersions(Ctx(c).get(), req, &resp);
       }},
      {"ListConflicts", pb::ROLE_READER,
       [&](const std::string& c) {
         pb::ListConflictsRequest req;
         req.set_space_id(space);
         pb::ListConflictsResponse resp;
         return records_->ListConflicts(Ctx(c).get(), req, &resp);
       }},
      {"Sync", pb::ROLE_READER,
       [&](const std::string& c) {
         pb::SyncRequest req;
         req.set_space_id(space);
         pb::SyncResponse resp;
         return sync_->Sync(Ctx(c).get(), req, &resp);
       }},
      {"GetSpace", pb::ROLE_READER,
       [&](const std::string& c) {
         pb::GetSpaceRequest req;
         req.set_space_id(space);
         pb::GetSpaceResponse resp;
         return spaces_->GetSpace(Ctx(c).get(), req, &resp);
       }},
      {"ListMembers", pb::ROLE_READER,
       [&](const std::string& c) {
         pb::ListMembersRequest req;
         req.set_space_id(space);
         pb::ListMembersResponse resp;
         return spaces_->ListMembers(Ctx(c).get(), req, &resp);
       }},
      {"CreateRecord", pb::ROLE_WRITER,
       [&](const std::string& c) {
         grpc::Status s;
         CreateText(c, space, "new by " + c, &s);
         return s;
       }},
      {"UpdateRecord", pb::ROLE_WRITER,
       [&](const std::string& c) {
         pb::UpdateRecordRequest req;
         *req.mutable_record() = own[c];
         req.mutable_record()->set_name("changed");
         req.set_expected_version(own[c].version());
         pb::UpdateRecordResponse resp;
         return records_->UpdateRecord(Ctx(c).get(), req, &resp);
       }},
      {"DeleteRecord", pb::ROLE_WRITER,
       [&](const std::string& c) {
         pb::DeleteRecordRequest req;
         req.set_space_id(space);
         req.set_id(own[c].id());
         req.set_expected_version(own[c].version() + 1);  // after UpdateRecord
         pb::DeleteRecordResponse resp;
         return records_->DeleteRecord(Ctx(c).get(), req, &resp);
       }},
      {"ListInvitations(space)", pb::ROLE_ADMIN,
       [&](const std::string& c) {
         pb::ListInvitationsRequest req;
         req.set_space_id(space);
         pb::ListInvitationsResponse resp;
         return spaces_->ListInvitations(Ctx(c).get(), req, &resp);
       }},
      {"InviteMember", pb::ROLE_ADMIN,
       [&](const std::string& c) { return Invite(c, space, "invited-by-" + c, pb::ROLE_READER); }},
      {"UpdateMemberRole", pb::ROLE_ADMIN,
       [&](const std::string& c) { return SetRole(c, space, "promote-" + c, pb::ROLE_WRITER); }},
      {"RemoveMember", pb::ROLE_ADMIN,
       [&](const std::string& c) { return Remove(c, space, "drop-" + c); }},
      {"UpdateSpace", pb::ROLE_ADMIN,
       [&](const std::string& c) {
         pb::UpdateSpaceRequest req;
         req.set_space_id(space);
         req.set_name("Matrix by " + c);
         pb::UpdateSpaceResponse resp;
         return spaces_->UpdateSpace(Ctx(c).get(), req, &resp);
       }},
      {"InviteMember(ADMIN)", pb::ROLE_OWNER,
       [&](const std::string& c) { return Invite(c, space, "admin-by-" + c, pb::ROLE_ADMIN); }},
  };
  const std::map<std::string, pb::Role> role_of = {{"alice", pb::ROLE_OWNER},
                                                   {"adm", pb::ROLE_ADMIN},
                                                   {"wri", pb::ROLE_WRITER},
                                                   {"rea", pb::ROLE_READER}};
  int cells = 0;
  for (const Operation& op : ops) {
    for (const std::string& c : callers) {
      auto it = role_of.find(c);
      StatusCode expected = StatusCode::OK;
      if (it == role_of.end()) {
        expected = StatusCode::NOT_FOUND;  // removed or never a member: the space is hidden
      } else if (it->second < op.needed) {
        expected = StatusCode::PERMISSION_DENIED;
      }
      grpc::Status s = op.run(c);
      EXPECT_EQ(s.error_code(), expected) << op.name << " as " << c << ": " << s.error_message();
      if (expected == StatusCode::PERMISSION_DENIED) {
        EXPECT_NE(s.error_message().find("role"), std::string::npos) << op.name;
      }
      ++cells;
    }
  }
  EXPECT_EQ(cells, 17 * 6);

  // The REST face: the same decisions through the gateway.
  httplib::Client http("127.0.0.1", app_->rest_port());
  int rest_cells = 0;
  for (const std::string& c : callers) {
    const httplib::Headers as = {{"Authorization", "Bearer " + Token(c)}};
    auto it = role_of.find(c);
    const bool member = it != role_of.end();
    auto expect = [&](const httplib::Result& res, pb::Role needed, const std::string& what) {
      ASSERT_TRUE(res) << what;
      int want = 200;
      if (!member) {
        want = 404;
      } else if (it->second < needed) {
        want = 403;
      }
      EXPECT_EQ(res->status, want) << what << " as " << c << ": " << res->body;
      ++rest_cells;
    };
    expect(http.Get("/v1/records?space_id=" + space, as), pb::ROLE_READER, "GET records");
    expect(http.Get("/v1/spaces/" + space + "/members", as), pb::ROLE_READER, "GET members");
    expect(http.Post("/v1/records", as,
                     R"({"record":{"type":"RECORD_TYPE_TEXT","name":"rest","space_id":")" + space +
                         R"(","text":{"text":"x"}}})",
                     "application/json"),
           pb::ROLE_WRITER, "POST record");
    expect(http.Post("/v1/spaces/" + space + "/invitations", as,
                     R"({"user_id":"rest-invitee-)" + c + R"(","role":"ROLE_READER"})",
                     "application/json"),
           pb::ROLE_ADMIN, "POST invitation");
  }
  EXPECT_EQ(rest_cells, 4 * 6);
}

TEST_F(SpacesPgTest, InvitationsAreAcceptedOnceAndOnlyByTheirInvitee) {
  const std::string space = CreateSpace("alice", "Invites");
  std::string id;
  ASSERT_TRUE(Invite("alice", space, "bob", pb::ROLE_WRITER, &id).ok());
  // Another pending invitation for bob, or one for a member, is refused.
  EXPECT_EQ(Invite("alice", space, "bob", pb::ROLE_READER).error_code(),
            StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Invite("alice", space, "alice", pb::ROLE_READER).error_code(),
            StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Invite("alice", space, "carol", pb::ROLE_OWNER).error_code(),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Invite("alice", space, "carol", pb::ROLE_READER, nullptr, 31 * 24 * 3600).error_code(),
            StatusCode::INVALID_ARGUMENT);
  // Seconds whose milliseconds would overflow int64 are refused before any arithmetic (UBSan).
  EXPECT_EQ(Invite("alice", space, "carol", pb::ROLE_READER, nullptr, INT64_MAX).error_code(),
            StatusCode::INVALID_ARGUMENT);
  // Someone else cannot see or accept it; the invitee can, once.
  EXPECT_EQ(Accept("carol", id).error_code(), StatusCode::NOT_FOUND);
  ASSERT_TRUE(Accept("bob", id).ok());
  grpc::Status twice = Accept("bob", id);
  EXPECT_EQ(twice.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(twice.error_message(), "the invitation was already accepted");

  // Revoked and declined invitations cannot be accepted.
  std::string revoked, declined;
  ASSERT_TRUE(Invite("alice", space, "carol", pb::ROLE_READER, &revoked).ok());
  pb::RevokeInvitationRequest revoke;
  revoke.set_invitation_id(revoked);
  pb::RevokeInvitationResponse revoke_resp;
  EXPECT_EQ(spaces_->RevokeInvitation(Ctx("bob").get(), revoke, &revoke_resp).error_code(),
            StatusCode::PERMISSION_DENIED);  // a writer cannot
  ASSERT_TRUE(spaces_->RevokeInvitation(Ctx("alice").get(), revoke, &revoke_resp).ok());
  EXPECT_EQ(Accept("carol", revoked).error_message(), "the invitation was already revoked");
  ASSERT_TRUE(Invite("alice", space, "dave", pb::ROLE_READER, &declined).ok());
  pb::DeclineInvitationRequest decline;
  decline.set_invitation_id(declined);
  pb::DeclineInvitationResponse decline_resp;
  ASSERT_TRUE(spaces_->DeclineInvitation(Ctx("dave").get(), decline, &decline_resp).ok());
  EXPECT_EQ(Accept("dave", declined).error_code(), StatusCode::FAILED_PRECONDITION);

  // An expired invitation: 1 s, then it is expired when read and refused when accepted.
  std::string expiring;
  ASSERT_TRUE(Invite("alice", space, "erin", pb::ROLE_READER, &expiring, 1).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  grpc::Status late = Accept("erin", expiring);
  EXPECT_EQ(late.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(late.error_message(), "the invitation expired");
  pb::ListInvitationsResponse mine;
  ASSERT_TRUE(
      spaces_->ListInvitations(Ctx("erin").get(), pb::ListInvitationsRequest(), &mine).ok());
  EXPECT_EQ(mine.invitations_size(), 0);
}

TEST_F(SpacesPgTest, OwnershipRolesAndDeletionFollowTheRules) {
  const std::string space = CreateSpace("alice", "Rules");
  Join(space, "adm", pb::ROLE_ADMIN);
  Join(space, "wri", pb::ROLE_WRITER);
  // Admins manage roles below admin only; nobody changes their own role or the owner's.
  EXPECT_TRUE(SetRole("adm", space, "wri", pb::ROLE_READER).ok());
  EXPECT_EQ(SetRole("adm", space, "wri", pb::ROLE_ADMIN).error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(SetRole("adm", space, "alice", pb::ROLE_READER).error_code(),
            StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(SetRole("adm", space, "adm", pb::ROLE_WRITER).error_code(),
            StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(SetRole("alice", space, "wri", pb::ROLE_OWNER).error_code(),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Remove("adm", space, "alice").error_code(), StatusCode::FAILED_PRECONDITION);
  // The owner cannot leave before transferring; the personal space cannot be shared or left.
  pb::LeaveSpaceRequest leave;
  leave.set_space_id(space);
  pb::LeaveSpaceResponse left;
  EXPECT_EQ(spaces_->LeaveSpace(Ctx("alice").get(), leave, &left).error_code(),
            StatusCode::FAILED_PRECONDITION);
  pb::ListSpacesResponse listed;
  ASSERT_TRUE(spaces_->ListSpaces(Ctx("alice").get(), pb::ListSpacesRequest(), &listed).ok());
  ASSERT_EQ(listed.spaces_size(), 2);
  EXPECT_TRUE(listed.spaces(0).personal());
  EXPECT_EQ(listed.spaces(1).name(), "Rules");
  EXPECT_EQ(listed.spaces(1).member_count(), 3u);
  EXPECT_EQ(Invite("alice", listed.spaces(0).id(), "bob", pb::ROLE_READER).error_code(),
            StatusCode::FAILED_PRECONDITION);

  pb::TransferOwnershipRequest transfer;
  transfer.set_space_id(space);
  transfer.set_user_id("adm");
  pb::TransferOwnershipResponse transferred;
  EXPECT_EQ(spaces_->TransferOwnership(Ctx("wri").get(), transfer, &transferred).error_code(),
            StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(spaces_->TransferOwnership(Ctx("alice").get(), transfer, &transferred).ok());
  EXPECT_EQ(transferred.space().owner_id(), "adm");
  EXPECT_EQ(transferred.space().role(), pb::ROLE_ADMIN);  // alice stays, as an admin
  ASSERT_TRUE(spaces_->LeaveSpace(Ctx("alice").get(), leave, &left).ok());

  // Deleting: the owner only; afterwards the space and its records are gone for everyone.
  const pb::Record record = CreateText("adm", space, "doomed");
  pb::DeleteSpaceRequest del;
  del.set_space_id(space);
  pb::DeleteSpaceResponse deleted;
  EXPECT_EQ(spaces_->DeleteSpace(Ctx("wri").get(), del, &deleted).error_code(),
            StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(spaces_->DeleteSpace(Ctx("adm").get(), del, &deleted).ok());
  pb::GetRecordRequest get;
  get.set_space_id(space);
  get.set_id(record.id());
  pb::GetRecordResponse got;
  EXPECT_EQ(records_->GetRecord(Ctx("adm").get(), get, &got).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(records_->GetRecord(Ctx("wri").get(), get, &got).error_code(), StatusCode::NOT_FOUND);
}

TEST_F(SpacesPgTest, BadInputIsRefusedNamingTheFieldWithoutEchoingIt) {
  pb::CreateSpaceRequest create;
  create.set_name(std::string(300, 'n'));
  pb::CreateSpaceResponse created;
  grpc::Status long_name = spaces_->CreateSpace(Ctx("alice").get(), create, &created);
  EXPECT_EQ(long_name.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(long_name.error_message().find("nnnn"), std::string::npos);
  create.set_name("tab\there");
  EXPECT_EQ(spaces_->CreateSpace(Ctx("alice").get(), create, &created).error_message(),
            "name: contains a control character");
  pb::GetSpaceRequest get;
  get.set_space_id("not-a-uuid-SECRET");
  pb::GetSpaceResponse got;
  grpc::Status bad_id = spaces_->GetSpace(Ctx("alice").get(), get, &got);
  EXPECT_EQ(bad_id.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad_id.error_message().find("SECRET"), std::string::npos);
  pb::ListSpacesRequest page;
  page.set_page_token("garbage");
  pb::ListSpacesResponse listed;
  EXPECT_EQ(spaces_->ListSpaces(Ctx("alice").get(), page, &listed).error_message(),
            "page_token: malformed");
  pb::AcceptInvitationRequest accept;
  accept.set_invitation_id("00000000-0000-4000-8000-000000000000");
  pb::AcceptInvitationResponse accepted;
  EXPECT_EQ(spaces_->AcceptInvitation(Ctx("alice").get(), accept, &accepted).error_code(),
            StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace coffer::vault
