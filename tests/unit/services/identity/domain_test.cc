// Pure rules of the identity domain: login names, password policy, input validation, scopes,
// refresh-token verdicts and the signing-key schedule.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "services/identity/domain/key_schedule.h"
#include "services/identity/domain/login.h"
#include "services/identity/domain/password_policy.h"
#include "services/identity/domain/refresh_token.h"
#include "services/identity/domain/scopes.h"
#include "services/identity/domain/validation.h"

namespace coffer::identity {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const Time kT0 = Time(std::chrono::seconds(1'700'000'000));

TEST(LoginTest, NormalizesCaseAndAcceptsAllowedCharacters) {
  EXPECT_EQ(*NormalizeLogin("Alice@Example.COM"), "alice@example.com");
  EXPECT_EQ(*NormalizeLogin("a.b_c-d"), "a.b_c-d");
  EXPECT_EQ(*NormalizeLogin("abc"), "abc");
  EXPECT_EQ(*NormalizeLogin(std::string(64, 'x')), std::string(64, 'x'));
}

TEST(LoginTest, RejectsBadLengthAndCharacters) {
  EXPECT_TRUE(absl::IsInvalidArgument(NormalizeLogin("").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(NormalizeLogin("ab").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(NormalizeLogin(std::string(65, 'x')).status()));
  for (const char* bad : {"a b c", "abc!", "ab/c", "al\xC3\xA9x", "abc\n", "a+b"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(NormalizeLogin(bad).status())) << bad;
  }
  // The message never echoes the input.
  EXPECT_THAT(std::string(NormalizeLogin("secret!").status().message()),
              ::testing::Not(HasSubstr("secret")));
}

TEST(PasswordPolicyTest, EnforcesLengthUtf8AndLogin) {
  PasswordPolicy policy;  // min 12
  EXPECT_TRUE(CheckPassword(policy, "correct horse battery", "alice").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPassword(policy, "", "alice")));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPassword(policy, "short", "alice")));
  // 12 characters but made of 2-byte code points: counts characters, not bytes.
  std::string umlauts;
  for (int i = 0; i < 11; ++i) umlauts += "\xC3\xBC";
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPassword(policy, umlauts, "alice")));
  EXPECT_TRUE(CheckPassword(policy, umlauts + "\xC3\xBC", "alice").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPassword(policy, std::string(1025, 'p'), "alice")));
  EXPECT_TRUE(CheckPassword(policy, std::string(1024, 'p'), "alice").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPassword(policy, "abcdefghijk\xFF", "alice")));
  EXPECT_THAT(
      std::string(CheckPassword(policy, "Alice@Example.com", "alice@example.com").message()),
      HasSubstr("login"));
}

TEST(PasswordPolicyTest, MinimumIsConfigurable) {
  PasswordPolicy policy;
  policy.min_length = 20;
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPassword(policy, std::string(19, 'a'), "bob")));
  EXPECT_TRUE(CheckPassword(policy, std::string(20, 'a'), "bob").ok());
  policy.max_bytes = 30;
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPassword(policy, std::string(31, 'a'), "bob")));
}

TEST(ValidationTest, Utf8) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_EQ(CountCodePoints("a\xE2\x82\xAC"), 2u);
}

TEST(ValidationTest, StringFieldAndUuid) {
  EXPECT_TRUE(absl::IsInvalidArgument(CheckStringField("token", "", 10)));
  EXPECT_TRUE(CheckStringField("token", "", 10, /*required=*/false).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(CheckStringField("token", "12345678901", 10)));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckStringField("token", "\xFF", 10)));
  EXPECT_TRUE(IsUuid("123e4567-e89b-42d3-a456-426614174000"));
  EXPECT_FALSE(IsUuid("123e4567e89b42d3a456426614174000"));
  EXPECT_FALSE(IsUuid("123e4567-e89b-42d3-a456-42661417400g"));
}

TEST(ValidationTest, DisplayName) {
  EXPECT_TRUE(ValidateDisplayName("").ok());
  EXPECT_TRUE(ValidateDisplayName("Alice Smith").ok());
  EXPECT_TRUE(ValidateDisplayName("\xF0\x9F\x98\x80 Zo\xC3\xAB").ok());  // emoji, e-diaeresis
  EXPECT_TRUE(ValidateDisplayName(std::string(64, 'x')).ok());
  std::string four_byte;  // 64 characters of 4 bytes: the byte bound is not the limit
  for (int i = 0; i < 64; ++i) four_byte += "\xF0\x9F\x98\x80";
  EXPECT_TRUE(ValidateDisplayName(four_byte).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateDisplayName(four_byte + "x")));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateDisplayName(std::string(65, 'x'))));
  EXPECT_TRUE(ValidateDisplayName("U+00A0 is not a control: \xC2\xA0").ok());
  for (const std::string& bad :
       {std::string("a\nb"), std::string("a\rb"), std::string("\x1B[31m"), std::string("a\x7F"),
        std::string("a\xC2\x80"), std::string("a\xC2\x9F"), std::string("a\0b", 3),
        std::string("a\xFF"), std::string("\xC0\xAF")}) {
    const absl::Status s = ValidateDisplayName(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << bad;
    EXPECT_THAT(std::string(s.message()), HasSubstr("display_name"));
  }
  // The message never echoes the value.
  EXPECT_THAT(std::string(ValidateDisplayName("secret\n").message()),
              ::testing::Not(HasSubstr("secret")));
}

TEST(ScopesTest, ParseNormalizeGrant) {
  EXPECT_THAT(*ParseScopeString("vault  identity.admin vault"),
              ElementsAre("identity.admin", "vault"));
  EXPECT_TRUE(ParseScopeString("")->empty());
  EXPECT_TRUE(absl::IsInvalidArgument(ParseScopeString("Vault").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateScope(std::string(65, 'a'))));
  EXPECT_TRUE(ScopeStringHas("a b c", "b"));
  EXPECT_FALSE(ScopeStringHas("ab c", "b"));
  EXPECT_EQ(JoinScopes({"a", "b"}), "a b");

  const std::vector<std::string> allowed = {"vault", "identity.introspect"};
  EXPECT_THAT(*GrantScopes("", allowed), ElementsAre("identity.introspect", "vault"));
  EXPECT_THAT(*GrantScopes("vault", allowed), ElementsAre("vault"));
  EXPECT_TRUE(absl::IsPermissionDenied(GrantScopes("identity.admin", allowed).status()));
  EXPECT_TRUE(ValidateServiceAccountName("vault-shard_a.1").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateServiceAccountName("no spaces")));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateClientId("")));
}

TEST(ScopesTest, ServiceAccountPageTokenDecodesOnlyWhatWasIssued) {
  const std::string token = EncodeServiceAccountPageToken("ci-deploy");
  EXPECT_EQ(token, "Y2ktZGVwbG95");
  auto name = DecodeServiceAccountPageToken(token);
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, "ci-deploy");
  for (const std::string& bad :
       std::vector<std::string>{"Y2ktZGVwbG95=", "YWJ", "+/+/", "YSBi", "", std::string(300, 'Y'),
                                EncodeServiceAccountPageToken(std::string(65, 'a'))}) {
    auto decoded = DecodeServiceAccountPageToken(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(decoded.status())) << bad;
    EXPECT_EQ(decoded.status().message(), "page_token is invalid");
  }
}

TEST(RefreshTokenTest, Classification) {
  RefreshToken t;
  t.expires_at = kT0 + hours(1);
  RefreshFamily f;
  EXPECT_EQ(ClassifyRefreshToken(t, f, kT0), RefreshVerdict::kValid);
  EXPECT_EQ(ClassifyRefreshToken(t, f, kT0 + hours(1)), RefreshVerdict::kExpired);
  f.revoked_at = kT0;
  EXPECT_EQ(ClassifyRefreshToken(t, f, kT0), RefreshVerdict::kRevoked);
  t.used_at = kT0;
  // Reuse wins over revoked and expired: it must always (re)revoke the family.
  EXPECT_EQ(ClassifyRefreshToken(t, f, kT0 + hours(2)), RefreshVerdict::kReused);
  EXPECT_TRUE(absl::IsUnauthenticated(RefreshVerdictToStatus(RefreshVerdict::kReused)));
  EXPECT_THAT(std::string(RefreshVerdictToStatus(RefreshVerdict::kReused).message()),
              HasSubstr("reuse"));
  EXPECT_TRUE(RefreshVerdictToStatus(RefreshVerdict::kValid).ok());
  EXPECT_TRUE(LooksLikeRefreshToken("cfr_abc"));
  EXPECT_FALSE(LooksLikeRefreshToken("cfr_"));
  EXPECT_FALSE(LooksLikeRefreshToken("eyJ.a.b"));
}

SigningKey Key(std::int64_t gen, Time created, std::optional<Time> activates = std::nullopt) {
  SigningKey k;
  k.kid = "k" + std::to_string(gen);
  k.generation = gen;
  k.created_at = created;
  k.activates_at = activates;
  return k;
}

TEST(KeyScheduleTest, RotationDue) {
  KeySchedule s;
  s.rotation_interval = hours(24);
  s.prepublication = seconds(0);
  EXPECT_TRUE(RotationDue({}, s, kT0));
  std::vector<SigningKey> keys = {Key(1, kT0)};
  EXPECT_FALSE(RotationDue(keys, s, kT0 + hours(23)));
  EXPECT_TRUE(RotationDue(keys, s, kT0 + hours(24)));
  s.rotation_interval = seconds(0);
  EXPECT_FALSE(RotationDue(keys, s, kT0 + hours(1000)));
  EXPECT_EQ(CurrentKey({Key(2, kT0), Key(3, kT0), Key(1, kT0)}, kT0)->generation, 3);
}

// With pre-publication the next key is created `prepublication` before the current key reaches
// the rotation age, so that it activates on time; while it waits, no second key is made.
TEST(KeyScheduleTest, RotationDueEarlyByThePrepublicationPeriod) {
  KeySchedule s;
  s.rotation_interval = hours(24);
  s.prepublication = seconds(60);
  std::vector<SigningKey> keys = {Key(1, kT0)};
  EXPECT_FALSE(RotationDue(keys, s, kT0 + hours(24) - seconds(61)));
  EXPECT_TRUE(RotationDue(keys, s, kT0 + hours(24) - seconds(60)));
  const Time created = kT0 + hours(24) - seconds(60);
  EXPECT_EQ(ActivationTimeForNewKey(s, created, /*first=*/false), kT0 + hours(24));
  EXPECT_EQ(ActivationTimeForNewKey(s, created, /*first=*/true), created);
  keys.push_back(Key(2, created, kT0 + hours(24)));
  EXPECT_FALSE(RotationDue(keys, s, created));
  EXPECT_FALSE(RotationDue(keys, s, kT0 + hours(24) - seconds(1)));
  // Key 2 signs from its activation; its own rotation is due a day later, less a minute.
  EXPECT_FALSE(RotationDue(keys, s, kT0 + hours(48) - seconds(61)));
  EXPECT_TRUE(RotationDue(keys, s, kT0 + hours(48) - seconds(60)));
}

TEST(KeyScheduleTest, NextKeySignsOnlyFromItsActivationTime) {
  const Time activation = kT0 + hours(1) + seconds(60);
  std::vector<SigningKey> keys = {Key(1, kT0), Key(2, kT0 + hours(1), activation)};
  EXPECT_EQ(CurrentKey(keys, activation - seconds(1))->kid, "k1");
  EXPECT_EQ(NextKey(keys, activation - seconds(1))->kid, "k2");
  EXPECT_EQ(CurrentKey(keys, activation)->kid, "k2");
  EXPECT_EQ(NextKey(keys, activation), nullptr);
  // A replica whose clock runs behind the first key's creation still signs with it.
  EXPECT_EQ(CurrentKey({Key(1, kT0)}, kT0 - seconds(5))->kid, "k1");
  EXPECT_EQ(CurrentKey({}, kT0), nullptr);
}

TEST(KeyScheduleTest, NextKeyIsPublishedBeforeItSigns) {
  KeySchedule s;
  s.retention = minutes(20);
  const Time activation = kT0 + hours(1) + seconds(60);
  std::vector<SigningKey> keys = {Key(1, kT0), Key(2, kT0 + hours(1), activation)};
  auto at = [&](Time now) {
    std::vector<std::string> out;
    for (const auto& p : PublishedKeys(keys, s, now)) {
      const char* state = p.state == KeyState::kCurrent ? "current"
                          : p.state == KeyState::kNext  ? "next"
                                                        : "retired";
      out.push_back(p.key.kid + ":" + state);
    }
    return out;
  };
  EXPECT_THAT(at(kT0 + hours(1)), ElementsAre("k1:current", "k2:next"));
  EXPECT_THAT(at(activation - seconds(1)), ElementsAre("k1:current", "k2:next"));
  // Key 1 is superseded when key 2 activates, not when key 2 was created.
  EXPECT_THAT(at(activation), ElementsAre("k2:current", "k1:retired"));
  EXPECT_THAT(at(activation + minutes(20) - seconds(1)), ElementsAre("k2:current", "k1:retired"));
  EXPECT_THAT(at(activation + minutes(20)), ElementsAre("k2:current"));
}

TEST(KeyScheduleTest, SupersededKeysStayPublishedForRetention) {
  KeySchedule s;
  s.retention = minutes(20);
  // Keys without a stored activation time (rows from before V003) sign from their creation.
  std::vector<SigningKey> keys = {Key(1, kT0), Key(2, kT0 + hours(1))};
  auto at = [&](Time now) {
    std::vector<std::string> kids;
    for (const auto& k : PublishedKeys(keys, s, now)) kids.push_back(k.key.kid);
    return kids;
  };
  // Key 1 was superseded at T0+1h: published until T0+1h20m. Key 2 until T0+2h20m.
  EXPECT_THAT(at(kT0 + hours(1) + minutes(19)), ElementsAre("k2", "k1"));
  EXPECT_THAT(at(kT0 + hours(1) + minutes(20)), ElementsAre("k2"));
  keys.push_back(Key(3, kT0 + hours(2)));
  EXPECT_THAT(at(kT0 + hours(2)), ElementsAre("k3", "k2"));
  EXPECT_THAT(at(kT0 + hours(2) + minutes(19)), ElementsAre("k3", "k2"));
  EXPECT_THAT(at(kT0 + hours(2) + minutes(20)), ElementsAre("k3"));
}

// The deployment rules the composition root applies to its flags (they used to be inline there).
TEST(KeyScheduleTest, RetentionMaintenancePeriodAndPrepublicationCheck) {
  using std::chrono::seconds;
  // 15 min tokens + 30 s reload + 5 s leeway + 60 s margin.
  EXPECT_EQ(KeyRetention(minutes(15), seconds(30), seconds(5)), seconds(900 + 30 + 5 + 60));
  EXPECT_EQ(KeyMaintenancePeriod(seconds(30)), seconds(10));
  EXPECT_EQ(KeyMaintenancePeriod(seconds(3)), seconds(3));
  // A replica may learn of a new key one reload interval plus one maintenance period late.
  EXPECT_FALSE(PrepublicationTooShort(seconds(60), seconds(30)));  // 60 > 30 + 10
  EXPECT_TRUE(PrepublicationTooShort(seconds(40), seconds(30)));   // 40 <= 30 + 10
  EXPECT_FALSE(PrepublicationTooShort(seconds(41), seconds(30)));
  EXPECT_TRUE(PrepublicationTooShort(seconds(6), seconds(3)));    // 6 <= 3 + 3
  EXPECT_FALSE(PrepublicationTooShort(seconds(0), seconds(30)));  // off: signs at once
}

}  // namespace
}  // namespace coffer::identity
