#include "pkg/auth/token_verifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"

namespace coffer::auth {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kIssuer[] = "https://id.coffer.test";
constexpr char kAudience[] = "coffer-vault";

// Answers from a table; counts calls. Thread-safe.
class FakeIntrospector final : public Introspector {
 public:
  absl::StatusOr<bool> IsActive(std::string_view) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    return answer_;
  }
  void Set(absl::StatusOr<bool> answer) {
    absl::MutexLock lock(&mu_);
    answer_ = std::move(answer);
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::StatusOr<bool> answer_ = true;
  int calls_ = 0;
};

class TokenVerifierTest : public ::testing::Test {
 protected:
  TokenVerifierTest()
      : k1_(*crypto::Ed25519PrivateKey::Generate()), k2_(*crypto::Ed25519PrivateKey::Generate()) {
    JwkSet set;
    set.keys = {Jwk::FromPublicKey("k1", k1_.PublicKey())};
    source_.Set(set);
  }

  TokenVerifierOptions Options() const {
    TokenVerifierOptions o;
    o.issuer = kIssuer;
    o.audience = kAudience;
    return o;
  }

  std::unique_ptr<TokenVerifier> MakeVerifier(TokenVerifierOptions options,
                                              Introspector* introspector = nullptr) {
    auto v = TokenVerifier::Create(std::move(options), source_, clock_, introspector);
    EXPECT_TRUE(v.ok()) << v.status();
    return *std::move(v);
  }
  std::unique_ptr<TokenVerifier> MakeVerifier() { return MakeVerifier(Options()); }

  int64_t NowSeconds() const { return absl::ToUnixSeconds(clock_.Now()); }

  Claims ValidClaims() const {
    Claims c;
    c.iss = kIssuer;
    c.sub = "user-1";
    c.aud = {kAudience};
    c.iat = NowSeconds();
    c.nbf = NowSeconds();
    c.exp = NowSeconds() + 600;
    c.scope = {"vault.read"};
    c.jti = "jti-1";
    return c;
  }

  std::string Sign(const Claims& c, const std::string& kid = "k1") {
    const auto& key = kid == "k2" ? k2_ : k1_;
    return *SignJwt(c, kid, key);
  }

  // A token with an arbitrary header, signed by `sign` over the signing input.
  static std::string Forge(const json& header, const json& payload,
                           const std::function<std::string(const std::string&)>& sign) {
    const std::string input =
        crypto::Base64UrlEncode(header.dump()) + "." + crypto::Base64UrlEncode(payload.dump());
    return input + "." + crypto::Base64UrlEncode(sign(input));
  }

  // The typed reason a rejection whose message holds `reason` must carry.
  static TokenRejection ExpectedType(const std::string& reason) {
    const std::pair<std::string, TokenRejection> table[] = {
        {"malformed", TokenRejection::kMalformed},
        {"no \"kid\"", TokenRejection::kMalformed},
        {"no \"exp\"", TokenRejection::kMalformed},
        {"unsupported alg", TokenRejection::kUnsupportedAlgorithm},
        {"critical", TokenRejection::kUnsupportedHeader},
        {"unknown signing key", TokenRejection::kUnknownKey},
        {"bad signature", TokenRejection::kBadSignature},
        {"expired", TokenRejection::kExpired},
        {"not yet valid", TokenRejection::kNotYetValid},
        {"wrong issuer", TokenRejection::kWrongIssuer},
        {"wrong audience", TokenRejection::kWrongAudience},
        {"inactive", TokenRejection::kInactive},
    };
    for (const auto& [text, why] : table) {
      if (reason == text) return why;
    }
    ADD_FAILURE() << "no typed reason listed for \"" << reason << "\"";
    return TokenRejection::kMalformed;
  }

  static void ExpectRejected(const absl::StatusOr<VerifiedToken>& result,
                             const std::string& reason) {
    ASSERT_FALSE(result.ok()) << "expected rejection: " << reason;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(reason));
    EXPECT_EQ(TokenRejectionOf(result.status()), ExpectedType(reason)) << result.status();
  }

  FakeClock clock_;
  StaticJwksSource source_;
  crypto::Ed25519PrivateKey k1_;
  crypto::Ed25519PrivateKey k2_;
};

TEST_F(TokenVerifierTest, ValidTokenVerifies) {
  auto verifier = MakeVerifier();
  const Claims claims = ValidClaims();
  auto result = verifier->Verify(Sign(claims));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->claims, claims);
  EXPECT_EQ(result->kid, "k1");
  EXPECT_EQ(source_.fetch_count(), 1);
}

TEST_F(TokenVerifierTest, AudienceListContainingOursIsAccepted) {
  auto verifier = MakeVerifier();
  Claims c = ValidClaims();
  c.aud = {"other", kAudience};
  EXPECT_TRUE(verifier->Verify(Sign(c)).ok());
}

TEST_F(TokenVerifierTest, ClaimChecks) {
  auto verifier = MakeVerifier();
  Claims c = ValidClaims();
  c.exp = NowSeconds() - 3600;
  ExpectRejected(verifier->Verify(Sign(c)), "expired");

  c = ValidClaims();
  c.nbf = NowSeconds() + 3600;
  ExpectRejected(verifier->Verify(Sign(c)), "not yet valid");

  c = ValidClaims();
  c.iss = "https://evil.test";
  ExpectRejected(verifier->Verify(Sign(c)), "wrong issuer");

  c = ValidClaims();
  c.iss.clear();
  ExpectRejected(verifier->Verify(Sign(c)), "wrong issuer");

  c = ValidClaims();
  c.aud = {"coffer-identity"};
  ExpectRejected(verifier->Verify(Sign(c)), "wrong audience");

  c = ValidClaims();
  c.aud.clear();
  ExpectRejected(verifier->Verify(Sign(c)), "wrong audience");

  c = ValidClaims();
  c.exp.reset();
  ExpectRejected(verifier->Verify(Sign(c)), "no \"exp\"");
}

TEST_F(TokenVerifierTest, AlteredPayloadOrSignatureIsBadSignature) {
  auto verifier = MakeVerifier();
  const std::string token = Sign(ValidClaims());
  const size_t dot1 = token.find('.');
  const size_t dot2 = token.rfind('.');

  // Swap in a payload claiming another subject, keep header and signature.
  Claims other = ValidClaims();
  other.sub = "admin";
  const std::string other_token = Sign(other);
  const std::string altered_payload =
      token.substr(0, dot1 + 1) +
      other_token.substr(other_token.find('.') + 1,
                         other_token.rfind('.') - other_token.find('.') - 1) +
      token.substr(dot2);
  ExpectRejected(verifier->Verify(altered_payload), "bad signature");

  std::string sig = *crypto::Base64UrlDecode(token.substr(dot2 + 1));
  sig[0] = static_cast<char>(sig[0] ^ 1);
  ExpectRejected(verifier->Verify(token.substr(0, dot2 + 1) + crypto::Base64UrlEncode(sig)),
                 "bad signature");
  ExpectRejected(verifier->Verify(token.substr(0, dot2 + 1)), "bad signature");
  EXPECT_TRUE(verifier->Verify(token).ok());
}

TEST_F(TokenVerifierTest, AlgNoneAndHmacAreRefused) {
  auto verifier = MakeVerifier();
  const json payload = *ClaimsToJson(ValidClaims());
  // alg=none with an empty signature.
  const std::string none = crypto::Base64UrlEncode(json{{"alg", "none"}, {"kid", "k1"}}.dump()) +
                           "." + crypto::Base64UrlEncode(payload.dump()) + ".";
  ExpectRejected(verifier->Verify(none), "unsupported alg");
  // HS256 "keyed" with the public key bytes: the classic algorithm-confusion forgery.
  const std::string public_raw = k1_.PublicKey().Raw();
  const std::string hs256 =
      Forge(json{{"alg", "HS256"}, {"kid", "k1"}, {"typ", "JWT"}}, payload,
            [&](const std::string& input) { return crypto::HmacSha256(public_raw, input); });
  ExpectRejected(verifier->Verify(hs256), "unsupported alg");
  // Right signature, but an alg name spelt differently is still refused.
  const std::string ed25519 = Forge(json{{"alg", "Ed25519"}, {"kid", "k1"}}, payload,
                                    [&](const std::string& input) { return k1_.Sign(input); });
  ExpectRejected(verifier->Verify(ed25519), "unsupported alg");
  const std::string crit = Forge(json{{"alg", "EdDSA"}, {"kid", "k1"}, {"crit", {"exp"}}}, payload,
                                 [&](const std::string& input) { return k1_.Sign(input); });
  ExpectRejected(verifier->Verify(crit), "critical");
  EXPECT_EQ(verifier->stats().signature_checks, 0u);
}

TEST_F(TokenVerifierTest, MalformedTokens) {
  auto verifier = MakeVerifier();
  ExpectRejected(verifier->Verify(""), "malformed");
  ExpectRejected(verifier->Verify("abc"), "malformed");
  ExpectRejected(verifier->Verify("a.b.c"), "malformed");
  ExpectRejected(verifier->Verify(std::string(9000, 'a')), "malformed");
  const json payload = *ClaimsToJson(ValidClaims());
  ExpectRejected(verifier->Verify(Forge(json{{"alg", "EdDSA"}}, payload,
                                        [&](const std::string& in) { return k1_.Sign(in); })),
                 "no \"kid\"");
}

// A kid never seen before (a rotation) is fetched at once, not only after the 30 s refetch
// interval: one fetch, then the token verifies.
TEST_F(TokenVerifierTest, NewKidFetchesOnceAndIsAccepted) {
  TokenVerifierOptions o = Options();
  o.jwks_min_refetch_interval = absl::Seconds(30);
  o.jwks_unknown_kid_refetch_interval = absl::Seconds(1);
  auto verifier = MakeVerifier(o);
  ASSERT_TRUE(verifier->Verify(Sign(ValidClaims())).ok());
  ASSERT_EQ(source_.fetch_count(), 1);

  // The issuer publishes k2 (pre-published, then signing). Two seconds after the last fetch,
  // well inside the 30 s interval, the first k2 token fetches and verifies.
  source_.Set(JwkSet{
      {Jwk::FromPublicKey("k1", k1_.PublicKey()), Jwk::FromPublicKey("k2", k2_.PublicKey())}});
  clock_.Advance(absl::Seconds(2));
  Claims c = ValidClaims();
  auto result = verifier->Verify(Sign(c, "k2"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->kid, "k2");
  EXPECT_EQ(source_.fetch_count(), 2);
  // Known now: further k2 tokens need no fetch.
  c.jti = "another";
  EXPECT_TRUE(verifier->Verify(Sign(c, "k2")).ok());
  EXPECT_TRUE(verifier->Verify(Sign(ValidClaims(), "k1")).ok());
  EXPECT_EQ(source_.fetch_count(), 2);
}

// Fetches for never-seen kids are at least jwks_unknown_kid_refetch_interval apart overall;
// concurrent or back-to-back requests inside the floor share the last fetch.
TEST_F(TokenVerifierTest, NewKidFetchesRespectTheGlobalFloor) {
  TokenVerifierOptions o = Options();
  o.jwks_unknown_kid_refetch_interval = absl::Seconds(1);
  auto verifier = MakeVerifier(o);
  ASSERT_TRUE(verifier->RefreshKeys().ok());  // at t0
  ASSERT_EQ(source_.fetch_count(), 1);
  // k2 appears at the issuer right after our fetch: inside the floor the token is refused
  // without a fetch (and k2 is not remembered as unknown: no fetch ever missed it).
  source_.Set(JwkSet{
      {Jwk::FromPublicKey("k1", k1_.PublicKey()), Jwk::FromPublicKey("k2", k2_.PublicKey())}});
  ExpectRejected(verifier->Verify(Sign(ValidClaims(), "k2")), "unknown signing key");
  EXPECT_EQ(source_.fetch_count(), 1);
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(verifier->Verify(Sign(ValidClaims(), "k2")).ok());
  EXPECT_EQ(source_.fetch_count(), 2);
}

// A made-up kid costs at most one fetch per second however often it is repeated, and naming a
// real kid before the issuer published it (an attacker racing a rotation) delays that kid by at
// most the same second: a kid a fetch did not have is remembered (counted), never made to wait
// for the 30 s interval.
TEST_F(TokenVerifierTest, BogusKidsCostOneFetchPerSecondAndNeverDelayARealNewKid) {
  TokenVerifierOptions o = Options();
  o.jwks_min_refetch_interval = absl::Seconds(30);
  o.jwks_unknown_kid_refetch_interval = absl::Seconds(1);
  o.jwks_negative_cache_ttl = absl::Minutes(5);
  auto verifier = MakeVerifier(o);
  ASSERT_TRUE(verifier->RefreshKeys().ok());
  const json payload = *ClaimsToJson(ValidClaims());
  auto bogus = [&](const std::string& kid) {
    return Forge(json{{"alg", "EdDSA"}, {"kid", kid}}, payload,
                 [&](const std::string& in) { return k1_.Sign(in); });
  };

  clock_.Advance(absl::Seconds(1));
  for (int i = 0; i < 20; ++i) ExpectRejected(verifier->Verify(bogus("k9")), "unknown signing key");
  EXPECT_EQ(source_.fetch_count(), 2);  // 20 tokens in one second: one fetch
  EXPECT_EQ(verifier->stats().negative_cache_hits, 19u);
  for (int second = 1; second <= 5; ++second) {
    clock_.Advance(absl::Seconds(1));
    for (int i = 0; i < 10; ++i) {
      ExpectRejected(verifier->Verify(bogus("k9")), "unknown signing key");
    }
  }
  EXPECT_EQ(source_.fetch_count(), 7);  // one per second

  // The attacker names k2 before the issuer publishes it; then the issuer publishes it.
  ExpectRejected(verifier->Verify(Sign(ValidClaims(), "k2")), "unknown signing key");
  source_.Set(JwkSet{
      {Jwk::FromPublicKey("k1", k1_.PublicKey()), Jwk::FromPublicKey("k2", k2_.PublicKey())}});
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(verifier->Verify(Sign(ValidClaims(), "k2")).ok());
}

// A flood of distinct made-up kids costs at most one fetch per second, and the flood's own
// fetches bring in a key the issuer pre-published, so the real new kid verifies without a fetch
// of its own.
TEST_F(TokenVerifierTest, FloodOfDistinctBogusKidsIsBoundedToOneFetchPerSecond) {
  TokenVerifierOptions o = Options();
  o.jwks_unknown_kid_refetch_interval = absl::Seconds(1);
  auto verifier = MakeVerifier(o);
  ASSERT_TRUE(verifier->RefreshKeys().ok());
  const json payload = *ClaimsToJson(ValidClaims());
  int next_kid = 0;
  auto bogus = [&] {
    return Forge(json{{"alg", "EdDSA"}, {"kid", "bogus-" + std::to_string(next_kid++)}}, payload,
                 [&](const std::string& in) { return k1_.Sign(in); });
  };
  for (int second = 1; second <= 10; ++second) {
    clock_.Advance(absl::Seconds(1));
    for (int i = 0; i < 50; ++i) ExpectRejected(verifier->Verify(bogus()), "unknown signing key");
    EXPECT_EQ(source_.fetch_count(), 1 + second);
    if (second == 5) {
      // The issuer pre-publishes k2 while the flood goes on.
      source_.Set(JwkSet{
          {Jwk::FromPublicKey("k1", k1_.PublicKey()), Jwk::FromPublicKey("k2", k2_.PublicKey())}});
    }
  }
  const int64_t before = source_.fetch_count();
  EXPECT_TRUE(verifier->Verify(Sign(ValidClaims(), "k2")).ok());
  EXPECT_EQ(source_.fetch_count(), before);
}

// Kids a fetch did not have are remembered for the stats, in a bounded table whose entries
// expire; remembering never changes when a fetch happens.
TEST_F(TokenVerifierTest, NegativeCacheIsBoundedAndExpires) {
  TokenVerifierOptions o = Options();
  o.jwks_min_refetch_interval = absl::Hours(1);
  o.jwks_unknown_kid_refetch_interval = absl::Seconds(1);
  o.jwks_negative_cache_ttl = absl::Minutes(5);
  o.jwks_negative_cache_max_entries = 2;
  auto verifier = MakeVerifier(o);
  ASSERT_TRUE(verifier->RefreshKeys().ok());
  const json payload = *ClaimsToJson(ValidClaims());
  auto bogus = [&](const std::string& kid) {
    return Forge(json{{"alg", "EdDSA"}, {"kid", kid}}, payload,
                 [&](const std::string& in) { return k1_.Sign(in); });
  };
  for (const char* kid : {"a", "b", "c"}) {
    clock_.Advance(absl::Seconds(1));
    ExpectRejected(verifier->Verify(bogus(kid)), "unknown signing key");
  }
  EXPECT_EQ(source_.fetch_count(), 4);
  EXPECT_EQ(verifier->stats().negative_cache_hits, 0u);
  ExpectRejected(verifier->Verify(bogus("c")), "unknown signing key");  // remembered
  ExpectRejected(verifier->Verify(bogus("b")), "unknown signing key");  // remembered
  ExpectRejected(verifier->Verify(bogus("a")), "unknown signing key");  // forgotten (bound 2)
  EXPECT_EQ(verifier->stats().negative_cache_hits, 2u);
  // After the TTL a remembered kid is forgotten.
  clock_.Advance(absl::Minutes(5));
  ExpectRejected(verifier->Verify(bogus("c")), "unknown signing key");
  EXPECT_EQ(verifier->stats().negative_cache_hits, 2u);
}

TEST_F(TokenVerifierTest, StaleKeysRefetchAtMostOncePerInterval) {
  TokenVerifierOptions o = Options();
  o.cache_max_entries = 0;
  o.jwks_max_age = absl::Minutes(1);
  o.jwks_min_refetch_interval = absl::Seconds(30);
  auto verifier = MakeVerifier(o);
  ASSERT_TRUE(verifier->Verify(Sign(ValidClaims())).ok());
  source_.SetError(absl::UnavailableError("identity down"));
  clock_.Advance(absl::Minutes(2));
  // Stale keys, failing refetch: the known key still verifies, one fetch per 30 s.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(verifier->Verify(Sign(ValidClaims())).ok());
  EXPECT_EQ(source_.fetch_count(), 2);
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(verifier->Verify(Sign(ValidClaims())).ok());
  EXPECT_EQ(source_.fetch_count(), 3);
  EXPECT_EQ(verifier->stats().jwks_fetch_failures, 2u);
}

// An empty or unusable set is a fault of the issuer (or a proxy): the last good keys stay.
TEST_F(TokenVerifierTest, EmptyOrUnusableJwksKeepsTheLastGoodKeys) {
  TokenVerifierOptions o = Options();
  o.cache_max_entries = 0;
  o.jwks_max_age = absl::Minutes(1);
  auto verifier = MakeVerifier(o);
  ASSERT_TRUE(verifier->Verify(Sign(ValidClaims())).ok());
  Jwk no_kid = Jwk::FromPublicKey("", k2_.PublicKey());
  for (const JwkSet& bad : {JwkSet{}, JwkSet{{no_kid}}}) {
    source_.Set(bad);
    clock_.Advance(absl::Minutes(2));
    EXPECT_TRUE(verifier->Verify(Sign(ValidClaims())).ok());
    EXPECT_EQ(verifier->RefreshKeys().code(), absl::StatusCode::kUnavailable);
    EXPECT_TRUE(verifier->Verify(Sign(ValidClaims())).ok());
  }
  EXPECT_EQ(verifier->stats().jwks_fetch_failures, 4u);
}

// Whatever code a JwksSource reports for a set it could not read (a JSON parser says
// INVALID_ARGUMENT), the caller sees an outage: UNAVAILABLE.
TEST_F(TokenVerifierTest, UnreadableJwksIsUnavailableNotInvalidArgument) {
  source_.SetError(absl::InvalidArgumentError("JWKS is not a JSON object"));
  auto verifier = MakeVerifier();
  auto result = verifier->Verify(Sign(ValidClaims()));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("not a JSON object"));
  source_.SetError(absl::DeadlineExceededError("slow"));
  clock_.Advance(absl::Seconds(30));
  EXPECT_EQ(verifier->Verify(Sign(ValidClaims())).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST_F(TokenVerifierTest, KeyRotationBothKeysValidThenOldRemoved) {
  JwkSet both;
  both.keys = {Jwk::FromPublicKey("k1", k1_.PublicKey()),
               Jwk::FromPublicKey("k2", k2_.PublicKey())};
  source_.Set(both);
  TokenVerifierOptions o = Options();
  o.cache_max_entries = 0;
  o.jwks_max_age = absl::Minutes(10);
  auto verifier = MakeVerifier(o);
  const std::string t1 = Sign(ValidClaims(), "k1");
  const std::string t2 = Sign(ValidClaims(), "k2");
  EXPECT_TRUE(verifier->Verify(t1).ok());
  EXPECT_TRUE(verifier->Verify(t2).ok());
  EXPECT_EQ(source_.fetch_count(), 1);

  // The issuer retires k1. Once the cached set is older than jwks_max_age it is refetched and
  // k1 tokens stop verifying.
  JwkSet only_k2;
  only_k2.keys = {Jwk::FromPublicKey("k2", k2_.PublicKey())};
  source_.Set(only_k2);
  clock_.Advance(absl::Minutes(9));
  Claims c = ValidClaims();
  const std::string t1_late = Sign(c, "k1");
  EXPECT_TRUE(verifier->Verify(t1_late).ok());
  clock_.Advance(absl::Minutes(2));
  ExpectRejected(verifier->Verify(t1_late), "unknown signing key");
  EXPECT_TRUE(verifier->Verify(Sign(ValidClaims(), "k2")).ok());
  EXPECT_EQ(source_.fetch_count(), 2);
}

TEST_F(TokenVerifierTest, LeewayBoundaries) {
  TokenVerifierOptions o = Options();
  o.leeway = absl::Seconds(30);
  auto verifier = MakeVerifier(o);
  const int64_t t0 = NowSeconds();

  Claims c = ValidClaims();
  c.exp = t0;
  const std::string expiring = Sign(c);
  clock_.Set(absl::FromUnixSeconds(t0 + 29));
  EXPECT_TRUE(verifier->Verify(expiring).ok());  // inside leeway
  clock_.Set(absl::FromUnixSeconds(t0 + 30));
  ExpectRejected(verifier->Verify(expiring), "expired");  // cache must not outlive exp+leeway

  c = ValidClaims();
  c.nbf = t0 + 100;
  c.exp = t0 + 1000;
  const std::string future = Sign(c);
  clock_.Set(absl::FromUnixSeconds(t0 + 69));
  ExpectRejected(verifier->Verify(future), "not yet valid");
  clock_.Set(absl::FromUnixSeconds(t0 + 70));
  EXPECT_TRUE(verifier->Verify(future).ok());
}

TEST_F(TokenVerifierTest, CacheHitSkipsSignatureWorkUntilTtl) {
  TokenVerifierOptions o = Options();
  o.cache_ttl = absl::Minutes(5);
  auto verifier = MakeVerifier(o);
  const std::string token = Sign(ValidClaims());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(verifier->Verify(token).ok());
  EXPECT_EQ(verifier->stats().signature_checks, 1u);
  EXPECT_EQ(verifier->stats().cache_hits, 9u);
  EXPECT_EQ(source_.fetch_count(), 1);

  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(verifier->Verify(token).ok());
  EXPECT_EQ(verifier->stats().signature_checks, 2u);

  // A token that differs in one byte is never served from the cache.
  std::string altered = token;
  char& ch = altered[altered.rfind('.') + 5];  // a signature character with no padding bits
  ch = ch == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verifier->Verify(altered).ok());
  EXPECT_EQ(verifier->stats().signature_checks, 3u);
}

TEST_F(TokenVerifierTest, CacheIsBoundedLru) {
  TokenVerifierOptions o = Options();
  o.cache_max_entries = 2;
  auto verifier = MakeVerifier(o);
  Claims a = ValidClaims(), b = ValidClaims(), c = ValidClaims();
  a.jti = "a";
  b.jti = "b";
  c.jti = "c";
  const std::string ta = Sign(a), tb = Sign(b), tc = Sign(c);
  ASSERT_TRUE(verifier->Verify(ta).ok());
  ASSERT_TRUE(verifier->Verify(tb).ok());
  ASSERT_TRUE(verifier->Verify(ta).ok());  // a is now most recent
  ASSERT_TRUE(verifier->Verify(tc).ok());  // evicts b
  EXPECT_EQ(verifier->stats().signature_checks, 3u);
  ASSERT_TRUE(verifier->Verify(ta).ok());
  EXPECT_EQ(verifier->stats().signature_checks, 3u);
  ASSERT_TRUE(verifier->Verify(tb).ok());
  EXPECT_EQ(verifier->stats().signature_checks, 4u);
}

TEST_F(TokenVerifierTest, IntrospectionRevokesAndIsCachedBriefly) {
  FakeIntrospector introspector;
  TokenVerifierOptions o = Options();
  o.introspection_cache_ttl = absl::Seconds(10);
  auto verifier = MakeVerifier(o, &introspector);
  const std::string token = Sign(ValidClaims());

  ASSERT_TRUE(verifier->Verify(token).ok());
  ASSERT_TRUE(verifier->Verify(token).ok());
  EXPECT_EQ(introspector.calls(), 1);

  introspector.Set(false);  // revoked at the issuer
  clock_.Advance(absl::Seconds(5));
  EXPECT_TRUE(verifier->Verify(token).ok());  // still within the introspection cache
  clock_.Advance(absl::Seconds(5));
  ExpectRejected(verifier->Verify(token), "inactive");
  EXPECT_EQ(introspector.calls(), 2);
  ExpectRejected(verifier->Verify(token), "inactive");  // cached "inactive" answer
  EXPECT_EQ(introspector.calls(), 2);
  EXPECT_EQ(verifier->stats().signature_checks, 1u);

  // A fresh token introspected as inactive is refused on first sight.
  Claims other = ValidClaims();
  other.jti = "other";
  ExpectRejected(verifier->Verify(Sign(other)), "inactive");
}

// An identity outage keeps a recently confirmed token working for the stale window, never a
// token identity has not confirmed, and never past the window.
TEST_F(TokenVerifierTest, IntrospectionOutageKeepsRecentAnswersForTheStaleWindowOnly) {
  FakeIntrospector introspector;
  TokenVerifierOptions o = Options();
  o.introspection_cache_ttl = absl::Seconds(10);
  o.introspection_stale_if_error = absl::Seconds(60);
  auto verifier = MakeVerifier(o, &introspector);
  const std::string token = Sign(ValidClaims());
  ASSERT_TRUE(verifier->Verify(token).ok());
  introspector.Set(absl::UnavailableError("identity down"));
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(verifier->Verify(token).ok());  // confirmed 30 s ago: kept
  EXPECT_EQ(verifier->stats().stale_introspections, 1u);
  Claims fresh = ValidClaims();
  fresh.jti = "never-confirmed";
  EXPECT_TRUE(absl::IsUnavailable(verifier->Verify(Sign(fresh)).status()));
  clock_.Advance(absl::Seconds(31));
  EXPECT_TRUE(absl::IsUnavailable(verifier->Verify(token).status()));  // 61 s: refused
  introspector.Set(false);  // identity back: the token had been revoked meanwhile
  ExpectRejected(verifier->Verify(token), "inactive");
}

TEST_F(TokenVerifierTest, IntrospectionOutageIsNotUnauthenticated) {
  FakeIntrospector introspector;
  introspector.Set(absl::UnavailableError("identity down"));
  auto verifier = MakeVerifier(Options(), &introspector);
  auto result = verifier->Verify(Sign(ValidClaims()));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  introspector.Set(true);
  EXPECT_TRUE(verifier->Verify(Sign(ValidClaims())).ok());
}

TEST_F(TokenVerifierTest, JwksOutageIsUnavailableAndRecovers) {
  source_.SetError(absl::UnavailableError("identity down"));
  auto verifier = MakeVerifier();
  const std::string token = Sign(ValidClaims());
  EXPECT_EQ(verifier->Verify(token).status().code(), absl::StatusCode::kUnavailable);
  // Rate limited, but the last fetch failed: still reported as an outage.
  EXPECT_EQ(verifier->Verify(token).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(source_.fetch_count(), 1);

  source_.SetError(absl::OkStatus());
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(verifier->Verify(token).ok());
  EXPECT_EQ(source_.fetch_count(), 2);
}

TEST_F(TokenVerifierTest, RefreshKeysIgnoresRateLimit) {
  auto verifier = MakeVerifier();
  ASSERT_TRUE(verifier->RefreshKeys().ok());
  ASSERT_TRUE(verifier->RefreshKeys().ok());
  EXPECT_EQ(source_.fetch_count(), 2);
  EXPECT_TRUE(verifier->Verify(Sign(ValidClaims())).ok());
  EXPECT_EQ(source_.fetch_count(), 2);
}

TEST_F(TokenVerifierTest, CreateValidatesOptions) {
  TokenVerifierOptions o = Options();
  o.issuer.clear();
  EXPECT_EQ(TokenVerifier::Create(o, source_, clock_).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = Options();
  o.audience.clear();
  EXPECT_FALSE(TokenVerifier::Create(o, source_, clock_).ok());
  o = Options();
  o.leeway = absl::Seconds(-1);
  EXPECT_FALSE(TokenVerifier::Create(o, source_, clock_).ok());
}

TEST_F(TokenVerifierTest, ConcurrentVerifyIsSafe) {
  TokenVerifierOptions o = Options();
  o.cache_max_entries = 8;  // force evictions while threads race
  auto verifier = MakeVerifier(o);
  std::vector<std::string> tokens;
  for (int i = 0; i < 16; ++i) {
    Claims c = ValidClaims();
    c.jti = "t" + std::to_string(i);
    tokens.push_back(Sign(c));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (!verifier->Verify(tokens[(i * 7 + t) % tokens.size()]).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(source_.fetch_count(), 1);
}

// ---- over a caller's KeySource (how identity verifies its own tokens) ----

// Keys by kid, or an error for every lookup; counts lookups. Thread-safe.
class MapKeySource final : public KeySource {
 public:
  absl::StatusOr<crypto::Ed25519PublicKey> PublicKey(std::string_view kid) override {
    absl::MutexLock lock(&mu_);
    ++lookups_;
    if (!error_.ok()) return error_;
    auto it = keys_.find(kid);
    if (it == keys_.end()) return absl::NotFoundError("no such key");
    return it->second;
  }
  void Add(const std::string& kid, const crypto::Ed25519PublicKey& key) {
    absl::MutexLock lock(&mu_);
    keys_.insert_or_assign(kid, key);
  }
  void SetError(absl::Status error) {
    absl::MutexLock lock(&mu_);
    error_ = std::move(error);
  }
  int lookups() const {
    absl::MutexLock lock(&mu_);
    return lookups_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, crypto::Ed25519PublicKey, std::less<>> keys_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  int lookups_ ABSL_GUARDED_BY(mu_) = 0;
};

class KeySourceVerifierTest : public TokenVerifierTest {
 protected:
  KeySourceVerifierTest() { keys_.Add("k1", k1_.PublicKey()); }

  std::unique_ptr<TokenVerifier> MakeKeySourceVerifier(Introspector* introspector = nullptr) {
    TokenVerifierOptions o = Options();
    o.require_sub_and_jti = true;
    auto v = TokenVerifier::Create(std::move(o), keys_, clock_, introspector);
    EXPECT_TRUE(v.ok()) << v.status();
    return *std::move(v);
  }

  static void ExpectRejectedAs(const absl::StatusOr<VerifiedToken>& result, TokenRejection why) {
    ASSERT_FALSE(result.ok()) << "expected " << TokenRejectionName(why);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
    EXPECT_EQ(TokenRejectionOf(result.status()), why) << result.status();
  }

  MapKeySource keys_;
};

TEST_F(KeySourceVerifierTest, ValidTokenVerifiesWithoutAnyJwks) {
  auto verifier = MakeKeySourceVerifier();
  const Claims claims = ValidClaims();
  auto result = verifier->Verify(Sign(claims));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->claims, claims);
  EXPECT_EQ(result->kid, "k1");
  EXPECT_EQ(keys_.lookups(), 1);
  EXPECT_TRUE(verifier->RefreshKeys().ok());  // nothing to fetch
  EXPECT_EQ(verifier->stats().jwks_fetches, 0u);
  EXPECT_EQ(verifier->stats().signature_checks, 1u);
}

TEST_F(KeySourceVerifierTest, TokenSignedByAnUnknownKidIsUnknownKey) {
  auto verifier = MakeKeySourceVerifier();
  auto other = *crypto::Ed25519PrivateKey::Generate();
  ExpectRejectedAs(verifier->Verify(*SignJwt(ValidClaims(), "k9", other)),
                   TokenRejection::kUnknownKey);
  ExpectRejectedAs(verifier->VerifyIgnoringExpiry(*SignJwt(ValidClaims(), "k9", other)),
                   TokenRejection::kUnknownKey);
}

TEST_F(KeySourceVerifierTest, KeySourceOutageIsPassedOnUntyped) {
  auto verifier = MakeKeySourceVerifier();
  keys_.SetError(absl::UnavailableError("database down"));
  auto result = verifier->Verify(Sign(ValidClaims()));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(TokenRejectionOf(result.status()), std::nullopt);
}

TEST_F(KeySourceVerifierTest, WrongAlgorithmIsRefusedBeforeAnyKeyLookup) {
  auto verifier = MakeKeySourceVerifier();
  const std::string payload = crypto::Base64UrlEncode(ClaimsToJson(ValidClaims())->dump());
  for (const char* header :
       {R"({"alg":"HS256","typ":"JWT","kid":"k1"})", R"({"alg":"none","typ":"JWT","kid":"k1"})",
        R"({"alg":"RS256","kid":"k1"})"}) {
    const std::string token = crypto::Base64UrlEncode(header) + "." + payload + ".c2ln";
    ExpectRejectedAs(verifier->Verify(token), TokenRejection::kUnsupportedAlgorithm);
    ExpectRejectedAs(verifier->VerifyIgnoringExpiry(token), TokenRejection::kUnsupportedAlgorithm);
  }
  EXPECT_EQ(keys_.lookups(), 0);
}

TEST_F(KeySourceVerifierTest, ExpiredTokenIsRefusedUnlessExpiryIsIgnored) {
  auto verifier = MakeKeySourceVerifier();
  const Claims claims = ValidClaims();
  const std::string token = Sign(claims);
  clock_.Advance(absl::Seconds(600 + 30) - absl::Seconds(1));  // exp + leeway - 1 s
  EXPECT_TRUE(verifier->Verify(token).ok());                   // within the leeway
  clock_.Advance(absl::Seconds(1));
  ExpectRejectedAs(verifier->Verify(token), TokenRejection::kExpired);
  auto ignoring = verifier->VerifyIgnoringExpiry(token);
  ASSERT_TRUE(ignoring.ok()) << ignoring.status();
  EXPECT_EQ(ignoring->claims, claims);
  // Long expired: still the same token.
  clock_.Advance(absl::Hours(24 * 365));
  EXPECT_TRUE(verifier->VerifyIgnoringExpiry(token).ok());
}

TEST_F(KeySourceVerifierTest, IgnoringExpiryStillChecksEverythingElse) {
  auto verifier = MakeKeySourceVerifier();
  Claims c = ValidClaims();
  c.exp.reset();
  ExpectRejectedAs(verifier->VerifyIgnoringExpiry(Sign(c)), TokenRejection::kMalformed);
  c = ValidClaims();
  c.nbf = NowSeconds() + 3600;
  ExpectRejectedAs(verifier->VerifyIgnoringExpiry(Sign(c)), TokenRejection::kNotYetValid);
  c = ValidClaims();
  c.iss = "evil";
  ExpectRejectedAs(verifier->VerifyIgnoringExpiry(Sign(c)), TokenRejection::kWrongIssuer);
  c = ValidClaims();
  c.aud = {"other"};
  ExpectRejectedAs(verifier->VerifyIgnoringExpiry(Sign(c)), TokenRejection::kWrongAudience);
}

TEST_F(KeySourceVerifierTest, TamperedSignatureOrPayloadIsBadSignature) {
  auto verifier = MakeKeySourceVerifier();
  const std::string token = Sign(ValidClaims());
  const size_t dot2 = token.rfind('.');
  std::string sig = *crypto::Base64UrlDecode(token.substr(dot2 + 1));
  sig[0] = static_cast<char>(sig[0] ^ 0x01);
  const std::string bad_sig = token.substr(0, dot2 + 1) + crypto::Base64UrlEncode(sig);
  ExpectRejectedAs(verifier->Verify(bad_sig), TokenRejection::kBadSignature);
  ExpectRejectedAs(verifier->VerifyIgnoringExpiry(bad_sig), TokenRejection::kBadSignature);

  Claims escalated = ValidClaims();
  escalated.scope = {"identity.admin"};
  const std::string altered = token.substr(0, token.find('.') + 1) +
                              crypto::Base64UrlEncode(ClaimsToJson(escalated)->dump()) +
                              token.substr(dot2);
  ExpectRejectedAs(verifier->Verify(altered), TokenRejection::kBadSignature);
  EXPECT_EQ(verifier->stats().signature_checks, 3u);
}

TEST_F(KeySourceVerifierTest, MalformedRefusalsNameTheirPart) {
  auto verifier = MakeKeySourceVerifier();
  auto part = [&](std::string_view token) {
    auto r = verifier->Verify(token);
    EXPECT_EQ(TokenRejectionOf(r.status()), TokenRejection::kMalformed) << r.status();
    return MalformedPartOf(r.status());
  };
  EXPECT_EQ(part(""), MalformedPart::kSize);
  EXPECT_EQ(part(std::string(9000, 'a')), MalformedPart::kSize);
  EXPECT_EQ(part("not-a-jwt"), MalformedPart::kEncoding);
  EXPECT_EQ(part(*SignJwt(ValidClaims(), "", k1_)), MalformedPart::kKeyId);
  Claims c = ValidClaims();
  c.jti.clear();
  EXPECT_EQ(part(Sign(c)), MalformedPart::kClaims);
  c = ValidClaims();
  c.sub.clear();
  EXPECT_EQ(part(Sign(c)), MalformedPart::kClaims);
  // Only kMalformed refusals carry a part.
  c = ValidClaims();
  c.iss = "evil";
  EXPECT_EQ(MalformedPartOf(verifier->Verify(Sign(c)).status()), std::nullopt);
}

TEST_F(KeySourceVerifierTest, IgnoringExpiryNeitherCachesNorIntrospects) {
  FakeIntrospector introspector;
  introspector.Set(false);  // revoked
  auto verifier = MakeKeySourceVerifier(&introspector);
  const std::string token = Sign(ValidClaims());
  EXPECT_TRUE(verifier->VerifyIgnoringExpiry(token).ok());
  EXPECT_TRUE(verifier->VerifyIgnoringExpiry(token).ok());
  EXPECT_EQ(introspector.calls(), 0);
  EXPECT_EQ(verifier->stats().cache_hits, 0u);
  ExpectRejectedAs(verifier->Verify(token), TokenRejection::kInactive);
  EXPECT_EQ(introspector.calls(), 1);
}

}  // namespace
}  // namespace coffer::auth
