// End-to-end: sharing a space between two users with the built `coffer` CLI, against
// coffer-identity and one coffer-vault shard started as processes on loopback ports chosen by
// the kernel, each with a fresh PostgreSQL database (PgTestDatabase). Each user has a login and
// config directory of their own; each test registers its own users.
//
// Build wiring (like cli_e2e_test.cc): COFFER_CLI_BIN, COFFER_IDENTITY_BIN and COFFER_VAULT_BIN
// name the binaries; DEPS coffer::testing nlohmann_json::nlohmann_json; LABEL e2e.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/process.h"
#include "tests/e2e/cli/cli_runner.h"

namespace coffer::cli {
namespace {

using nlohmann::json;
using testing::ChildProcess;
using ::testing::HasSubstr;
using testing::ReadWholeFile;

constexpr char kPassword[] = "e2e-password-0123";  // identity wants at least 12 characters

// Exit codes of the CLI (cli/exit_code.h), as scripts see them.
constexpr int kUsage = 1;
constexpr int kNotFound = 2;
constexpr int kConflict = 4;
constexpr int kAuth = 5;

using e2e::CliResult;
using e2e::RunCli;
using e2e::StartServer;

std::string RandomSuffix() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> dist;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016lx", static_cast<unsigned long>(dist(rd)));
  return buf;
}

std::string Kek() {
  // k1:<base64 of 32 bytes>; a fixed test key is fine for a throwaway database.
  return "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
}

// RFC 3339 UTC as the CLI prints it: 2024-01-02T03:04:05Z, optionally with a fraction.
bool IsRfc3339(const json& value) {
  static const std::regex form(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)");
  return value.is_string() && std::regex_match(value.get<std::string>(), form);
}

// Unix seconds of an RFC 3339 UTC time (fraction ignored).
int64_t UnixSeconds(const json& value) {
  std::tm tm{};
  ::strptime(value.get<std::string>().c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  return static_cast<int64_t>(::timegm(&tm));
}

std::set<std::string> Keys(const json& object) {
  std::set<std::string> keys;
  for (const auto& item : object.items()) keys.insert(item.key());
  return keys;
}

const std::set<std::string> kSpaceKeys = {"id",           "name",        "personal", "role",
                                          "member_count", "create_time", "owner_id"};
const std::set<std::string> kMemberKeys = {"user_id", "login", "role", "join_time"};
const std::set<std::string> kInvitationKeys = {
    "id",   "space_id", "space_name",  "inviter_id", "inviter_login", "invitee_id", "invitee_login",
    "role", "state",    "create_time", "expire_time"};

// One user of the CLI: a login and a config directory of their own.
struct User {
  std::string login;
  std::string config_dir;
  std::map<std::string, std::string> env;
};

class CliSpacesE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto identity_db = testing::PgTestDatabase::Create();
    auto vault_db = testing::PgTestDatabase::Create();
    if (!identity_db.ok() || !vault_db.ok()) {
      absl::Status st = identity_db.ok() ? vault_db.status() : identity_db.status();
      if (testing::PgTestDatabase::IsSkip(st)) {
        skip_reason_ = new std::string(std::string(st.message()));
      } else {
        setup_error_ = new std::string("PostgreSQL: " + std::string(st.message()));
      }
      return;
    }
    identity_db_ = identity_db->release();
    vault_db_ = vault_db->release();
    char tmpl[] = "/tmp/coffer-cli-spaces-e2e-XXXXXX";
    work_dir_ = new std::string(::mkdtemp(tmpl));
    StartIdentity();
    if (setup_error_ == nullptr) StartVault();
  }

  static void StartIdentity() {
    int port = 0;
    identity_ = StartServer("identity", e2e::TestIdentityArgv(identity_db_->dsn(), Kek()),
                            *work_dir_ + "/identity.log", &port)
                    .release();
    if (port == 0) {
      setup_error_ = new std::string("identity did not start:\n" + identity_->Log());
      return;
    }
    identity_addr_ = new std::string("127.0.0.1:" + std::to_string(port));
  }

  static void StartVault() {
    int port = 0;
    vault_ = StartServer("vault",
                         {COFFER_VAULT_BIN, "--shard-id", "shard-a", "--grpc-addr", "127.0.0.1:0",
                          "--admin-addr", "127.0.0.1:0", "--db-dsn", vault_db_->dsn(), "--kek",
                          Kek(), "--identity-addr", *identity_addr_},
                         *work_dir_ + "/vault.log", &port)
                 .release();
    if (port == 0) {
      setup_error_ = new std::string("vault did not start:\n" + vault_->Log());
      return;
    }
    vault_addr_ = new std::string("127.0.0.1:" + std::to_string(port));
  }

  static void TearDownTestSuite() {
    delete vault_;
    delete identity_;
    delete vault_db_;
    delete identity_db_;
    if (work_dir_ != nullptr) std::filesystem::remove_all(*work_dir_);
  }

  void SetUp() override {
    if (skip_reason_ != nullptr) GTEST_SKIP() << *skip_reason_;
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
  }

  void TearDown() override {
    for (const auto& u : users_) std::filesystem::remove_all(u.config_dir);
    if (HasFailure() && vault_ != nullptr) {
      std::cerr << "--- identity log ---\n"
                << identity_->Log() << "--- vault log ---\n"
                << vault_->Log();
    }
  }

  // Registers and logs in a fresh user whose login starts with `name`.
  User NewUser(const std::string& name) {
    char tmpl[] = "/tmp/coffer-cli-spaces-cfg-XXXXXX";
    User u;
    u.login = name + "-" + RandomSuffix();
    u.config_dir = ::mkdtemp(tmpl);
    u.env = {{"COFFER_CONFIG_DIR", u.config_dir},
             {"COFFER_IDENTITY_ADDR", *identity_addr_},
             {"COFFER_VAULT_ADDR", *vault_addr_}};
    users_.push_back(u);
    const std::string pw = std::string(kPassword) + "\n";
    CliResult reg = Cli(u, {"register", u.login, "--password-stdin"}, pw);
    EXPECT_EQ(reg.exit_code, 0) << reg.err;
    CliResult in = Cli(u, {"login", u.login, "--password-stdin"}, pw);
    EXPECT_EQ(in.exit_code, 0) << in.err;
    return u;
  }

  static CliResult Cli(const User& u, const std::vector<std::string>& args,
                       const std::string& stdin_text = "") {
    return RunCli(args, stdin_text, u.env);
  }

  // Runs with -o json, expects exit 0 and returns the parsed output.
  static json CliJson(const User& u, std::vector<std::string> args,
                      const std::string& stdin_text = "") {
    args.insert(args.begin(), {"-o", "json"});
    CliResult r = Cli(u, args, stdin_text);
    EXPECT_EQ(r.exit_code, 0) << u.login << ": coffer " << ::testing::PrintToString(args) << ": "
                              << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  // The id of the pending invitation `invitee` has to `space_id` ("" when there is none).
  static std::string PendingInvitation(const User& invitee, const std::string& space_id) {
    json list = CliJson(invitee, {"invitations"});
    for (const auto& i : list["invitations"]) {
      if (i["space_id"] == space_id) return i["id"].get<std::string>();
    }
    return "";
  }

  static inline testing::PgTestDatabase* identity_db_ = nullptr;
  static inline testing::PgTestDatabase* vault_db_ = nullptr;
  static inline ChildProcess* identity_ = nullptr;
  static inline ChildProcess* vault_ = nullptr;
  static inline std::string* identity_addr_ = nullptr;
  static inline std::string* vault_addr_ = nullptr;
  static inline std::string* work_dir_ = nullptr;
  static inline std::string* skip_reason_ = nullptr;
  static inline std::string* setup_error_ = nullptr;

  std::vector<User> users_;
};

TEST_F(CliSpacesE2eTest, AliceSharesASpaceWithBob) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  const std::string team = "team-" + RandomSuffix();

  // alice creates the space and invites bob by login, as writer.
  json created = CliJson(alice, {"space", "create", team});
  EXPECT_EQ(Keys(created), kSpaceKeys) << created.dump();
  EXPECT_EQ(created["name"], team);
  EXPECT_EQ(created["role"], "owner");
  EXPECT_EQ(created["personal"], false);
  const std::string team_id = created.value("id", "");
  ASSERT_FALSE(team_id.empty());
  json invited = CliJson(alice, {"space", "invite", team, bob.login, "--role", "writer"});
  EXPECT_EQ(Keys(invited), kInvitationKeys) << invited.dump();
  EXPECT_EQ(invited["state"], "pending");
  const std::string invitation_id = invited.value("id", "");
  json of_space = CliJson(alice, {"invitations", "--space", team});
  ASSERT_EQ(of_space["invitations"].size(), 1u) << of_space.dump();
  EXPECT_EQ(of_space["invitations"][0]["id"], invitation_id);

  // bob sees the invitation, with logins filled in from identity, and accepts it.
  json mine = CliJson(bob, {"invitations"});
  ASSERT_EQ(mine["invitations"].size(), 1u) << mine.dump();
  const json& inv = mine["invitations"][0];
  EXPECT_EQ(Keys(inv), kInvitationKeys) << inv.dump();
  EXPECT_EQ(inv["id"], invitation_id);
  EXPECT_EQ(inv["space_id"], team_id);
  EXPECT_EQ(inv["space_name"], team);
  EXPECT_EQ(inv["inviter_login"], alice.login);
  EXPECT_EQ(inv["invitee_login"], bob.login);
  EXPECT_EQ(inv["role"], "writer");
  EXPECT_EQ(inv["state"], "pending");
  EXPECT_TRUE(IsRfc3339(inv["create_time"])) << inv.dump();
  EXPECT_TRUE(IsRfc3339(inv["expire_time"])) << inv.dump();
  const int64_t lifetime = UnixSeconds(inv["expire_time"]) - UnixSeconds(inv["create_time"]);
  EXPECT_NEAR(static_cast<double>(lifetime), 7 * 86400.0, 120.0);  // the default expiry
  json joined = CliJson(bob, {"space", "accept", invitation_id});
  EXPECT_EQ(joined["id"], team_id);
  EXPECT_EQ(joined["role"], "writer");
  EXPECT_TRUE(CliJson(bob, {"invitations"})["invitations"].empty());

  // bob writes into the space by its name; alice reads it.
  json added = CliJson(bob,
                       {"--space", team, "add", "credential", "--name", "shared-router", "--login",
                        "admin", "--password-stdin"},
                       "router-pw-secret\n");
  EXPECT_EQ(added["space_id"], team_id);
  json seen = CliJson(alice, {"ls", "--space", team});
  ASSERT_EQ(seen["records"].size(), 1u) << seen.dump();
  EXPECT_EQ(seen["records"][0]["name"], "shared-router");
  EXPECT_EQ(seen["records"][0]["space_id"], team_id);
  EXPECT_TRUE(CliJson(alice, {"ls"})["records"].empty());  // not in alice's personal space

  // `space ls`: personal space first, then the shared one, every field.
  json spaces = CliJson(alice, {"space", "ls"});
  ASSERT_EQ(spaces["spaces"].size(), 2u) << spaces.dump();
  for (const auto& s : spaces["spaces"]) {
    EXPECT_EQ(Keys(s), kSpaceKeys) << s.dump();
    EXPECT_TRUE(IsRfc3339(s["create_time"])) << s.dump();
  }
  EXPECT_EQ(spaces["spaces"][0]["personal"], true);
  EXPECT_EQ(spaces["spaces"][0]["role"], "owner");
  EXPECT_EQ(spaces["spaces"][1]["id"], team_id);
  EXPECT_EQ(spaces["spaces"][1]["member_count"], 2);
  EXPECT_EQ(spaces["spaces"][1]["personal"], false);
  json bobs = CliJson(bob, {"space", "ls"});
  ASSERT_EQ(bobs["spaces"].size(), 2u) << bobs.dump();
  EXPECT_EQ(bobs["spaces"][1]["role"], "writer");
  EXPECT_EQ(bobs["spaces"][1]["owner_id"], spaces["spaces"][1]["owner_id"]);

  // `space members`: the owner first, logins from identity.
  json members = CliJson(alice, {"space", "members", team});
  EXPECT_EQ(members["space_id"], team_id);
  ASSERT_EQ(members["members"].size(), 2u) << members.dump();
  for (const auto& m : members["members"]) {
    EXPECT_EQ(Keys(m), kMemberKeys) << m.dump();
    EXPECT_TRUE(IsRfc3339(m["join_time"])) << m.dump();
  }
  EXPECT_EQ(members["members"][0]["login"], alice.login);
  EXPECT_EQ(members["members"][0]["role"], "owner");
  EXPECT_EQ(members["members"][1]["login"], bob.login);
  EXPECT_EQ(members["members"][1]["role"], "writer");
  CliResult table = Cli(alice, {"space", "members", team});
  EXPECT_THAT(table.out, HasSubstr("LOGIN"));
  EXPECT_THAT(table.out, HasSubstr(bob.login));

  // alice makes bob a reader: he still reads, but may no longer write.
  json lowered = CliJson(alice, {"space", "role", team, bob.login, "reader"});
  EXPECT_EQ(lowered["role"], "reader");
  EXPECT_EQ(lowered["login"], bob.login);
  EXPECT_EQ(CliJson(bob, {"ls", "--space", team})["records"].size(), 1u);
  CliResult refused =
      Cli(bob, {"--space", team, "add", "text", "--name", "not-allowed", "--text", "x"});
  EXPECT_EQ(refused.exit_code, kAuth) << refused.err;

  // alice removes bob: the space is gone for him, by id and by name.
  CliResult removed = Cli(alice, {"space", "remove", team, bob.login});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  CliResult by_id = Cli(bob, {"ls", "--space", team_id});
  EXPECT_EQ(by_id.exit_code, kNotFound) << by_id.err;
  CliResult by_name = Cli(bob, {"ls", "--space", team});
  EXPECT_EQ(by_name.exit_code, kNotFound) << by_name.err;
  EXPECT_THAT(by_name.err, HasSubstr("no space named"));
  json left = CliJson(alice, {"space", "members", team});
  EXPECT_EQ(left["members"].size(), 1u) << left.dump();
}

TEST_F(CliSpacesE2eTest, InvitationsCanBeDeclinedRevokedAndExpireAsAsked) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  const std::string team = "club-" + RandomSuffix();
  const std::string team_id = CliJson(alice, {"space", "create", team}).value("id", "");
  ASSERT_FALSE(team_id.empty());

  // Checked locally, nothing sent.
  CliResult too_long =
      Cli(alice, {"space", "invite", team, bob.login, "--role", "writer", "--expires", "31d"});
  EXPECT_EQ(too_long.exit_code, kUsage);
  EXPECT_THAT(too_long.err, HasSubstr("at most 30d"));
  EXPECT_EQ(Cli(alice, {"space", "invite", team, bob.login, "--role", "owner"}).exit_code, kUsage);
  EXPECT_TRUE(CliJson(bob, {"invitations"})["invitations"].empty());

  // Declined.
  json first =
      CliJson(alice, {"space", "invite", team, bob.login, "--role", "admin", "--expires", "12h"});
  const int64_t lifetime = UnixSeconds(first["expire_time"]) - UnixSeconds(first["create_time"]);
  EXPECT_NEAR(static_cast<double>(lifetime), 12 * 3600.0, 120.0);
  EXPECT_EQ(PendingInvitation(bob, team_id), first["id"]);
  json declined = CliJson(bob, {"space", "decline", first["id"].get<std::string>()});
  EXPECT_EQ(declined["state"], "declined");
  EXPECT_TRUE(CliJson(alice, {"invitations", "--space", team})["invitations"].empty());

  // Revoked: accepting it afterwards is a failed precondition.
  json second = CliJson(alice, {"space", "invite", team, bob.login, "--role", "reader"});
  const std::string second_id = second.value("id", "");
  EXPECT_EQ(CliJson(alice, {"space", "revoke", second_id})["state"], "revoked");
  EXPECT_EQ(PendingInvitation(bob, team_id), "");
  CliResult late = Cli(bob, {"space", "accept", second_id});
  EXPECT_EQ(late.exit_code, kConflict) << late.err;

  // Inviting a member again is ALREADY_EXISTS; an unknown login is NOT_FOUND.
  json third = CliJson(alice, {"space", "invite", team, bob.login, "--role", "writer"});
  CliJson(bob, {"space", "accept", third["id"].get<std::string>()});
  CliResult again = Cli(alice, {"space", "invite", team, bob.login, "--role", "writer"});
  EXPECT_EQ(again.exit_code, kConflict) << again.err;
  CliResult nobody =
      Cli(alice, {"space", "invite", team, "nobody-" + RandomSuffix(), "--role", "writer"});
  EXPECT_EQ(nobody.exit_code, kNotFound) << nobody.err;
}

TEST_F(CliSpacesE2eTest, RenameTransferLeaveAndDelete) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  const std::string before = "old-" + RandomSuffix();
  const std::string after = "new-" + RandomSuffix();
  const std::string id = CliJson(alice, {"space", "create", before}).value("id", "");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(CliJson(alice, {"space", "rename", before, after})["name"], after);
  json shown = CliJson(alice, {"space", "show", after});
  EXPECT_EQ(Keys(shown), kSpaceKeys);
  EXPECT_EQ(shown["id"], id);
  EXPECT_EQ(Cli(alice, {"space", "show", before}).exit_code, kNotFound);

  json inv = CliJson(alice, {"space", "invite", id, bob.login, "--role", "admin"});
  CliJson(bob, {"space", "accept", inv["id"].get<std::string>()});
  // The owner cannot leave; after handing ownership to bob, alice is an admin and can.
  EXPECT_EQ(Cli(alice, {"space", "leave", after}).exit_code, kConflict);
  json transferred = CliJson(alice, {"space", "transfer", after, bob.login});
  EXPECT_EQ(transferred["role"], "admin");
  EXPECT_EQ(CliJson(bob, {"space", "show", id})["role"], "owner");
  EXPECT_EQ(CliJson(alice, {"space", "leave", after})["left"], true);
  json members = CliJson(bob, {"space", "members", after});
  ASSERT_EQ(members["members"].size(), 1u) << members.dump();
  EXPECT_EQ(members["members"][0]["login"], bob.login);
  EXPECT_EQ(members["members"][0]["role"], "owner");

  // Deleting asks for --yes without a terminal; the personal space is never deleted.
  CliResult unconfirmed = Cli(bob, {"space", "rm", after});
  EXPECT_EQ(unconfirmed.exit_code, kUsage);
  EXPECT_THAT(unconfirmed.err, HasSubstr("--yes"));
  EXPECT_EQ(CliJson(bob, {"space", "rm", after, "--yes"})["deleted"], true);
  EXPECT_EQ(Cli(bob, {"space", "show", id}).exit_code, kNotFound);
  const std::string personal = CliJson(bob, {"space", "ls"})["spaces"][0].value("id", "");
  EXPECT_EQ(Cli(bob, {"space", "rm", personal, "--yes"}).exit_code, kConflict);
}

TEST_F(CliSpacesE2eTest, AmbiguousNameAsksForTheId) {
  User alice = NewUser("alice");
  const std::string name = "dup-" + RandomSuffix();
  const std::string one = CliJson(alice, {"space", "create", name}).value("id", "");
  const std::string two = CliJson(alice, {"space", "create", name}).value("id", "");
  CliResult r = Cli(alice, {"ls", "--space", name});
  EXPECT_EQ(r.exit_code, kUsage) << r.err;
  EXPECT_THAT(r.err, HasSubstr(one));
  EXPECT_THAT(r.err, HasSubstr(two));
  EXPECT_EQ(Cli(alice, {"ls", "--space", one}).exit_code, 0);
}

}  // namespace
}  // namespace coffer::cli
