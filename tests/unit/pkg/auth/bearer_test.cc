// ParseBearer: the one authorization-header parser of every service; TokenRejection's payload,
// MalformedPart and RewordTokenRejection.
#include "pkg/auth/bearer.h"

#include <gtest/gtest.h>

#include <optional>

#include "absl/strings/cord.h"
#include "pkg/auth/token_rejection.h"

namespace coffer::auth {
namespace {

TEST(ParseBearerTest, SchemeIsCaseInsensitiveAndSpacesAroundTheTokenAreIgnored) {
  EXPECT_EQ(ParseBearer("Bearer abc.def"), "abc.def");
  EXPECT_EQ(ParseBearer("bearer abc.def"), "abc.def");
  EXPECT_EQ(ParseBearer("BEARER abc.def"), "abc.def");
  EXPECT_EQ(ParseBearer("bearer   abc "), "abc");
}

TEST(ParseBearerTest, AnythingElseIsNoToken) {
  EXPECT_EQ(ParseBearer(""), "");
  EXPECT_EQ(ParseBearer("Bearer"), "");
  EXPECT_EQ(ParseBearer("Bearer "), "");
  EXPECT_EQ(ParseBearer("Bearer    "), "");
  EXPECT_EQ(ParseBearer("Bearerabc"), "");
  EXPECT_EQ(ParseBearer("Basic abc"), "");
  EXPECT_EQ(ParseBearer("abc.def.ghi"), "");
}

TEST(TokenRejectionTest, TheTypeTravelsWithTheStatusNotTheMessage) {
  const TokenRejection all[] = {
      TokenRejection::kMalformed,         TokenRejection::kUnsupportedAlgorithm,
      TokenRejection::kUnsupportedHeader, TokenRejection::kUnknownKey,
      TokenRejection::kBadSignature,      TokenRejection::kExpired,
      TokenRejection::kNotYetValid,       TokenRejection::kWrongIssuer,
      TokenRejection::kWrongAudience,     TokenRejection::kInactive,
  };
  for (TokenRejection why : all) {
    const absl::Status s = TokenRejectedError(why, "detail");
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(s.message(), "invalid token: detail");
    EXPECT_EQ(TokenRejectionOf(s), why) << TokenRejectionName(why);
  }
  EXPECT_EQ(TokenRejectionOf(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(TokenRejectionOf(absl::UnauthenticatedError("invalid token: expired")), std::nullopt);
  // Only UNAUTHENTICATED statuses carry a rejection.
  absl::Status outage = absl::UnavailableError("jwks down");
  outage.SetPayload("coffer/auth/token-rejection", absl::Cord("expired"));
  EXPECT_EQ(TokenRejectionOf(outage), std::nullopt);
}

TEST(TokenRejectionTest, MalformedPartAndRewordingKeepTheTypes) {
  const absl::Status no_kid = MalformedTokenError(MalformedPart::kKeyId, "no kid");
  EXPECT_EQ(no_kid.message(), "invalid token: no kid");
  EXPECT_EQ(TokenRejectionOf(no_kid), TokenRejection::kMalformed);
  EXPECT_EQ(MalformedPartOf(no_kid), MalformedPart::kKeyId);

  const absl::Status reworded = RewordTokenRejection(no_kid, "access token has no key id");
  EXPECT_EQ(reworded.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(reworded.message(), "access token has no key id");
  EXPECT_EQ(TokenRejectionOf(reworded), TokenRejection::kMalformed);
  EXPECT_EQ(MalformedPartOf(reworded), MalformedPart::kKeyId);

  const absl::Status expired = RewordTokenRejection(
      TokenRejectedError(TokenRejection::kExpired, "expired"), "access token has expired");
  EXPECT_EQ(TokenRejectionOf(expired), TokenRejection::kExpired);
  EXPECT_EQ(MalformedPartOf(expired), std::nullopt);  // only kMalformed carries a part
  EXPECT_EQ(MalformedPartOf(absl::UnauthenticatedError("x")), std::nullopt);
}

}  // namespace
}  // namespace coffer::auth
