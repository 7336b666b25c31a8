#include "cli/record_input.h"

#include <gtest/gtest.h>

#include <set>

namespace coffer::cli {
namespace {

TEST(RecordInputTest, BuildsCredential) {
  auto record = BuildRecord(v1::RECORD_TYPE_CREDENTIAL, "mail",
                            {{"login", "alice"}, {"password", "pw"}, {"url", "https://x"}},
                            {"site=x", "tag=a=b"});
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->type(), v1::RECORD_TYPE_CREDENTIAL);
  EXPECT_EQ(record->name(), "mail");
  EXPECT_EQ(record->credential().login(), "alice");
  EXPECT_EQ(record->credential().password(), "pw");
  EXPECT_EQ(record->metadata().at("site"), "x");
  EXPECT_EQ(record->metadata().at("tag"), "a=b");
}

TEST(RecordInputTest, EveryTypeGetsItsPayloadEvenWithoutFields) {
  for (auto type :
       {v1::RECORD_TYPE_CREDENTIAL, v1::RECORD_TYPE_TEXT, v1::RECORD_TYPE_CARD, v1::RECORD_TYPE_OTP,
        v1::RECORD_TYPE_INSTRUMENT, v1::RECORD_TYPE_FILE, v1::RECORD_TYPE_SEALED}) {
    auto record = BuildRecord(type, "n", {}, {});
    ASSERT_TRUE(record.ok());
    EXPECT_NE(record->payload_case(), v1::Record::PAYLOAD_NOT_SET) << type;
    EXPECT_FALSE(FieldSpecsFor(type).empty());
  }
}

TEST(RecordInputTest, RequiresName) {
  EXPECT_EQ(BuildRecord(v1::RECORD_TYPE_TEXT, "", {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RecordInputTest, RejectsFieldOfAnotherType) {
  auto record = BuildRecord(v1::RECORD_TYPE_TEXT, "n", {{"ticker", "AAPL"}}, {});
  EXPECT_EQ(record.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(record.status().message()).find("text record"), std::string::npos);
}

TEST(RecordInputTest, ParsesCardExpiryAndNumber) {
  auto record = BuildRecord(v1::RECORD_TYPE_CARD, "visa",
                            {{"number", "4111 1111-1111 1111"}, {"expiry", "07/29"}}, {});
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->card().number(), "4111111111111111");
  EXPECT_EQ(record->card().expiry_month(), 7u);
  EXPECT_EQ(record->card().expiry_year(), 2029u);

  v1::Record card;
  card.set_type(v1::RECORD_TYPE_CARD);
  EXPECT_FALSE(ApplyField(card, "expiry", "13/2030").ok());
  EXPECT_FALSE(ApplyField(card, "expiry", "2030").ok());
  EXPECT_FALSE(ApplyField(card, "number", "4111x").ok());
  EXPECT_TRUE(ApplyField(card, "expiry", "12/2030").ok());
  EXPECT_EQ(card.card().expiry_year(), 2030u);
}

TEST(RecordInputTest, ParsesOtpFields) {
  auto record = BuildRecord(v1::RECORD_TYPE_OTP, "gh",
                            {{"secret", "gezd gnbv gy3t qojq"},
                             {"kind", "HOTP"},
                             {"algorithm", "sha256"},
                             {"digits", "8"},
                             {"counter", "42"}},
                            {});
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->otp().secret_base32(), "GEZDGNBVGY3TQOJQ");
  EXPECT_EQ(record->otp().kind(), v1::OTP_KIND_HOTP);
  EXPECT_EQ(record->otp().algorithm(), v1::OTP_ALGORITHM_SHA256);
  EXPECT_EQ(record->otp().digits(), 8u);
  EXPECT_EQ(record->otp().counter(), 42u);

  v1::Record otp;
  otp.set_type(v1::RECORD_TYPE_OTP);
  EXPECT_FALSE(ApplyField(otp, "secret", "not base32!").ok());
  EXPECT_FALSE(ApplyField(otp, "secret", "  ").ok());
  EXPECT_FALSE(ApplyField(otp, "digits", "5").ok());
  EXPECT_FALSE(ApplyField(otp, "digits", "six").ok());
  EXPECT_FALSE(ApplyField(otp, "period", "0").ok());
  EXPECT_FALSE(ApplyField(otp, "kind", "sms").ok());
  EXPECT_FALSE(ApplyField(otp, "algorithm", "md5").ok());
}

TEST(RecordInputTest, ParsesFileRefAndInstrument) {
  auto file = BuildRecord(v1::RECORD_TYPE_FILE, "f",
                          {{"blob_id", "b1"},
                           {"size_bytes", "1024"},
                           {"sha256", std::string(64, 'A')},
                           {"file_name", "a.pdf"}},
                          {});
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->file().size_bytes(), 1024u);
  EXPECT_EQ(file->file().sha256_hex(), std::string(64, 'a'));
  EXPECT_FALSE(BuildRecord(v1::RECORD_TYPE_FILE, "f", {{"sha256", "abc"}}, {}).ok());
  EXPECT_FALSE(BuildRecord(v1::RECORD_TYPE_FILE, "f", {{"size_bytes", "-1"}}, {}).ok());

  auto inst = BuildRecord(v1::RECORD_TYPE_INSTRUMENT, "apple",
                          {{"ticker", "AAPL"}, {"exchange", "XNAS"}, {"kind", "stock"}}, {});
  ASSERT_TRUE(inst.ok());
  EXPECT_EQ(inst->instrument().ticker(), "AAPL");
  EXPECT_EQ(inst->instrument().kind(), "stock");
}

TEST(RecordInputTest, SecretsAreNeverPlainFlags) {
  for (auto type : {v1::RECORD_TYPE_CREDENTIAL, v1::RECORD_TYPE_CARD, v1::RECORD_TYPE_OTP}) {
    for (const auto& spec : FieldSpecsFor(type)) {
      if (spec.name == "password" || spec.name == "number" || spec.name == "cvv" ||
          spec.name == "secret") {
        EXPECT_EQ(spec.input, FieldInput::kSecret) << spec.name;
      }
    }
  }
}

TEST(RecordInputTest, AllFieldSpecsHasUniqueFlags) {
  std::set<std::string> flags;
  for (const auto& spec : AllFieldSpecs()) EXPECT_TRUE(flags.insert(spec.flag).second) << spec.flag;
  EXPECT_TRUE(flags.count("password"));
  EXPECT_TRUE(flags.count("blob-id"));
  EXPECT_TRUE(flags.count("ticker"));
}

TEST(RecordInputTest, MetadataSetAndUnset) {
  v1::Record r;
  (*r.mutable_metadata())["old"] = "1";
  ASSERT_TRUE(ApplyMetadata(r, {"k=v", "empty="}, {"old"}).ok());
  EXPECT_EQ(r.metadata().at("k"), "v");
  EXPECT_EQ(r.metadata().at("empty"), "");
  EXPECT_EQ(r.metadata().count("old"), 0u);
  EXPECT_FALSE(ApplyMetadata(r, {"novalue"}, {}).ok());
  EXPECT_FALSE(ApplyMetadata(r, {"=v"}, {}).ok());
}

TEST(RecordInputTest, MetaFilter) {
  auto key_only = ParseMetaFilter("bank");
  ASSERT_TRUE(key_only.ok());
  EXPECT_EQ(key_only->first, "bank");
  EXPECT_FALSE(key_only->second.has_value());
  auto entry = ParseMetaFilter("bank=ing");
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->second, "ing");
  EXPECT_FALSE(ParseMetaFilter("=x").ok());
  EXPECT_FALSE(ParseMetaFilter("").ok());
}

}  // namespace
}  // namespace coffer::cli
