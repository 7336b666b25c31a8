// `coffer space ...`, `coffer invitations` and the global --space flag against an in-process
// fake SpaceService (one item per page, so every list is paged) and RecordService: what the CLI
// sends (resolved ids, roles, expiry) and what it refuses locally.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "cli/token_store.h"
#include "coffer/vault/v1/spaces.grpc.pb.h"
#include "coffer/vault/v1/vault.grpc.pb.h"
#include "tests/unit/cli/cli_runner.h"

namespace coffer::cli {
namespace {

namespace v1 = ::coffer::vault::v1;
using ::testing::HasSubstr;

constexpr char kHome[] = "00000000-0000-4000-8000-000000000001";
constexpr char kTeam[] = "00000000-0000-4000-8000-000000000002";
constexpr char kOther[] = "00000000-0000-4000-8000-000000000003";
constexpr char kInvitation[] = "00000000-0000-4000-8000-0000000000aa";

// Serves `items` one per page; the page token is the index of the next item.
template <typename Item, typename Response>
void OnePage(const std::vector<Item>& items, const std::string& token,
             google::protobuf::RepeatedPtrField<Item>* out, Response* response) {
  const size_t at = token.empty() ? 0 : std::stoul(token);
  if (at < items.size()) *out->Add() = items[at];
  if (at + 1 < items.size()) response->set_next_page_token(std::to_string(at + 1));
}

class FakeSpaces final : public v1::SpaceService::Service {
 public:
  std::mutex mu;
  std::vector<v1::Space> spaces;
  std::vector<v1::Member> members;
  int list_spaces_calls = 0;
  std::vector<std::string> calls;  // "<rpc> <space or invitation id> [<user id>] [<role>]"
  v1::InviteMemberRequest last_invite;
  std::string invitations_space = "unset";

  grpc::Status ListSpaces(grpc::ServerContext*, const v1::ListSpacesRequest* req,
                          v1::ListSpacesResponse* resp) override {
    std::lock_guard lock(mu);
    ++list_spaces_calls;
    OnePage(spaces, req->page_token(), resp->mutable_spaces(), resp);
    return grpc::Status::OK;
  }

  grpc::Status GetSpace(grpc::ServerContext*, const v1::GetSpaceRequest* req,
                        v1::GetSpaceResponse* resp) override {
    std::lock_guard lock(mu);
    for (const auto& s : spaces) {
      if (s.id() == req->space_id()) {
        *resp->mutable_space() = s;
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "space not found");
  }

  grpc::Status ListMembers(grpc::ServerContext*, const v1::ListMembersRequest* req,
                           v1::ListMembersResponse* resp) override {
    std::lock_guard lock(mu);
    if (req->space_id() != kTeam) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no space");
    OnePage(members, req->page_token(), resp->mutable_members(), resp);
    return grpc::Status::OK;
  }

  grpc::Status InviteMember(grpc::ServerContext*, const v1::InviteMemberRequest* req,
                            v1::InviteMemberResponse* resp) override {
    std::lock_guard lock(mu);
    last_invite = *req;
    auto* i = resp->mutable_invitation();
    i->set_id(kInvitation);
    i->set_space_id(req->space_id());
    i->set_role(req->role());
    i->set_state(v1::INVITATION_STATE_PENDING);
    return grpc::Status::OK;
  }

  grpc::Status ListInvitations(grpc::ServerContext*, const v1::ListInvitationsRequest* req,
                               v1::ListInvitationsResponse* resp) override {
    std::lock_guard lock(mu);
    invitations_space = req->space_id();
    v1::Invitation i;
    i.set_id(kInvitation);
    i.set_space_id(kTeam);
    i.set_space_name("team");
    i.set_inviter_login("alice");
    i.set_invitee_login("bob");
    i.set_role(v1::ROLE_WRITER);
    i.set_state(v1::INVITATION_STATE_PENDING);
    OnePage(std::vector<v1::Invitation>{i, i}, req->page_token(), resp->mutable_invitations(),
            resp);
    return grpc::Status::OK;
  }

  grpc::Status UpdateMemberRole(grpc::ServerContext*, const v1::UpdateMemberRoleRequest* req,
                                v1::UpdateMemberRoleResponse* resp) override {
    std::lock_guard lock(mu);
    calls.push_back("role " + req->space_id() + " " + req->user_id() + " " +
                    std::to_string(req->role()));
    resp->mutable_member()->set_user_id(req->user_id());
    resp->mutable_member()->set_role(req->role());
    return grpc::Status::OK;
  }

  grpc::Status RemoveMember(grpc::ServerContext*, const v1::RemoveMemberRequest* req,
                            v1::RemoveMemberResponse*) override {
    std::lock_guard lock(mu);
    calls.push_back("remove " + req->space_id() + " " + req->user_id());
    return grpc::Status::OK;
  }

  grpc::Status DeleteSpace(grpc::ServerContext*, const v1::DeleteSpaceRequest* req,
                           v1::DeleteSpaceResponse*) override {
    std::lock_guard lock(mu);
    calls.push_back("delete " + req->space_id());
    return grpc::Status::OK;
  }

  grpc::Status AcceptInvitation(grpc::ServerContext*, const v1::AcceptInvitationRequest* req,
                                v1::AcceptInvitationResponse* resp) override {
    std::lock_guard lock(mu);
    calls.push_back("accept " + req->invitation_id());
    *resp->mutable_space() = spaces.at(1);
    return grpc::Status::OK;
  }
};

class FakeRecords final : public v1::RecordService::Service {
 public:
  std::mutex mu;
  std::vector<std::string> list_space_ids;

  grpc::Status ListRecords(grpc::ServerContext*, const v1::ListRecordsRequest* req,
                           v1::ListRecordsResponse*) override {
    std::lock_guard lock(mu);
    list_space_ids.push_back(req->space_id());
    return grpc::Status::OK;
  }
};

v1::Space MakeSpace(const std::string& id, const std::string& name, bool personal, v1::Role role) {
  v1::Space s;
  s.set_id(id);
  s.set_name(name);
  s.set_personal(personal);
  s.set_role(role);
  s.set_member_count(personal ? 1 : 2);
  return s;
}

v1::Member MakeMember(const std::string& user_id, const std::string& login, v1::Role role) {
  v1::Member m;
  m.set_user_id(user_id);
  m.set_login(login);
  m.set_role(role);
  return m;
}

class SpacesFakeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spaces_.spaces = {MakeSpace(kHome, "alice", true, v1::ROLE_OWNER),
                      MakeSpace(kTeam, "team", false, v1::ROLE_OWNER),
                      MakeSpace(kOther, "family", false, v1::ROLE_READER)};
    spaces_.members = {MakeMember("u-alice", "alice", v1::ROLE_OWNER),
                       MakeMember("u-bob", "bob", v1::ROLE_WRITER)};
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&spaces_);
    builder.RegisterService(&records_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    const std::string addr = "127.0.0.1:" + std::to_string(port);
    cli_.SetEnv("COFFER_IDENTITY_ADDR", addr);
    cli_.SetEnv("COFFER_VAULT_ADDR", addr);
    StoredTokens tokens;
    tokens.login = "alice";
    tokens.access_token = "a";
    tokens.refresh_token = "r";
    tokens.access_expires_at = 1'700'000'000 + 3600;
    ASSERT_TRUE(TokenStore(cli_.config_dir()).Save(tokens).ok());
  }
  void TearDown() override { server_->Shutdown(); }

  nlohmann::json Json(std::vector<std::string> args, const std::string& in = "") {
    args.insert(args.begin(), {"-o", "json"});
    CliResult r = cli_.Run(args, in);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  FakeSpaces spaces_;
  FakeRecords records_;
  std::unique_ptr<grpc::Server> server_;
  CliRunner cli_;
};

TEST_F(SpacesFakeServerTest, GlobalSpaceFlagTakesANameOrAnId) {
  CliResult by_name = cli_.Run({"ls", "--space", "family"});
  EXPECT_EQ(by_name.exit_code, 0) << by_name.err;
  EXPECT_EQ(spaces_.list_spaces_calls, 3);  // every page, once
  CliResult by_id = cli_.Run({"--space", kTeam, "ls"});
  EXPECT_EQ(by_id.exit_code, 0) << by_id.err;
  EXPECT_EQ(spaces_.list_spaces_calls, 3);  // an id is used as is
  EXPECT_EQ(cli_.Run({"ls"}).exit_code, 0);
  EXPECT_EQ(records_.list_space_ids, (std::vector<std::string>{kOther, kTeam, ""}));
}

TEST_F(SpacesFakeServerTest, UnknownOrAmbiguousSpaceNames) {
  CliResult missing = cli_.Run({"ls", "--space", "nope"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("no space named \"nope\""));
  EXPECT_THAT(cli_.Run({"space", "show", "nope"}).exit_code, 2);

  spaces_.spaces.push_back(
      MakeSpace("00000000-0000-4000-8000-000000000004", "team", false, v1::ROLE_READER));
  CliResult twice = cli_.Run({"space", "members", "team"});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_THAT(twice.err, HasSubstr(kTeam));
  EXPECT_THAT(twice.err, HasSubstr("00000000-0000-4000-8000-000000000004"));
  EXPECT_TRUE(records_.list_space_ids.empty());
}

TEST_F(SpacesFakeServerTest, SpaceLsReadsEveryPage) {
  nlohmann::json ls = Json({"space", "ls"});
  ASSERT_EQ(ls["spaces"].size(), 3u) << ls.dump();
  EXPECT_EQ(ls["spaces"][0]["personal"], true);
  EXPECT_EQ(ls["spaces"][2]["role"], "reader");
  CliResult table = cli_.Run({"space", "ls"});
  EXPECT_THAT(table.out, HasSubstr("ID"));
  EXPECT_THAT(table.out, HasSubstr("family  reader  2        no"));
}

TEST_F(SpacesFakeServerTest, InviteSendsLoginRoleAndExpiry) {
  nlohmann::json inv =
      Json({"space", "invite", "team", "bob", "--role", "writer", "--expires", "12h"});
  EXPECT_EQ(inv["state"], "pending");
  EXPECT_EQ(spaces_.last_invite.space_id(), kTeam);
  EXPECT_EQ(spaces_.last_invite.login(), "bob");
  EXPECT_EQ(spaces_.last_invite.role(), v1::ROLE_WRITER);
  EXPECT_EQ(spaces_.last_invite.ttl().seconds(), 12 * 3600);

  Json({"space", "invite", kTeam, "carol", "--role", "reader"});
  EXPECT_FALSE(spaces_.last_invite.has_ttl());  // the server's default, 7 days

  for (std::vector<std::string> args :
       {std::vector<std::string>{"space", "invite", "team", "bob", "--role", "owner"},
        {"space", "invite", "team", "bob", "--role", "writer", "--expires", "31d"},
        {"space", "invite", "team", "bob", "--role", "writer", "--expires", "7"},
        {"space", "invite", "team", "bob"}}) {
    CliResult r = cli_.Run(args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
  }
  EXPECT_THAT(
      cli_.Run({"space", "invite", "team", "b", "--role", "writer", "--expires", "31d"}).err,
      HasSubstr("at most 30d"));
  EXPECT_EQ(spaces_.last_invite.login(), "carol");
}

TEST_F(SpacesFakeServerTest, MemberCommandsResolveTheLogin) {
  nlohmann::json members = Json({"space", "members", "team"});
  ASSERT_EQ(members["members"].size(), 2u) << members.dump();
  EXPECT_EQ(members["members"][1]["login"], "bob");
  EXPECT_EQ(members["space_id"], kTeam);

  nlohmann::json role = Json({"space", "role", "team", "bob", "reader"});
  EXPECT_EQ(role["role"], "reader");
  EXPECT_EQ(cli_.Run({"space", "remove", "team", "bob"}).exit_code, 0);
  CliResult stranger = cli_.Run({"space", "remove", "team", "carol"});
  EXPECT_EQ(stranger.exit_code, 2);
  EXPECT_THAT(stranger.err, HasSubstr("\"carol\" is not a member"));
  EXPECT_EQ(cli_.Run({"space", "role", "team", "bob", "owner"}).exit_code, 1);
  EXPECT_EQ(spaces_.calls, (std::vector<std::string>{"role " + std::string(kTeam) + " u-bob " +
                                                         std::to_string(v1::ROLE_READER),
                                                     "remove " + std::string(kTeam) + " u-bob"}));
}

TEST_F(SpacesFakeServerTest, SpaceRmAsksUnlessYes) {
  CliResult script = cli_.Run({"space", "rm", "team"});
  EXPECT_EQ(script.exit_code, 1);
  EXPECT_THAT(script.err, HasSubstr("--yes"));
  CliResult no = cli_.Run({"space", "rm", "team"}, "n\n", /*interactive=*/true);
  EXPECT_EQ(no.exit_code, 130);
  EXPECT_THAT(no.err, HasSubstr("Delete space \"team\""));
  EXPECT_TRUE(spaces_.calls.empty());
  EXPECT_EQ(cli_.Run({"space", "rm", "team"}, "y\n", true).exit_code, 0);
  EXPECT_EQ(cli_.Run({"space", "rm", "family", "--yes"}).exit_code, 0);
  CliResult personal = cli_.Run({"space", "rm", "alice", "--yes"});
  EXPECT_EQ(personal.exit_code, 4);
  EXPECT_EQ(spaces_.calls, (std::vector<std::string>{"delete " + std::string(kTeam),
                                                     "delete " + std::string(kOther)}));
}

TEST_F(SpacesFakeServerTest, InvitationsOfMeOrOfASpace) {
  nlohmann::json mine = Json({"invitations"});
  ASSERT_EQ(mine["invitations"].size(), 2u) << mine.dump();
  EXPECT_EQ(mine["invitations"][0]["inviter_login"], "alice");
  EXPECT_EQ(mine["invitations"][0]["role"], "writer");
  EXPECT_EQ(spaces_.invitations_space, "");
  Json({"invitations", "--space", "team"});
  EXPECT_EQ(spaces_.invitations_space, kTeam);
  Json({"--space", "family", "invitations"});
  EXPECT_EQ(spaces_.invitations_space, kOther);
  CliResult table = cli_.Run({"invitations"});
  EXPECT_THAT(table.out, HasSubstr("team   writer  alice  bob"));
}

TEST_F(SpacesFakeServerTest, AcceptTakesAnInvitationId) {
  CliResult bad = cli_.Run({"space", "accept", "team"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("coffer invitations"));
  CliResult ok = cli_.Run({"space", "accept", kInvitation});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("joined space \"team\""));
  EXPECT_EQ(spaces_.calls, (std::vector<std::string>{"accept " + std::string(kInvitation)}));
  // A vault without these calls answers UNIMPLEMENTED.
  EXPECT_EQ(cli_.Run({"space", "leave", "team"}).exit_code, 7);
}

}  // namespace
}  // namespace coffer::cli
