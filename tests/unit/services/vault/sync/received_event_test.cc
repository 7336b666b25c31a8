// Event MAC and the classification of every kind of message the consumer can read: what is
// merged, skipped, remembered, stored, and what is quarantined with which kind.
#include "services/vault/sync/received_event.h"

#include <gtest/gtest.h>

#include <pqxx/except>

#include "coffer/vault/v1/events.pb.h"
#include "pkg/crypto/encoding.h"
#include "pkg/postgres/errors.h"
#include "services/vault/sync/event_auth.h"

namespace coffer::vault::sync {
namespace {

crypto::Keyring Ring(const std::string& spec) {
  absl::StatusOr<crypto::Keyring> k = crypto::Keyring::Parse(spec);
  EXPECT_TRUE(k.ok()) << k.status();
  return *std::move(k);
}

std::string Key32(char c) { return crypto::Base64Encode(std::string(32, c)); }

repository::StoredRevision Revision(const std::string& origin) {
  repository::StoredRevision r;
  r.space_id = "7e0e5c1a-4a4e-5f2b-9a77-0d5a5c8a1f10";
  r.record_id = "0f0e0d0c-0b0a-4908-8706-050403020100";
  r.type = domain::RecordType::kText;
  r.stamp.version = 1;
  r.stamp.vector.Set(origin, 1);
  r.stamp.hlc = domain::HlcTimestamp::Pack(1700000000123, 0);
  r.stamp.origin_shard = origin;
  r.key_id = "k1";
  r.name_ct = "n";
  r.metadata_ct = "m";
  r.payload_ct = "p";
  r.created_at_ms = r.updated_at_ms = 1700000000123;
  return r;
}

class ReceivedEventTest : public ::testing::Test {
 protected:
  ReceivedEventTest() : ring_(Ring("k1:" + Key32('a'))), auth_(ring_) {}

  kafka::Message Signed(const std::optional<std::string>& key, const std::string& value,
                        int64_t offset = 10) {
    kafka::Message m;
    m.partition = 2;
    m.offset = offset;
    m.key = key;
    m.value = value;
    m.headers = auth_.Sign(key, value);
    return m;
  }

  ReceivedEvent Classify(const kafka::Message& m, int64_t merge_own_until = 0) {
    return ClassifyEvent(m, ClassifyContext{"shard-b", merge_own_until, &auth_});
  }

  crypto::Keyring ring_;
  EventAuthenticator auth_;
};

TEST_F(ReceivedEventTest, SignedEventVerifiesAndAnyChangeBreaksIt) {
  const std::optional<std::string> key = "shard-a|s|r";
  const std::string value = "value bytes";
  std::vector<kafka::Header> headers = auth_.Sign(key, value);
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_TRUE(auth_.Verify(key, value, headers).ok());

  EXPECT_TRUE(absl::IsUnauthenticated(auth_.Verify(key, value + "x", headers)));
  EXPECT_TRUE(absl::IsUnauthenticated(auth_.Verify(std::string("shard-a|s|q"), value, headers)));
  EXPECT_TRUE(absl::IsUnauthenticated(auth_.Verify(std::nullopt, value, headers)));
  EXPECT_TRUE(absl::IsUnauthenticated(auth_.Verify(key, value, {})));
  std::vector<kafka::Header> flipped = headers;
  flipped[1].value[0] = static_cast<char>(flipped[1].value[0] ^ 1);
  EXPECT_TRUE(absl::IsUnauthenticated(auth_.Verify(key, value, flipped)));
  std::vector<kafka::Header> twice = headers;
  twice.push_back(headers[1]);
  EXPECT_TRUE(absl::IsUnauthenticated(auth_.Verify(key, value, twice)));
  std::vector<kafka::Header> unknown_kid = headers;
  unknown_kid[0].value = "k9";
  EXPECT_TRUE(absl::IsUnauthenticated(auth_.Verify(key, value, unknown_kid)));
}

TEST_F(ReceivedEventTest, AnotherKeyringCannotForgeButARotatedOneStillVerifies) {
  crypto::Keyring other = Ring("k1:" + Key32('b'));  // same id, other key
  EventAuthenticator forger(other);
  const std::string value = "v";
  EXPECT_TRUE(
      absl::IsUnauthenticated(auth_.Verify(std::nullopt, value, forger.Sign(std::nullopt, value))));

  // After rotation a shard lists k2 (primary) and k1: it verifies events signed before and after.
  crypto::Keyring rotated = Ring("k2:" + Key32('c') + ",k1:" + Key32('a'));
  EventAuthenticator after(rotated);
  EXPECT_TRUE(after.Verify(std::nullopt, value, auth_.Sign(std::nullopt, value)).ok());
  EXPECT_TRUE(after.Verify(std::nullopt, value, after.Sign(std::nullopt, value)).ok());
  EXPECT_EQ(after.Sign(std::nullopt, value)[0].value, "k2");
  // A shard that has not learnt k2 yet refuses (quarantines) rather than trusts.
  EXPECT_TRUE(
      absl::IsUnauthenticated(auth_.Verify(std::nullopt, value, after.Sign(std::nullopt, value))));
}

TEST_F(ReceivedEventTest, AnotherShardsRevisionIsMerged) {
  repository::StoredRevision r = Revision("shard-a");
  ReceivedEvent e = Classify(Signed(EventKey(r), EncodeChangeEvent(r, "e")));
  ASSERT_TRUE(std::holds_alternative<MergeRevision>(e));
  EXPECT_EQ(std::get<MergeRevision>(e).revision, r);
}

TEST_F(ReceivedEventTest, OwnRevisionIsAnEchoUnlessPublishedBeforeAReBootstrap) {
  repository::StoredRevision r = Revision("shard-b");
  kafka::Message m = Signed(EventKey(r), EncodeChangeEvent(r, "e"), /*offset=*/10);
  ReceivedEvent echo = Classify(m);
  ASSERT_TRUE(std::holds_alternative<OwnEcho>(echo));
  EXPECT_FALSE(std::get<OwnEcho>(echo).tombstone.has_value());
  EXPECT_TRUE(std::holds_alternative<MergeRevision>(Classify(m, /*merge_own_until=*/11)));

  r.deleted = r.purged = true;
  r.key_id.clear();
  r.name_ct.clear();
  r.metadata_ct.clear();
  r.payload_ct.clear();
  ReceivedEvent tomb = Classify(Signed(EventKey(r), EncodeChangeEvent(r, "e")));
  ASSERT_TRUE(std::holds_alternative<OwnEcho>(tomb));
  ASSERT_TRUE(std::get<OwnEcho>(tomb).tombstone.has_value());
  EXPECT_EQ(*std::get<OwnEcho>(tomb).tombstone, r);
}

TEST_F(ReceivedEventTest, ProgressMarkerReportsItsPartitionOnly) {
  const std::string value = EncodeProgressMarker({"shard-a", {{2, 40}, {3, 7}}}, "e");
  ReceivedEvent e = Classify(Signed(ProgressKey("shard-a"), value));
  ASSERT_TRUE(std::holds_alternative<ProgressReport>(e));
  EXPECT_EQ(std::get<ProgressReport>(e).shard_id, "shard-a");
  EXPECT_EQ(std::get<ProgressReport>(e).settled, 40);

  const std::string elsewhere = EncodeProgressMarker({"shard-a", {{3, 7}}}, "e");
  EXPECT_FALSE(
      std::get<ProgressReport>(Classify(Signed(ProgressKey("shard-a"), elsewhere))).settled);
  // This shard's own marker from before a re-bootstrap does not count.
  const std::string own = EncodeProgressMarker({"shard-b", {{2, 40}}}, "e");
  EXPECT_FALSE(std::get<ProgressReport>(Classify(Signed(ProgressKey("shard-b"), own), 11)).settled);
  EXPECT_TRUE(std::get<ProgressReport>(Classify(Signed(ProgressKey("shard-b"), own), 10)).settled);
}

TEST_F(ReceivedEventTest, BlobChunkIsStoredUnlessItIsOurOwn) {
  BlobChunk c;
  c.origin_shard = "shard-a";
  c.blob.blob_id = "1f0e0d0c-0b0a-4908-8706-050403020100";
  c.blob.space_id = "7e0e5c1a-4a4e-5f2b-9a77-0d5a5c8a1f10";
  c.blob.size_bytes = 3;
  c.blob.chunk_count = 1;
  c.blob.key_id = "k1";
  c.blob.info_ct = "info";
  c.chunk_ct = "abc";
  ReceivedEvent e = Classify(Signed(BlobChunkKey(c.blob.blob_id), EncodeBlobChunkEvent(c, "e")));
  ASSERT_TRUE(std::holds_alternative<IncomingChunk>(e));
  EXPECT_EQ(std::get<IncomingChunk>(e).chunk.chunk_ct, "abc");
  c.origin_shard = "shard-b";
  EXPECT_TRUE(std::holds_alternative<OwnEcho>(
      Classify(Signed(BlobChunkKey(c.blob.blob_id), EncodeBlobChunkEvent(c, "e")))));
}

TEST_F(ReceivedEventTest, EveryBadEventIsQuarantinedWithItsKind) {
  auto kind = [](const ReceivedEvent& e) {
    return std::holds_alternative<Quarantine>(e) ? std::get<Quarantine>(e).kind : "applied";
  };
  repository::StoredRevision r = Revision("shard-a");
  const std::string good = EncodeChangeEvent(r, "e");

  kafka::Message unsigned_event = Signed(EventKey(r), good);
  unsigned_event.headers.clear();
  EXPECT_EQ(kind(Classify(unsigned_event)), "mac");
  // A forged purge: valid content, no valid MAC (a producer without the KEK).
  repository::StoredRevision purge = r;
  purge.deleted = purge.purged = true;
  purge.stamp.vector.Set("x", 1);
  kafka::Message forged = Signed(EventKey(purge), EncodeChangeEvent(purge, "e"));
  forged.value = EncodeChangeEvent(purge, "other-id");  // altered after signing
  EXPECT_EQ(kind(Classify(forged)), "mac");

  EXPECT_EQ(kind(Classify(Signed(std::nullopt, "\xff\xff garbage"))), "decode");
  EXPECT_EQ(kind(Classify(Signed(std::nullopt, ""))), "decode");  // no schema_version
  v1::ChangeEvent future;
  future.set_schema_version(99);
  future.set_origin_shard("shard-a");
  EXPECT_EQ(kind(Classify(Signed(std::nullopt, future.SerializeAsString()))), "schema");
  v1::ChangeEvent bad;
  bad.ParseFromString(good);
  bad.set_record_id("not-a-uuid");
  EXPECT_EQ(kind(Classify(Signed(EventKey(r), bad.SerializeAsString()))), "decode");

  // The dead letter keeps the event as read, MAC headers included, for a later retry.
  repository::DeadLetter d = DeadLetterOf(unsigned_event, "mac", "why");
  EXPECT_EQ(d.direction, "in");
  EXPECT_EQ(d.partition, 2);
  EXPECT_EQ(d.offset, 10);
  EXPECT_EQ(d.origin_shard, "shard-a");
  EXPECT_EQ(d.value, good);
  kafka::Message signed_event = Signed(EventKey(r), good);
  repository::DeadLetter kept = DeadLetterOf(signed_event, "merge", "why");
  EXPECT_EQ(kept.mac_key_id, "k1");
  EXPECT_EQ(kept.mac.size(), 32u);
  // Whatever bytes a producer put in headers or origin, the dead letter's text fields are
  // printable ASCII (the database refuses invalid UTF-8) and bounded.
  kafka::Message odd = unsigned_event;
  odd.headers = {{kMacKeyIdHeader, std::string("\xff\x00k", 3)},
                 {kMacHeader, std::string(100, 'x')}};
  repository::DeadLetter safe = DeadLetterOf(odd, "mac", std::string("bad \xc3", 5));
  EXPECT_EQ(safe.mac_key_id, "??k");
  EXPECT_EQ(safe.mac.size(), 64u);
  EXPECT_EQ(safe.error, "bad ?");
  EXPECT_EQ(SafeText(std::string(300, 'a'), 128).size(), 128u);
  repository::IncomingRevision in = ToIncoming(Quarantine{"mac", "why"}, unsigned_event);
  EXPECT_FALSE(in.merge);
  ASSERT_TRUE(in.dead_letter.has_value());
  EXPECT_EQ(in.dead_letter->kind, "mac");
}

// Only an event's own fault is quarantined; whatever would hit every event alike is retried.
// The statuses come from pkg/postgres's mapping of real SQLSTATEs.
TEST(IsEventsFaultTest, QuarantinesOnlyWhatIsTheEventsFault) {
  auto sql = [](const char* state) {
    return postgres::StatusFromException(pqxx::sql_error("error", "query", state));
  };
  EXPECT_TRUE(IsEventsFault(sql("22P02")));  // invalid text representation
  EXPECT_TRUE(IsEventsFault(sql("22021")));  // invalid UTF-8
  EXPECT_TRUE(IsEventsFault(sql("23505")));  // unique violation
  EXPECT_TRUE(IsEventsFault(sql("23514")));  // check violation
  EXPECT_TRUE(IsEventsFault(absl::DataLossError("merge rejected the revision")));
  EXPECT_FALSE(IsEventsFault(sql("40001")));  // serialization failure
  EXPECT_FALSE(IsEventsFault(sql("08006")));  // connection failure
  EXPECT_FALSE(IsEventsFault(sql("57P01")));  // admin shutdown
  EXPECT_FALSE(IsEventsFault(sql("53100")));  // disk full
  EXPECT_FALSE(IsEventsFault(sql("25006")));  // read-only transaction (a failover)
  EXPECT_FALSE(IsEventsFault(sql("42P10")));  // schema out of step during an upgrade
  EXPECT_FALSE(IsEventsFault(sql("XX000")));  // internal error
  EXPECT_FALSE(IsEventsFault(absl::UnknownError("connection lost; it may have committed")));
}

}  // namespace
}  // namespace coffer::vault::sync
