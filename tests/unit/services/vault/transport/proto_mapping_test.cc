#include "services/vault/transport/proto_mapping.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "pkg/auth/token_rejection.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/transport/authenticator.h"

namespace coffer::vault::transport {
namespace {

using ::coffer::testing::StatusIs;
using ::testing::StartsWith;

TEST(ProtoMappingTest, EveryPayloadRoundTripsThroughTheWireRecord) {
  const domain::Payload payloads[] = {
      domain::CredentialPayload{"l", "p", "u", "n"},
      domain::TextPayload{"t"},
      domain::CardPayload{"4111111111111111", "h", 12, 2030, "123", "b"},
      domain::OtpPayload{domain::OtpKind::kHotp, "JBSWY3DPEHPK3PXP", domain::OtpAlgorithm::kSha256,
                         8, 0, 7, "i", "a"},
      domain::InstrumentPayload{"US0378331005", "AAPL", "XNAS", "USD", "stock", "n"},
      domain::FilePayload{"blob", 5, std::string(64, 'a'), "text/plain", "f.txt"},
      domain::SealedPayload{std::string("\x00\xff", 2), "k", "alg"},
  };
  for (const auto& p : payloads) {
    domain::Revision r;
    r.record_id = "id";
    r.space_id = "space";
    r.type = domain::TypeOf(p);
    r.stamp = {3, domain::VersionVector({{"a", 2}, {"b", 1}}),
               domain::HlcTimestamp::Pack(1'700'000'000'123, 4), "a"};
    r.content.name = "n";
    r.content.metadata = {{"k", "v"}};
    r.content.payload = p;
    r.created_at_ms = 1'700'000'000'000;
    r.updated_at_ms = 1'700'000'000'123;
    v1::Record wire;
    RevisionToProto(r, &wire);
    EXPECT_EQ(wire.version(), 3u);
    EXPECT_EQ(wire.vector().counters().at("b"), 1u);
    EXPECT_EQ(wire.hlc().physical_ms(), 1'700'000'000'123u);
    EXPECT_EQ(wire.hlc().logical(), 4u);
    EXPECT_EQ(wire.update_time().nanos(), 123'000'000);
    COFFER_ASSERT_OK_AND_ASSIGN(domain::RecordContent back, ContentFromProto(wire));
    EXPECT_EQ(back, r.content);
  }
}

TEST(ProtoMappingTest, TypeMustMatchPayload) {
  v1::Record wire;
  wire.set_name("n");
  EXPECT_THAT(ContentFromProto(wire),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("record.payload")));
  wire.mutable_text()->set_text("t");
  EXPECT_THAT(ContentFromProto(wire),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("record.type")));
  wire.set_type(v1::RECORD_TYPE_CARD);
  EXPECT_THAT(ContentFromProto(wire),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("record.type")));
  wire.set_type(v1::RECORD_TYPE_TEXT);
  COFFER_EXPECT_OK(ContentFromProto(wire));
}

TEST(ProtoMappingTest, UnspecifiedOtpEnumsMeanTheDefaults) {
  v1::Record wire;
  wire.set_type(v1::RECORD_TYPE_OTP);
  wire.set_name("n");
  wire.mutable_otp()->set_secret_base32("JBSWY3DPEHPK3PXP");
  COFFER_ASSERT_OK_AND_ASSIGN(domain::RecordContent c, ContentFromProto(wire));
  const auto& otp = std::get<domain::OtpPayload>(c.payload);
  EXPECT_EQ(otp.kind, domain::OtpKind::kTotp);
  EXPECT_EQ(otp.algorithm, domain::OtpAlgorithm::kSha1);
}

TEST(AuthenticatorTest, FailureReasonsAreBoundedLabels) {
  using auth::TokenRejectedError;
  using auth::TokenRejection;
  const std::pair<TokenRejection, std::string> labels[] = {
      {TokenRejection::kMalformed, "malformed"},
      {TokenRejection::kUnsupportedAlgorithm, "malformed"},
      {TokenRejection::kUnsupportedHeader, "other"},
      {TokenRejection::kUnknownKey, "unknown_key"},
      {TokenRejection::kBadSignature, "bad_signature"},
      {TokenRejection::kExpired, "expired"},
      {TokenRejection::kNotYetValid, "not_yet_valid"},
      {TokenRejection::kWrongIssuer, "wrong_issuer"},
      {TokenRejection::kWrongAudience, "wrong_audience"},
      {TokenRejection::kInactive, "revoked"},
  };
  for (const auto& [why, label] : labels) {
    // The label follows the type, whatever the message says.
    EXPECT_EQ(Authenticator::FailureReason(TokenRejectedError(why, "reworded")), label)
        << auth::TokenRejectionName(why);
  }
  EXPECT_EQ(Authenticator::FailureReason(absl::UnavailableError("jwks down")), "jwks_unavailable");
  EXPECT_EQ(Authenticator::FailureReason(absl::UnauthenticatedError("whatever")), "other");
  // Message text alone no longer decides: an untyped "expired" is "other".
  EXPECT_EQ(Authenticator::FailureReason(absl::UnauthenticatedError("invalid token: expired")),
            "other");
}

}  // namespace
}  // namespace coffer::vault::transport
