#include "services/vault/service/record_cipher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pkg/crypto/encoding.h"
#include "pkg/testing/status_matchers.h"

namespace coffer::vault::service {
namespace {

using ::coffer::testing::StatusIs;

crypto::Keyring MakeKeyring(const std::string& spec) { return *crypto::Keyring::Parse(spec); }

domain::Revision Sample() {
  domain::Revision r;
  r.space_id = "11111111-1111-4111-8111-111111111111";
  r.record_id = "22222222-2222-4222-8222-222222222222";
  r.type = domain::RecordType::kCredential;
  r.stamp.version = 3;
  r.content.name = "bank login";
  r.content.metadata = {{"site", "bank.example"}};
  r.content.payload = domain::CredentialPayload{"alice", "hunter2-secret", "https://b", ""};
  return r;
}

const std::string kK1 = "k1:" + crypto::Base64Encode(std::string(32, '\x01'));
const std::string kK2 = "k2:" + crypto::Base64Encode(std::string(32, '\x02'));

TEST(RecordCipherTest, RoundTripAndNoPlaintextInCiphertexts) {
  crypto::Keyring keyring = MakeKeyring(kK1);
  RecordCipher cipher(keyring);
  COFFER_ASSERT_OK_AND_ASSIGN(auto stored, cipher.Seal(Sample()));
  EXPECT_EQ(stored.key_id, "k1");
  for (const std::string* ct : {&stored.name_ct, &stored.metadata_ct, &stored.payload_ct}) {
    EXPECT_EQ(ct->find("bank"), std::string::npos);
    EXPECT_EQ(ct->find("hunter2"), std::string::npos);
    EXPECT_EQ(ct->find("alice"), std::string::npos);
  }
  COFFER_ASSERT_OK_AND_ASSIGN(auto opened, cipher.Open(stored));
  EXPECT_EQ(opened.content, Sample().content);
}

TEST(RecordCipherTest, AssociatedDataBindsSpaceRecordVersionAndField) {
  crypto::Keyring keyring = MakeKeyring(kK1);
  RecordCipher cipher(keyring);
  COFFER_ASSERT_OK_AND_ASSIGN(auto stored, cipher.Seal(Sample()));
  auto moved = stored;
  moved.stamp.version = 4;
  EXPECT_THAT(cipher.Open(moved), StatusIs(absl::StatusCode::kDataLoss));
  moved = stored;
  moved.record_id = "33333333-3333-4333-8333-333333333333";
  EXPECT_THAT(cipher.Open(moved), StatusIs(absl::StatusCode::kDataLoss));
  moved = stored;
  std::swap(moved.name_ct, moved.metadata_ct);
  EXPECT_THAT(cipher.Open(moved), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(RecordCipherTest, RotatedKeyringStillOpensOldRows) {
  crypto::Keyring old_keys = MakeKeyring(kK1);
  COFFER_ASSERT_OK_AND_ASSIGN(auto stored, RecordCipher(old_keys).Seal(Sample()));
  crypto::Keyring rotated = MakeKeyring(kK2 + "," + kK1);  // k2 is primary now
  RecordCipher cipher(rotated);
  COFFER_ASSERT_OK_AND_ASSIGN(auto opened, cipher.Open(stored));
  EXPECT_EQ(opened.content.name, "bank login");
  COFFER_ASSERT_OK_AND_ASSIGN(auto resealed, cipher.Seal(opened));
  EXPECT_EQ(resealed.key_id, "k2");
  crypto::Keyring only_new = MakeKeyring(kK2);
  EXPECT_THAT(RecordCipher(only_new).Open(stored), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(RecordCipherTest, TokensAreBoundToSpaceAndPurpose) {
  crypto::Keyring keyring = MakeKeyring(kK1);
  RecordCipher cipher(keyring);
  COFFER_ASSERT_OK_AND_ASSIGN(std::string token, cipher.SealToken("s1", "list", "secret name"));
  EXPECT_EQ(token.find("secret"), std::string::npos);
  COFFER_ASSERT_OK_AND_ASSIGN(std::string plain, cipher.OpenToken("s1", "list", token));
  EXPECT_EQ(plain, "secret name");
  EXPECT_THAT(cipher.OpenToken("s2", "list", token), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(cipher.OpenToken("s1", "search", token),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(cipher.OpenToken("s1", "list", "garbage!"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace coffer::vault::service
