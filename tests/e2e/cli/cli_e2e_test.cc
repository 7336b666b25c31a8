// End-to-end: the built `coffer` CLI against coffer-identity and one coffer-vault shard, both
// started as processes on loopback ports chosen by the kernel, each with a fresh PostgreSQL
// database (PgTestDatabase). Every test registers its own user with its own config directory.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pkg/testing/pg_test_database.h"
#include "pkg/testing/process.h"
#include "tests/e2e/cli/cli_runner.h"

namespace coffer::cli {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRfc6238SecretBase32[] =
    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";            // "12345678901234567890"
constexpr char kPassword[] = "e2e-password-0123";  // identity wants at least 12 characters

using testing::ChildProcess;
using testing::ReadWholeFile;

using e2e::CliResult;
using e2e::RunCli;
using e2e::StartServer;

// RFC 6238 TOTP with HMAC-SHA-1 for time step `counter`, `digits` digits.
std::string Totp(const std::string& key, uint64_t counter, int digits) {
  unsigned char msg[8];
  for (int i = 7; i >= 0; --i) {
    msg[i] = static_cast<unsigned char>(counter & 0xff);
    counter >>= 8;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), msg, sizeof(msg), mac, &mac_len);
  int offset = mac[mac_len - 1] & 0x0f;
  uint32_t binary = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                    (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                    (static_cast<uint32_t>(mac[offset + 2]) << 8) | mac[offset + 3];
  uint32_t mod = 1;
  for (int i = 0; i < digits; ++i) mod *= 10;
  std::string code = std::to_string(binary % mod);
  return std::string(static_cast<size_t>(digits) - code.size(), '0') + code;
}

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

class CliE2eTest : public ::testing::Test {
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
    char tmpl[] = "/tmp/coffer-cli-e2e-XXXXXX";
    work_dir_ = new std::string(::mkdtemp(tmpl));

    int identity_port = 0;
    identity_ = StartServer("identity", e2e::TestIdentityArgv(identity_db_->dsn(), Kek()),
                            *work_dir_ + "/identity.log", &identity_port)
                    .release();
    if (identity_port == 0) {
      setup_error_ = new std::string("identity did not start:\n" + identity_->Log());
      return;
    }
    identity_addr_ = new std::string("127.0.0.1:" + std::to_string(identity_port));
    int vault_port = 0;
    vault_ = StartServer("vault",
                         {COFFER_VAULT_BIN, "--shard-id", "shard-a", "--grpc-addr", "127.0.0.1:0",
                          "--admin-addr", "127.0.0.1:0", "--db-dsn", vault_db_->dsn(), "--kek",
                          Kek(), "--identity-addr", *identity_addr_},
                         *work_dir_ + "/vault.log", &vault_port)
                 .release();
    if (vault_port == 0) {
      setup_error_ = new std::string("vault did not start:\n" + vault_->Log());
      return;
    }
    vault_addr_ = new std::string("127.0.0.1:" + std::to_string(vault_port));
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
    char tmpl[] = "/tmp/coffer-cli-e2e-cfg-XXXXXX";
    config_dir_ = ::mkdtemp(tmpl);
    env_ = {{"COFFER_CONFIG_DIR", config_dir_},
            {"COFFER_IDENTITY_ADDR", *identity_addr_},
            {"COFFER_VAULT_ADDR", *vault_addr_}};
    login_ = "e2e-" + RandomSuffix();
  }

  void TearDown() override {
    if (!config_dir_.empty()) std::filesystem::remove_all(config_dir_);
    if (HasFailure() && vault_ != nullptr) {
      std::cerr << "--- identity log ---\n"
                << identity_->Log() << "--- vault log ---\n"
                << vault_->Log();
    }
  }

  CliResult Cli(const std::vector<std::string>& args, const std::string& stdin_text = "") {
    return RunCli(args, stdin_text, env_);
  }

  // Runs with -o json, expects exit 0 and returns the parsed output.
  json CliJson(std::vector<std::string> args, const std::string& stdin_text = "") {
    args.insert(args.begin(), {"-o", "json"});
    CliResult r = Cli(args, stdin_text);
    EXPECT_EQ(r.exit_code, 0) << "coffer " << ::testing::PrintToString(args) << ": " << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  void RegisterAndLogin() {
    CliResult reg = Cli({"register", login_, "--password-stdin"}, std::string(kPassword) + "\n");
    ASSERT_EQ(reg.exit_code, 0) << reg.err;
    CliResult in = Cli({"login", login_, "--password-stdin"}, std::string(kPassword) + "\n");
    ASSERT_EQ(in.exit_code, 0) << in.err;
  }

  std::string AddCredential(const std::string& name, const std::string& password) {
    json r = CliJson({"add", "credential", "--name", name, "--login", "alice@example.com", "--url",
                      "https://example.com", "--meta", "site=example", "--password-stdin"},
                     password + "\n");
    return r.value("id", "");
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

  std::string config_dir_;
  std::map<std::string, std::string> env_;
  std::string login_;
};

TEST_F(CliE2eTest, RegisterLoginWhoamiLogout) {
  RegisterAndLogin();
  struct stat st {};
  ASSERT_EQ(::stat((config_dir_ + "/tokens.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(config_dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  json who = CliJson({"whoami"});
  EXPECT_EQ(who["login"], login_);
  EXPECT_FALSE(who["sub"].get<std::string>().empty());

  CliResult wrong = Cli({"login", login_, "--password-stdin"}, "not-the-password\n");
  EXPECT_EQ(wrong.exit_code, 5) << wrong.err;

  CliResult out = Cli({"logout"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  CliResult after = Cli({"ls"});
  EXPECT_EQ(after.exit_code, 5);
  EXPECT_THAT(after.err, HasSubstr("coffer login"));
}

TEST_F(CliE2eTest, AddEveryTypeListAndSearch) {
  RegisterAndLogin();
  ASSERT_FALSE(AddCredential("mail", "pw-one-secret").empty());
  CliJson({"add", "text", "--name", "recipe", "--text", "flour, water", "--meta", "kind=food"});
  CliJson({"add", "card", "--name", "visa", "--holder", "ALICE", "--expiry", "12/2030", "--bank",
           "ING", "--number-stdin", "--cvv-stdin"},
          "4111111111111111\n123\n");
  CliJson({"add", "otp", "--name", "github-2fa", "--issuer", "GitHub", "--secret-stdin"},
          std::string(kRfc6238SecretBase32) + "\n");
  CliJson({"add", "instrument", "--name", "apple", "--ticker", "AAPL", "--exchange", "XNAS",
           "--currency", "USD", "--kind", "stock"});
  CliJson({"add", "sealed", "--name", "blob", "--key-id", "k", "--algorithm", "x",
           "--ciphertext-file", "-"},
          std::string("\x01\x02\x03", 3));
  CliJson({"add", "file-ref", "--name", "scan", "--size-bytes", "3", "--sha256",
           std::string(64, 'a'), "--file-name", "scan.pdf"});

  json all = CliJson({"ls"});
  std::set<std::string> types;
  for (const auto& r : all["records"]) types.insert(r["type"].get<std::string>());
  EXPECT_EQ(types, (std::set<std::string>{"credential", "text", "card", "otp", "instrument",
                                          "sealed", "file-ref"}))
      << all.dump();

  CliResult table = Cli({"ls"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_THAT(table.out, HasSubstr("NAME"));
  EXPECT_THAT(table.out, HasSubstr("github-2fa"));
  EXPECT_THAT(table.out, Not(HasSubstr("pw-one-secret")));

  json cards = CliJson({"ls", "--type", "card"});
  ASSERT_EQ(cards["records"].size(), 1u);
  EXPECT_TRUE(cards["records"][0]["payload"]["number"].is_null());
  json food = CliJson({"ls", "--meta", "kind=food"});
  ASSERT_EQ(food["records"].size(), 1u);
  EXPECT_EQ(food["records"][0]["name"], "recipe");
  json prefixed = CliJson({"ls", "--prefix", "GIT"});
  ASSERT_EQ(prefixed["records"].size(), 1u);

  json found = CliJson({"search", "github"});
  ASSERT_EQ(found["records"].size(), 1u);
  EXPECT_EQ(found["records"][0]["name"], "github-2fa");

  CliResult get = Cli({"get", "mail"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_THAT(get.out, Not(HasSubstr("pw-one-secret")));
  CliResult reveal = Cli({"get", "mail", "--field", "password", "--reveal"});
  EXPECT_EQ(reveal.out, "pw-one-secret\n");
  json card = CliJson({"get", "visa", "--reveal"});
  EXPECT_EQ(card["payload"]["number"], "4111111111111111");
  EXPECT_EQ(card["payload"]["cvv"], "123");
  json sealed = CliJson({"get", "blob", "--reveal"});
  EXPECT_EQ(sealed["payload"]["ciphertext"], "AQID");
}

TEST_F(CliE2eTest, StaleEditIsAConflictWithExitCodeFour) {
  RegisterAndLogin();
  std::string id = AddCredential("bank", "pw-bank-secret");
  ASSERT_FALSE(id.empty());
  json edited = CliJson({"edit", id, "--login", "bob@example.com"});
  EXPECT_EQ(edited["version"], 2);

  CliResult stale = Cli({"edit", id, "--expected-version", "1", "--url", "https://mine.example"});
  EXPECT_EQ(stale.exit_code, 4) << stale.out << stale.err;
  EXPECT_THAT(stale.out, HasSubstr("YOUR CHANGE"));
  EXPECT_THAT(stale.out, HasSubstr("https://mine.example"));
  EXPECT_THAT(stale.out, HasSubstr("bob@example.com"));
  EXPECT_THAT(stale.out, Not(HasSubstr("pw-bank-secret")));

  json head = CliJson({"get", id});
  EXPECT_EQ(head["version"], 2);
  EXPECT_EQ(head["payload"]["url"], "https://example.com");
}

TEST_F(CliE2eTest, HistoryAndRestore) {
  RegisterAndLogin();
  std::string id = AddCredential("router", "pw-first-secret");
  ASSERT_FALSE(id.empty());
  CliJson({"edit", id, "--password-stdin"}, "pw-second-secret\n");
  json history = CliJson({"history", id});
  ASSERT_EQ(history["versions"].size(), 2u) << history.dump();
  EXPECT_EQ(history["versions"][0]["version"], 2);
  EXPECT_EQ(history["versions"][1]["version"], 1);

  json restored = CliJson({"restore", id, "--version", "1"});
  EXPECT_EQ(restored["version"], 3);
  CliResult pw = Cli({"get", id, "--field", "password", "--reveal"});
  EXPECT_EQ(pw.out, "pw-first-secret\n");
  json old = CliJson({"get", id, "--version", "2", "--reveal"});
  EXPECT_EQ(old["payload"]["password"], "pw-second-secret");
}

TEST_F(CliE2eTest, TrashAndUndelete) {
  RegisterAndLogin();
  std::string id = AddCredential("old-account", "pw-old-secret");
  ASSERT_FALSE(id.empty());
  CliJson({"rm", id});
  EXPECT_TRUE(CliJson({"ls"})["records"].empty());
  json trash = CliJson({"trash"});
  ASSERT_EQ(trash["records"].size(), 1u);
  EXPECT_EQ(trash["records"][0]["id"], id);
  CliResult again = Cli({"rm", id});
  EXPECT_EQ(again.exit_code, 4);

  json back = CliJson({"undelete", "old-account"});
  EXPECT_EQ(back["deleted"], false);
  EXPECT_EQ(CliJson({"ls"})["records"].size(), 1u);
  EXPECT_TRUE(CliJson({"trash"})["records"].empty());

  CliResult missing = Cli({"get", "00000000-0000-4000-8000-000000000000"});
  EXPECT_EQ(missing.exit_code, 2);
}

TEST_F(CliE2eTest, OtpCodeMatchesRfc6238) {
  const std::string key = "12345678901234567890";
  // The test's own TOTP matches the RFC 6238 appendix B vector (SHA-1, T = 59 s, 8 digits).
  ASSERT_EQ(Totp(key, 59 / 30, 8), "94287082");
  ASSERT_EQ(Totp(key, 1111111109 / 30, 8), "07081804");

  RegisterAndLogin();
  CliJson({"add", "otp", "--name", "rfc6238", "--digits", "8", "--secret-stdin"},
          std::string(kRfc6238SecretBase32) + "\n");
  const uint64_t before = static_cast<uint64_t>(std::time(nullptr)) / 30;
  json otp = CliJson({"otp", "rfc6238"});
  const uint64_t after = static_cast<uint64_t>(std::time(nullptr)) / 30;
  std::set<std::string> allowed;
  for (uint64_t t = before - 1; t <= after + 1; ++t) allowed.insert(Totp(key, t, 8));
  EXPECT_TRUE(allowed.count(otp["code"].get<std::string>())) << otp.dump();
  EXPECT_EQ(otp["period"], 30);
  EXPECT_LE(otp["seconds_remaining"].get<int>(), 30);

  CliResult quiet = Cli({"otp", "rfc6238", "--quiet"});
  EXPECT_EQ(quiet.exit_code, 0);
  EXPECT_EQ(quiet.out.size(), 9u) << quiet.out;  // 8 digits and a newline
}

TEST_F(CliE2eTest, FileUploadInfoDownloadAndAttach) {
  RegisterAndLogin();
  const std::string dir = config_dir_ + "/files";
  std::filesystem::create_directories(dir);
  std::string content;
  for (size_t i = 0; i < 300 * 1024 + 5; ++i) content.push_back(static_cast<char>(i * 7919 % 251));
  {
    std::ofstream f(dir + "/scan.bin", std::ios::binary);
    f << content;
  }
  json up = CliJson({"file", "upload", dir + "/scan.bin", "--content-type", "image/png"});
  const std::string blob = up.value("blob_id", "");
  ASSERT_FALSE(blob.empty()) << up.dump();
  EXPECT_EQ(up["size_bytes"], content.size());

  json info = CliJson({"file", "info", blob});
  EXPECT_EQ(info["file_name"], "scan.bin");
  EXPECT_EQ(info["content_type"], "image/png");
  EXPECT_EQ(info["chunk_count"], 2);

  const std::string out = dir + "/copy.bin";
  json got = CliJson({"file", "download", blob, "-O", out});
  EXPECT_EQ(got["path"], out);
  std::ifstream in(out, std::ios::binary);
  std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(back, content);
  EXPECT_FALSE(std::filesystem::exists(out + ".part"));
  CliResult again = Cli({"file", "download", blob, "-O", out});
  EXPECT_EQ(again.exit_code, 4) << again.err;  // exists: conflict, untouched
  EXPECT_THAT(again.err, HasSubstr("--force"));
  EXPECT_EQ(Cli({"file", "download", blob, "-O", out, "--force"}).exit_code, 0);
  CliResult missing = Cli({"file", "info", "00000000-0000-4000-8000-000000000000"});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;  // not found

  // Into a file record: its next version points at the content.
  json rec = CliJson({"add", "file-ref", "--name", "passport", "--file-name", "draft.png"});
  const std::string id = rec.value("id", "");
  ASSERT_FALSE(id.empty());
  json attached = CliJson({"file", "upload", dir + "/scan.bin", "--name", "passport.png",
                           "--record", id, "--expected-version", "1"});
  EXPECT_EQ(attached["blob_id"], blob);  // same content in the same space: the same blob
  EXPECT_EQ(attached["record"]["version"], 2);
  json shown = CliJson({"get", id});
  EXPECT_EQ(shown.dump().find(blob) != std::string::npos, true) << shown.dump();
  CliResult stale =
      Cli({"file", "upload", dir + "/scan.bin", "--record", id, "--expected-version", "1"});
  EXPECT_EQ(stale.exit_code, 4) << stale.err;
}

TEST_F(CliE2eTest, SyncPrintsOnlyWhatChangedSinceTheLastRun) {
  RegisterAndLogin();
  AddCredential("synced", "pw-sync-secret");
  json first = CliJson({"sync"});
  ASSERT_EQ(first["changes"].size(), 1u) << first.dump();
  EXPECT_EQ(first["changes"][0]["name"], "synced");
  EXPECT_EQ(first["reset"], false);
  EXPECT_EQ(first.dump().find("pw-sync-secret"), std::string::npos);  // secrets stay hidden
  // The cursor is remembered: nothing new, then only the next change.
  json second = CliJson({"sync"});
  EXPECT_TRUE(second["changes"].empty()) << second.dump();
  EXPECT_EQ(second["next_cursor"], first["next_cursor"]);
  AddCredential("later", "pw-later-secret");
  json third = CliJson({"sync"});
  ASSERT_EQ(third["changes"].size(), 1u) << third.dump();
  EXPECT_EQ(third["changes"][0]["name"], "later");
  // --from-start reads everything again.
  json all = CliJson({"sync", "--from-start"});
  EXPECT_EQ(all["changes"].size(), 2u) << all.dump();
  CliResult text = Cli({"sync"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("no changes"));
}

}  // namespace
}  // namespace coffer::cli
