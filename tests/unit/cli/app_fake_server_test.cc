// The command tree against in-process fake identity and record services on loopback: what the
// CLI sends (secrets from stdin, expected versions, bearer tokens) and how it shows answers
// (hidden secrets, the two-sided conflict view, refresh on expiry, UNIMPLEMENTED sync).
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/token_store.h"
#include "coffer/identity/v1/identity.grpc.pb.h"
#include "coffer/vault/v1/vault.grpc.pb.h"
#include "tests/unit/cli/cli_runner.h"

namespace coffer::cli {
namespace {

namespace idv1 = ::coffer::identity::v1;
namespace v1 = ::coffer::vault::v1;
using ::testing::HasSubstr;
using ::testing::Not;

// Shared state of both fakes.
struct FakeState {
  std::mutex mu;
  std::map<std::string, std::string> users;  // login -> password
  std::string valid_access = "access-1";
  int refreshes = 0;
  std::string last_refresh_token;
  std::map<std::string, v1::Record> records;
  int next_id = 1;
  std::vector<uint64_t> expected_versions;
  std::vector<std::string> get_tokens;  // consistency_token of every GetRecord
};

bool Authorized(grpc::ServerContext* ctx, FakeState& state) {
  auto it = ctx->client_metadata().find("authorization");
  if (it == ctx->client_metadata().end()) return false;
  return std::string(it->second.data(), it->second.size()) == "Bearer " + state.valid_access;
}

class FakeIdentity final : public idv1::IdentityService::Service {
 public:
  explicit FakeIdentity(FakeState& state) : state_(state) {}

  grpc::Status Register(grpc::ServerContext*, const idv1::RegisterRequest* req,
                        idv1::RegisterResponse* resp) override {
    std::lock_guard lock(state_.mu);
    if (state_.users.count(req->login())) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "login taken");
    }
    state_.users[req->login()] = req->password();
    resp->set_user_id("user-" + req->login());
    return grpc::Status::OK;
  }

  grpc::Status Login(grpc::ServerContext*, const idv1::LoginRequest* req,
                     idv1::LoginResponse* resp) override {
    std::lock_guard lock(state_.mu);
    auto it = state_.users.find(req->login());
    if (it == state_.users.end() || it->second != req->password()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad credentials");
    }
    auto* t = resp->mutable_tokens();
    t->set_access_token(state_.valid_access);
    t->set_refresh_token("refresh-1");
    t->set_expires_in(900);
    t->set_refresh_expires_in(86400);
    t->set_scope("vault");
    return grpc::Status::OK;
  }

  grpc::Status Refresh(grpc::ServerContext*, const idv1::RefreshRequest* req,
                       idv1::RefreshResponse* resp) override {
    std::lock_guard lock(state_.mu);
    state_.last_refresh_token = req->refresh_token();
    ++state_.refreshes;
    state_.valid_access = "access-" + std::to_string(state_.refreshes + 1);
    auto* t = resp->mutable_tokens();
    t->set_access_token(state_.valid_access);
    t->set_refresh_token("refresh-" + std::to_string(state_.refreshes + 1));
    t->set_expires_in(900);
    t->set_refresh_expires_in(86400);
    return grpc::Status::OK;
  }

  grpc::Status WhoAmI(grpc::ServerContext* ctx, const idv1::WhoAmIRequest*,
                      idv1::WhoAmIResponse* resp) override {
    std::lock_guard lock(state_.mu);
    if (!Authorized(ctx, state_)) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no");
    resp->set_sub("user-alice");
    resp->set_login("alice");
    resp->add_scopes("vault");
    return grpc::Status::OK;
  }

 private:
  FakeState& state_;
};

class FakeRecords final : public v1::RecordService::Service {
 public:
  explicit FakeRecords(FakeState& state) : state_(state) {}

  grpc::Status CreateRecord(grpc::ServerContext* ctx, const v1::CreateRecordRequest* req,
                            v1::CreateRecordResponse* resp) override {
    std::lock_guard lock(state_.mu);
    if (!Authorized(ctx, state_)) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no");
    v1::Record r = req->record();
    char id[40];
    std::snprintf(id, sizeof(id), "00000000-0000-0000-0000-%012d", state_.next_id++);
    r.set_id(id);
    r.set_version(1);
    if (r.space_id().empty()) r.set_space_id("aaaaaaaa-0000-4000-8000-000000000000");
    state_.records[r.id()] = r;
    *resp->mutable_record() = r;
    resp->set_consistency_token("s1." + std::to_string(state_.next_id) + "." + r.space_id() +
                                ".fake");
    return grpc::Status::OK;
  }

  grpc::Status GetRecord(grpc::ServerContext* ctx, const v1::GetRecordRequest* req,
                         v1::GetRecordResponse* resp) override {
    std::lock_guard lock(state_.mu);
    if (!Authorized(ctx, state_)) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no");
    state_.get_tokens.push_back(req->consistency_token());
    auto it = state_.records.find(req->id());
    if (it == state_.records.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no record");
    *resp->mutable_record() = it->second;
    return grpc::Status::OK;
  }

  grpc::Status UpdateRecord(grpc::ServerContext* ctx, const v1::UpdateRecordRequest* req,
                            v1::UpdateRecordResponse* resp) override {
    std::lock_guard lock(state_.mu);
    if (!Authorized(ctx, state_)) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no");
    state_.expected_versions.push_back(req->expected_version());
    auto it = state_.records.find(req->record().id());
    if (it == state_.records.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no record");
    if (it->second.version() != req->expected_version()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "current version is " + std::to_string(it->second.version()));
    }
    v1::Record r = req->record();
    r.set_version(it->second.version() + 1);
    it->second = r;
    *resp->mutable_record() = r;
    return grpc::Status::OK;
  }

  grpc::Status ListRecords(grpc::ServerContext* ctx, const v1::ListRecordsRequest* req,
                           v1::ListRecordsResponse* resp) override {
    std::lock_guard lock(state_.mu);
    if (!Authorized(ctx, state_)) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no");
    for (const auto& [id, r] : state_.records) {
      if (r.deleted() != req->filter().in_trash()) continue;
      if (r.name().rfind(req->filter().name_prefix(), 0) != 0) continue;
      *resp->add_records() = r;
    }
    return grpc::Status::OK;
  }

 private:
  FakeState& state_;
};

class AppFakeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&identity_);
    builder.RegisterService(&records_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    addr_ = "127.0.0.1:" + std::to_string(port);
    cli_.SetEnv("COFFER_IDENTITY_ADDR", addr_);
    cli_.SetEnv("COFFER_VAULT_ADDR", addr_);
  }
  void TearDown() override { server_->Shutdown(); }

  void LogIn() {
    ASSERT_EQ(cli_.Run({"register", "alice", "--password-stdin"}, "correct horse\n").exit_code, 0);
    CliResult r = cli_.Run({"login", "alice", "--password-stdin"}, "correct horse\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::string AddCredential() {
    CliResult r = cli_.Run({"-o", "json", "add", "credential", "--name", "mail", "--login",
                            "alice@example.com", "--password-stdin", "--meta", "site=example"},
                           "s3cret-pw\n");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out)["id"].get<std::string>();
  }

  FakeState state_;
  FakeIdentity identity_{state_};
  FakeRecords records_{state_};
  std::unique_ptr<grpc::Server> server_;
  std::string addr_;
  CliRunner cli_;
};

TEST_F(AppFakeServerTest, RegisterLoginStoresPrivateSessionAndWhoAmIWorks) {
  LogIn();
  struct stat st {};
  ASSERT_EQ(::stat((cli_.config_dir() + "/tokens.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  CliResult who = cli_.Run({"whoami"});
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_THAT(who.out, HasSubstr("alice"));
  EXPECT_THAT(who.out, HasSubstr("vault"));

  CliResult wrong = cli_.Run({"login", "alice", "--password-stdin"}, "wrong password\n");
  EXPECT_EQ(wrong.exit_code, 5);
  EXPECT_THAT(wrong.err, HasSubstr("wrong login or password"));
  CliResult taken = cli_.Run({"register", "alice", "--password-stdin"}, "x12345678\n");
  EXPECT_EQ(taken.exit_code, 4);
  EXPECT_THAT(taken.err, HasSubstr("is taken"));
}

// A later command (another process) sends the session token of the last write to the space, so
// it reads that write whichever replica serves it (cli/read_positions.h).
TEST_F(AppFakeServerTest, ReadsSendTheSessionTokenOfTheLastWrite) {
  LogIn();
  const std::string id = AddCredential();
  ASSERT_EQ(cli_.Run({"get", id}).exit_code, 0);
  {
    std::lock_guard lock(state_.mu);
    ASSERT_FALSE(state_.get_tokens.empty());
    EXPECT_EQ(state_.get_tokens.back(), "s1.2.aaaaaaaa-0000-4000-8000-000000000000.fake");
  }
  // The file holds no credential and only its owner may read it.
  const std::string path = cli_.config_dir() + "/positions.json";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_THAT(text.str(), Not(HasSubstr("access-")));
  EXPECT_THAT(text.str(), Not(HasSubstr("refresh-")));
  // A corrupt file is ignored: the read goes without a token.
  std::ofstream(path, std::ios::trunc) << "{not json";
  ASSERT_EQ(cli_.Run({"get", id}).exit_code, 0);
  std::lock_guard lock(state_.mu);
  EXPECT_EQ(state_.get_tokens.back(), "");
}

TEST_F(AppFakeServerTest, InteractiveRegisterPromptsTwice) {
  CliResult r = cli_.Run({"register", "bob"}, "pw-123456\npw-123456\n", /*interactive=*/true);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("Password: "));
  EXPECT_THAT(r.err, HasSubstr("Repeat password: "));
  EXPECT_EQ(state_.users["bob"], "pw-123456");
  CliResult mismatch = cli_.Run({"register", "carol"}, "a-123456\nb-123456\n", true);
  EXPECT_EQ(mismatch.exit_code, 1);
  EXPECT_THAT(mismatch.err, HasSubstr("do not match"));
}

TEST_F(AppFakeServerTest, PasswordFromStdinReachesServerButIsNeverPrinted) {
  LogIn();
  std::string id = AddCredential();
  EXPECT_EQ(state_.records[id].credential().password(), "s3cret-pw");
  EXPECT_EQ(state_.records[id].metadata().at("site"), "example");

  CliResult get = cli_.Run({"get", id});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_THAT(get.out, HasSubstr("alice@example.com"));
  EXPECT_THAT(get.out, Not(HasSubstr("s3cret-pw")));
  CliResult by_name = cli_.Run({"-o", "json", "get", "mail"});
  EXPECT_TRUE(nlohmann::json::parse(by_name.out)["payload"]["password"].is_null());

  EXPECT_THAT(cli_.Run({"get", id, "--reveal"}).out, HasSubstr("s3cret-pw"));
  EXPECT_EQ(cli_.Run({"get", "mail", "--field", "password", "--reveal"}).out, "s3cret-pw\n");
  CliResult refused = cli_.Run({"get", "mail", "--field", "password"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("--reveal"));
}

TEST_F(AppFakeServerTest, StaleEditShowsBothSidesAndExitsFour) {
  LogIn();
  std::string id = AddCredential();
  ASSERT_EQ(cli_.Run({"edit", id, "--login", "bob@example.com"}).exit_code, 0);
  EXPECT_EQ(state_.expected_versions.back(), 1u);

  CliResult stale = cli_.Run({"edit", id, "--expected-version", "1", "--url", "https://mine"});
  EXPECT_EQ(stale.exit_code, 4) << stale.err;
  EXPECT_THAT(stale.out, HasSubstr("based on version 1, but the server has version 2"));
  EXPECT_THAT(stale.out, HasSubstr("YOUR CHANGE"));
  EXPECT_THAT(stale.out, HasSubstr("SERVER (v2)"));
  EXPECT_THAT(stale.out, HasSubstr("https://mine"));
  EXPECT_THAT(stale.out, Not(HasSubstr("s3cret-pw")));
  EXPECT_THAT(stale.err, HasSubstr("coffer edit " + id));
  EXPECT_EQ(state_.records[id].credential().url(), "");

  CliResult json = cli_.Run({"-o", "json", "edit", id, "--expected-version", "1", "--url", "u"});
  EXPECT_EQ(json.exit_code, 4);
  auto conflict = nlohmann::json::parse(json.out)["conflict"];
  EXPECT_EQ(conflict["server_version"], 2);
  EXPECT_EQ(conflict["yours"]["payload"]["url"], "u");
  EXPECT_EQ(conflict["server"]["payload"]["login"], "bob@example.com");
}

TEST_F(AppFakeServerTest, EditSecretFromStdin) {
  LogIn();
  std::string id = AddCredential();
  CliResult r = cli_.Run({"edit", "mail", "--password-stdin"}, "new-pw\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_.records[id].credential().password(), "new-pw");
  EXPECT_EQ(state_.records[id].credential().login(), "alice@example.com");
  EXPECT_EQ(state_.records[id].version(), 2u);
}

TEST_F(AppFakeServerTest, ExpiringTokenIsRefreshedAndRotated) {
  LogIn();
  cli_.set_now(1'700'000'000 + 890);  // 10 s before the 900 s access token expires
  CliResult r = cli_.Run({"ls"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_.refreshes, 1);
  EXPECT_EQ(state_.last_refresh_token, "refresh-1");
  auto stored = TokenStore(cli_.config_dir()).Load();
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->access_token, "access-2");
  EXPECT_EQ((*stored)->refresh_token, "refresh-2");
}

TEST_F(AppFakeServerTest, RevokedAccessTokenIsRefreshedOnceAfterUnauthenticated) {
  LogIn();
  state_.valid_access = "rotated-by-server";  // the stored token is no longer accepted
  CliResult r = cli_.Run({"ls"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_.refreshes, 1);
}

TEST_F(AppFakeServerTest, MissingRecordIsExitTwo) {
  LogIn();
  CliResult r = cli_.Run({"get", "00000000-0000-0000-0000-00000000ffff"});
  EXPECT_EQ(r.exit_code, 2);
  CliResult by_name = cli_.Run({"get", "nothing-named-so"});
  EXPECT_EQ(by_name.exit_code, 2);
  EXPECT_THAT(by_name.err, HasSubstr("coffer ls"));
}

TEST_F(AppFakeServerTest, SyncAgainstServerWithoutSyncServiceSaysUnsupported) {
  LogIn();
  CliResult r = cli_.Run({"sync"});
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_THAT(r.err, HasSubstr("does not support the change feed yet"));
  CliResult w = cli_.Run({"watch"});
  EXPECT_EQ(w.exit_code, 7);
}

}  // namespace
}  // namespace coffer::cli
