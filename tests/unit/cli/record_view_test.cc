#include "cli/record_view.h"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

namespace coffer::cli {
namespace {

v1::Record Credential() {
  v1::Record r;
  r.set_id("11111111-2222-3333-4444-555555555555");
  r.set_type(v1::RECORD_TYPE_CREDENTIAL);
  r.set_name("mail");
  (*r.mutable_metadata())["site"] = "example.com";
  r.mutable_credential()->set_login("alice");
  r.mutable_credential()->set_password("hunter22");
  r.set_version(3);
  return r;
}

TEST(RecordViewTest, TypeNamesRoundTrip) {
  for (const auto& name : RecordTypeNames()) {
    auto type = ParseRecordType(name);
    ASSERT_TRUE(type.has_value()) << name;
    EXPECT_EQ(RecordTypeName(*type), name);
  }
  EXPECT_EQ(ParseRecordType("file"), v1::RECORD_TYPE_FILE);
  EXPECT_EQ(ParseRecordType("password"), std::nullopt);
  EXPECT_EQ(RecordTypeNames().size(), 7u);
}

TEST(RecordViewTest, JsonHidesSecretsUnlessRevealed) {
  nlohmann::json hidden = RecordToJson(Credential(), false);
  EXPECT_TRUE(hidden["payload"]["password"].is_null());
  EXPECT_EQ(hidden["payload"]["login"], "alice");
  EXPECT_EQ(hidden["type"], "credential");
  EXPECT_EQ(hidden["version"], 3);
  EXPECT_EQ(hidden["metadata"]["site"], "example.com");
  EXPECT_EQ(hidden.dump().find("hunter22"), std::string::npos);

  nlohmann::json shown = RecordToJson(Credential(), true);
  EXPECT_EQ(shown["payload"]["password"], "hunter22");
}

TEST(RecordViewTest, DetailsMaskSecrets) {
  std::string text = RecordDetails(Credential(), false).Render();
  EXPECT_EQ(text.find("hunter22"), std::string::npos);
  EXPECT_NE(text.find("password:   ********\n"), std::string::npos) << text;
  EXPECT_NE(text.find("meta.site:"), std::string::npos);
  std::string revealed = RecordDetails(Credential(), true).Render();
  EXPECT_NE(revealed.find("hunter22"), std::string::npos);
}

TEST(RecordViewTest, CardShowsLastFourDigitsOnly) {
  v1::Record r;
  r.set_type(v1::RECORD_TYPE_CARD);
  r.mutable_card()->set_number("4111111111114242");
  r.mutable_card()->set_cvv("123");
  std::string text = RecordDetails(r, false).Render();
  EXPECT_NE(text.find("**** 4242"), std::string::npos) << text;
  EXPECT_EQ(text.find("4111"), std::string::npos);
  EXPECT_EQ(text.find("123"), std::string::npos);
}

TEST(RecordViewTest, SealedCiphertextIsBase64WhenRevealed) {
  v1::Record r;
  r.set_type(v1::RECORD_TYPE_SEALED);
  r.mutable_sealed()->set_ciphertext(std::string("\x00\x01\xff", 3));
  EXPECT_EQ(RecordToJson(r, true)["payload"]["ciphertext"], "AAH/");
  EXPECT_NE(RecordDetails(r, false).Render().find("<3 bytes>"), std::string::npos);
}

TEST(RecordViewTest, OtpDefaultsAreShown) {
  v1::Record r;
  r.set_type(v1::RECORD_TYPE_OTP);
  r.mutable_otp()->set_secret_base32("GEZDGNBV");
  auto json = RecordToJson(r, false);
  EXPECT_EQ(json["payload"]["digits"], 6);
  EXPECT_EQ(json["payload"]["period"], 30);
  EXPECT_EQ(json["payload"]["kind"], "totp");
  EXPECT_TRUE(json["payload"]["secret"].is_null());
}

TEST(RecordViewTest, ListRowFlagsTrashAndConflicts) {
  v1::Record r = Credential();
  r.set_deleted(true);
  r.set_sibling_count(2);
  Table table = RecordListTable();
  AddRecordRow(table, r);
  std::string text = table.Render();
  EXPECT_NE(text.find("trash,conflict(2)"), std::string::npos) << text;
  EXPECT_NE(text.find(r.id()), std::string::npos);
}

// The whitespace-separated cells of the table line whose first cell is `field`.
std::vector<std::string> Cells(const std::string& table, const std::string& field) {
  std::istringstream lines(table);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::vector<std::string> cells;
    std::string word;
    while (words >> word) cells.push_back(word);
    if (!cells.empty() && cells[0] == field) return cells;
  }
  return {};
}

TEST(RecordViewTest, ConflictTableMarksDifferencesAndMasksSecrets) {
  v1::Record mine = Credential();
  mine.mutable_credential()->set_login("alice2");
  v1::Record server = Credential();
  server.set_version(4);
  server.mutable_credential()->set_password("other-secret");
  std::string text = ConflictTable(mine, server, false).Render();
  EXPECT_NE(text.find("SERVER (v4)"), std::string::npos) << text;
  EXPECT_EQ(Cells(text, "login"), (std::vector<std::string>{"login", "alice2", "alice", "*"}));
  EXPECT_EQ(Cells(text, "password"),
            (std::vector<std::string>{"password", "********", "********", "*"}));
  EXPECT_EQ(Cells(text, "name"), (std::vector<std::string>{"name", "mail", "mail"}));
  EXPECT_EQ(Cells(text, "meta.site"),
            (std::vector<std::string>{"meta.site", "example.com", "example.com"}));
  EXPECT_EQ(text.find("other-secret"), std::string::npos);
  EXPECT_NE(ConflictTable(mine, server, true).Render().find("other-secret"), std::string::npos);
}

}  // namespace
}  // namespace coffer::cli
