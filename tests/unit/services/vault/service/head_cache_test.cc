// HeadCache (service/head_cache.h) on the in-memory repository, and RecordService's session
// tokens: two RecordServices over one repository stand in for two replicas of a shard, the
// second with a head cache whose space generations the test bumps by hand (a replica that has
// not received the first one's change notification yet).
#include "services/vault/service/head_cache.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "pkg/crypto/encoding.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/domain/ids.h"
#include "services/vault/domain/otp.h"
#include "services/vault/repository/in_memory_repositories.h"
#include "services/vault/service/record_service.h"

namespace coffer::vault::service {
namespace {

using ::coffer::testing::StatusIs;
using repository::HeadCheck;
using repository::StoredRecord;
using repository::StoredRevision;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSpace[] = "11111111-1111-4111-8111-111111111111";
constexpr char kOtherSpace[] = "33333333-3333-4333-8333-333333333333";
constexpr char kRecord[] = "22222222-2222-4222-8222-222222222222";

// Generations bumped by the test (the change notifications of a replica).
class ManualGenerations final : public repository::ChangeGenerations {
 public:
  uint64_t Epoch(const std::string& space_id) override {
    std::lock_guard lock(mu_);
    return generations_[space_id];
  }
  void Bump(const std::string& space_id) {
    std::lock_guard lock(mu_);
    ++generations_[space_id];
  }

 private:
  std::mutex mu_;
  std::map<std::string, uint64_t> generations_;
};

StoredRevision Rev(const std::string& space, const std::string& record, int64_t version,
                   std::string payload = "payload") {
  StoredRevision r;
  r.space_id = space;
  r.record_id = record;
  r.stamp.version = version;
  r.stamp.origin_shard = "a";
  r.stamp.vector = domain::VersionVector({{"a", static_cast<uint64_t>(version)}});
  r.key_id = "k1";
  r.name_ct = "name";
  r.payload_ct = std::move(payload) + std::to_string(version);
  return r;
}

class HeadCacheTest : public ::testing::Test {
 protected:
  HeadCache MakeCache(int64_t max_bytes = int64_t{1} << 20) {
    return HeadCache(HeadCacheConfig{max_bytes, std::chrono::milliseconds(1000)}, records_,
                     generations_, &registry_, [this] { return now_; });
  }
  // The payload of the record the cache returns (empty when none).
  std::string Payload(HeadCache& cache, const std::string& record = kRecord,
                      int64_t min_position = 0) {
    absl::StatusOr<std::optional<StoredRecord>> got = cache.Get(kSpace, record, min_position);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() && got->has_value() ? (*got)->head.payload_ct : "";
  }
  // Writes version `version` of kRecord straight into the repository (no notification).
  int64_t Write(int64_t version, const std::string& record = kRecord) {
    absl::StatusOr<std::optional<StoredRecord>> current = records_.Get(kSpace, record);
    EXPECT_TRUE(current.ok() && current->has_value());
    absl::StatusOr<int64_t> seq =
        records_.ReplaceHead(Rev(kSpace, record, version), HeadCheck::Of(**current), 0);
    EXPECT_TRUE(seq.ok() && *seq > 0);
    return seq.ok() ? *seq : 0;
  }

  repository::InMemoryRecordRepository records_;
  ManualGenerations generations_;
  prometheus::Registry registry_;
  HeadCache::Clock::time_point now_{std::chrono::seconds(1000)};
};

TEST_F(HeadCacheTest, ServesFromMemoryUntilTheSpaceChanges) {
  ASSERT_GT(*records_.Insert(Rev(kSpace, kRecord, 1)), 0);
  HeadCache cache = MakeCache();
  EXPECT_EQ(Payload(cache), "payload1");
  Write(2);
  // Not notified yet: the copy in memory answers (this is what proves it is served from there).
  EXPECT_EQ(Payload(cache), "payload1");
  EXPECT_EQ(cache.stats().hits, 1);
  // Another space's change leaves it current.
  generations_.Bump(kOtherSpace);
  EXPECT_EQ(Payload(cache), "payload1");
  // Its own space's notification does not.
  generations_.Bump(kSpace);
  EXPECT_EQ(Payload(cache), "payload2");
  EXPECT_EQ(Payload(cache), "payload2");
  HeadCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.hits, 3);
  EXPECT_EQ(stats.misses, 2);
  EXPECT_EQ(stats.entries, 1);
}

TEST_F(HeadCacheTest, SessionPositionNewerThanTheCopyReadsTheRepository) {
  ASSERT_GT(*records_.Insert(Rev(kSpace, kRecord, 1)), 0);
  const std::string other = "44444444-4444-4444-8444-444444444444";
  ASSERT_GT(*records_.Insert(Rev(kSpace, other, 1)), 0);
  HeadCache cache = MakeCache();
  EXPECT_EQ(Payload(cache), "payload1");
  const int64_t position = Write(2);
  EXPECT_EQ(Payload(cache, kRecord, 0), "payload1");         // no token: the notified copy
  EXPECT_EQ(Payload(cache, kRecord, position), "payload2");  // the writer's token: its write
  // A later write to another record of the space moves the space's position: a token from it
  // makes this record's copy too old as well (the client may have written both).
  const int64_t later = Write(2, other);
  const int64_t misses = cache.stats().misses;
  EXPECT_EQ(Payload(cache, kRecord, later), "payload2");
  EXPECT_EQ(cache.stats().misses, misses + 1);
  // That read's copy is at the later position, so the same token is now served from memory.
  EXPECT_EQ(Payload(cache, kRecord, later), "payload2");
  EXPECT_EQ(cache.stats().misses, misses + 1);
}

TEST_F(HeadCacheTest, EntriesExpireAfterMaxAge) {
  ASSERT_GT(*records_.Insert(Rev(kSpace, kRecord, 1)), 0);
  HeadCache cache = MakeCache();
  EXPECT_EQ(Payload(cache), "payload1");
  Write(2);  // never notified: a lost notification
  now_ += std::chrono::milliseconds(1000);
  EXPECT_EQ(Payload(cache), "payload1");
  now_ += std::chrono::milliseconds(1);
  EXPECT_EQ(Payload(cache), "payload2");
}

TEST_F(HeadCacheTest, MissingRecordsAreNotCachedAndGoneOnesAreForgotten) {
  HeadCache cache = MakeCache();
  EXPECT_EQ(Payload(cache), "");
  ASSERT_GT(*records_.Insert(Rev(kSpace, kRecord, 1)), 0);
  EXPECT_EQ(Payload(cache), "payload1");  // found at once: the miss was not remembered
  EXPECT_EQ(cache.stats().entries, 1);
  // Purged, then collected by tombstone GC (gone from the repository), then notified.
  StoredRevision tombstone = Rev(kSpace, kRecord, 2);
  tombstone.purged = true;
  tombstone.deleted = true;
  ASSERT_GT(*records_.Purge(tombstone, HeadCheck::Of(**records_.Get(kSpace, kRecord))), 0);
  ASSERT_TRUE(records_.CollectTombstoneForTest(kSpace, kRecord));
  generations_.Bump(kSpace);
  EXPECT_EQ(Payload(cache), "");
  EXPECT_EQ(cache.stats().entries, 0);
  EXPECT_EQ(cache.stats().bytes, 0);
}

TEST_F(HeadCacheTest, StaysWithinItsBytesEvictingTheLeastRecentlyUsed) {
  HeadCache cache = MakeCache(/*max_bytes=*/8 * 1024);
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) {
    char id[37];
    std::snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", i);
    ids.emplace_back(id);
    ASSERT_GT(*records_.Insert(Rev(kSpace, id, 1, std::string(200, 'x'))), 0);
    ASSERT_NE(Payload(cache, id), "");
    ASSERT_LE(cache.stats().bytes, 8 * 1024);
  }
  HeadCache::Stats stats = cache.stats();
  EXPECT_GT(stats.evictions, 0);
  EXPECT_LT(stats.entries, 40);
  EXPECT_EQ(stats.entries + stats.evictions, 40);
  // The newest is held, the oldest was evicted.
  const int64_t misses = stats.misses;
  EXPECT_NE(Payload(cache, ids.back()), "");
  EXPECT_EQ(cache.stats().misses, misses);
  EXPECT_NE(Payload(cache, ids.front()), "");
  EXPECT_EQ(cache.stats().misses, misses + 1);
  // A record larger than the whole cache is served, never held.
  const std::string big = "55555555-5555-4555-8555-555555555555";
  ASSERT_GT(*records_.Insert(Rev(kSpace, big, 1, std::string(16 * 1024, 'y'))), 0);
  EXPECT_EQ(Payload(cache, big).size(), 16 * 1024 + 1);
  EXPECT_LE(cache.stats().bytes, 8 * 1024);
}

// A write's head (Wrote) is a base for the next write only: never served to a Get, never
// replacing a copy of a later position, and replaced by a write of a later position.
TEST_F(HeadCacheTest, AWritesHeadIsOnlyABaseForWritesAndNeverReplacesALaterCopy) {
  ASSERT_GT(*records_.Insert(Rev(kSpace, kRecord, 1)), 0);
  HeadCache cache = MakeCache();
  const int64_t later = Write(2);
  EXPECT_EQ(Payload(cache), "payload2");  // a read at the write's position
  StoredRecord older;
  older.head = Rev(kSpace, kRecord, 1);
  older.state_seq = 1;
  older.space_position = later - 1;
  cache.Wrote(older);
  std::shared_ptr<const StoredRecord> base = cache.Peek(kSpace, kRecord);
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(base->head.payload_ct, "payload2");  // the read's later copy stays
  // A later write replaces it; a Get does not take it (it reads the repository: payload2).
  StoredRecord newer;
  newer.head = Rev(kSpace, kRecord, 3, "written");
  newer.state_seq = 3;
  newer.space_position = later + 1;
  cache.Wrote(newer);
  EXPECT_EQ(cache.Peek(kSpace, kRecord)->head.payload_ct, "written3");
  const HeadCache::Stats before = cache.stats();
  EXPECT_EQ(Payload(cache), "payload2");
  EXPECT_EQ(cache.stats().misses, before.misses + 1);
  EXPECT_EQ(cache.stats().hits, before.hits);
  // A disabled cache holds nothing for writes either.
  HeadCache off = MakeCache(0);
  off.Wrote(newer);
  EXPECT_EQ(off.Peek(kSpace, kRecord), nullptr);
}

TEST_F(HeadCacheTest, DisabledCacheAlwaysReadsTheRepository) {
  ASSERT_GT(*records_.Insert(Rev(kSpace, kRecord, 1)), 0);
  HeadCache cache = MakeCache(/*max_bytes=*/0);
  EXPECT_EQ(Payload(cache), "payload1");
  Write(2);
  EXPECT_EQ(Payload(cache), "payload2");
  EXPECT_EQ(cache.stats().entries, 0);
}

TEST_F(HeadCacheTest, ConcurrentReadsAndWritesEndWithTheLastWrite) {
  ASSERT_GT(*records_.Insert(Rev(kSpace, kRecord, 1)), 0);
  HeadCache cache = MakeCache();
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!done) {
        absl::StatusOr<std::optional<StoredRecord>> got = cache.Get(kSpace, kRecord, 0);
        ASSERT_TRUE(got.ok() && got->has_value());
        ++reads;
      }
    });
  }
  for (int64_t v = 2; v <= 200; ++v) {
    Write(v);
    generations_.Bump(kSpace);  // as the writer's replica does right after its commit
  }
  // Every reader has read at least once after the last write and its notification.
  const int after = reads.load();
  while (reads.load() < after + 8) std::this_thread::yield();
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(Payload(cache), "payload200");
}

// ---- Session tokens through RecordService ----

TEST(SessionTokenTest, RoundTripsAndRejectsMalformedTokensWithoutEchoingThem) {
  const std::string token = EncodeSessionToken({42, kSpace, "shard.a"});
  COFFER_ASSERT_OK_AND_ASSIGN(SessionPosition p, DecodeSessionToken(token, "consistency_token"));
  EXPECT_EQ(p.position, 42);
  EXPECT_EQ(p.space_id, kSpace);
  EXPECT_EQ(p.shard_id, "shard.a");
  for (const std::string& bad : std::vector<std::string>{
           "x", "s1.", "s1.42", "s1.42." + std::string(kSpace),
           "s1.-1." + std::string(kSpace) + ".a", "s1.0." + std::string(kSpace) + ".a",
           "s1.abc." + std::string(kSpace) + ".a", "s1.42.not-a-uuid.a",
           "s1.99999999999999999999." + std::string(kSpace) + ".a",
           "s2.42." + std::string(kSpace) + ".a", std::string(161, 's')}) {
    absl::StatusOr<SessionPosition> got = DecodeSessionToken(bad, "consistency_token");
    EXPECT_THAT(got.status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("consistency_token: ")))
        << bad;
    if (bad.size() > 3) {
      EXPECT_THAT(got.status().message(), Not(HasSubstr(bad))) << bad;
    }
  }
}

class SessionTokenServiceTest : public ::testing::Test {
 protected:
  struct Replica {
    Replica(SessionTokenServiceTest& t, HeadCache* cache)
        : index(RecordIndexConfig{}, t.records_, t.cipher_),
          service(
              RecordServiceConfig{.shard_id = "shard-a", .head_cache = cache}, t.records_,
              t.access_, t.cipher_, t.hlc_, [&t] { return t.now_ms_; }, [&t] { return t.NextId(); },
              nullptr, index) {}
    RecordIndex index;
    RecordService service;
  };

  SessionTokenServiceTest()
      : keyring_(*crypto::Keyring::Parse("k1:" + crypto::Base64Encode(std::string(32, 'k')))),
        cipher_(keyring_),
        access_(spaces_, [this] { return now_ms_; }),
        hlc_([this] { return static_cast<uint64_t>(now_ms_); }),
        cache_(HeadCacheConfig{}, records_, generations_),
        a_(*this, nullptr),
        b_(*this, &cache_) {}

  std::string NextId() {
    char buf[37];
    std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012d", ++ids_);
    return buf;
  }
  static domain::RecordContent Text(std::string body) {
    domain::RecordContent c;
    c.name = "note";
    c.payload = domain::TextPayload{std::move(body)};
    return c;
  }
  static std::string Body(const RecordWithSiblings& r) {
    return std::get<domain::TextPayload>(r.head.content.payload).text;
  }

  int64_t now_ms_ = 1'700'000'000'000;
  int ids_ = 0;
  crypto::Keyring keyring_;
  RecordCipher cipher_;
  repository::InMemoryRecordRepository records_;
  repository::InMemorySpaceRepository spaces_;
  SpaceAccess access_;
  domain::Hlc hlc_;
  ManualGenerations generations_;
  HeadCache cache_;
  Replica a_;  // writes
  Replica b_;  // reads through its head cache; never notified unless the test says so
  const Caller alice_{"alice", {}};
};

TEST_F(SessionTokenServiceTest, AWriteThroughAnotherReplicaIsReadWithItsToken) {
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision created,
                              a_.service.Create(alice_, "", "", Text("v1")));
  const std::string t1 = a_.service.SessionToken(created);
  ASSERT_FALSE(t1.empty());
  COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings got,
                              b_.service.Get(alice_, created.record_id, false, "", t1));
  EXPECT_EQ(Body(got), "v1");

  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision updated,
                              a_.service.Update(alice_, created.record_id, "", Text("v2"), 1));
  const std::string t2 = a_.service.SessionToken(updated);
  EXPECT_GT(updated.space_position, created.space_position);
  // B has not been notified: without the token it answers from its copy...
  COFFER_ASSERT_OK_AND_ASSIGN(got, b_.service.Get(alice_, created.record_id, false));
  EXPECT_EQ(Body(got), "v1");
  // ...the older token is satisfied by that copy...
  COFFER_ASSERT_OK_AND_ASSIGN(got, b_.service.Get(alice_, created.record_id, false, "", t1));
  EXPECT_EQ(Body(got), "v1");
  // ...and the writer's token reads its write.
  COFFER_ASSERT_OK_AND_ASSIGN(got, b_.service.Get(alice_, created.record_id, false, "", t2));
  EXPECT_EQ(Body(got), "v2");
  EXPECT_EQ(got.head.stamp.version, 2);

  // Trash and purge carry tokens too; the purge's makes the record NOT_FOUND on B at once.
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision trashed,
                              a_.service.Delete(alice_, created.record_id, 2));
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision purged,
                              a_.service.Purge(alice_, created.record_id, 3));
  EXPECT_GT(purged.space_position, trashed.space_position);
  EXPECT_THAT(b_.service.Get(alice_, created.record_id, false, "", a_.service.SessionToken(purged))
                  .status(),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SessionTokenServiceTest, TokensOfAnotherSpaceOrShardAreIgnoredAndMalformedOnesRefused) {
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision created,
                              a_.service.Create(alice_, "", "", Text("v1")));
  COFFER_ASSERT_OK(b_.service.Get(alice_, created.record_id, false).status());
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision updated,
                              a_.service.Update(alice_, created.record_id, "", Text("v2"), 1));
  // The same position for another space, or from another shard, says nothing about this copy.
  for (const std::string& token :
       {EncodeSessionToken({updated.space_position, kOtherSpace, "shard-a"}),
        EncodeSessionToken({updated.space_position, updated.space_id, "shard-b"})}) {
    COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings got,
                                b_.service.Get(alice_, created.record_id, false, "", token));
    EXPECT_EQ(Body(got), "v1");
  }
  EXPECT_THAT(b_.service.Get(alice_, created.record_id, false, "", "s1.1.x.y").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "consistency_token: malformed"));
  // Once notified, B reads the write without any token.
  generations_.Bump(updated.space_id);
  COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings got,
                              b_.service.Get(alice_, created.record_id, false));
  EXPECT_EQ(Body(got), "v2");
}

// An OTP code comes from PostgreSQL, never from a cached copy: a secret re-enrolled through
// another replica a moment ago gives codes of the new secret at once (GetOtpCode has no token).
TEST_F(SessionTokenServiceTest, OtpCodesAreNeverComputedFromACachedCopy) {
  auto totp = [](std::string secret) {
    domain::RecordContent c;
    c.name = "2fa";
    c.payload = domain::OtpPayload{domain::OtpKind::kTotp,
                                   std::move(secret),
                                   domain::OtpAlgorithm::kSha1,
                                   6,
                                   30,
                                   0,
                                   "Issuer",
                                   "acct"};
    return c;
  };
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision created,
                              a_.service.Create(alice_, "", "", totp("JBSWY3DPEHPK3PXP")));
  COFFER_ASSERT_OK(b_.service.Get(alice_, created.record_id, false).status());  // cached on B
  COFFER_ASSERT_OK(
      a_.service.Update(alice_, created.record_id, "", totp("GEZDGNBVGY3TQOJQ"), 1).status());
  COFFER_ASSERT_OK_AND_ASSIGN(OtpCodeResult on_b, b_.service.GetOtpCode(alice_, created.record_id));
  COFFER_ASSERT_OK_AND_ASSIGN(OtpCodeResult on_a, a_.service.GetOtpCode(alice_, created.record_id));
  EXPECT_EQ(on_b.code, on_a.code);
  const domain::OtpPayload fresh = std::get<domain::OtpPayload>(totp("GEZDGNBVGY3TQOJQ").payload);
  COFFER_ASSERT_OK_AND_ASSIGN(domain::OtpCode expected,
                              domain::CurrentOtpCode(fresh, now_ms_ / 1000));
  EXPECT_EQ(on_b.code, expected.code);
}

// Writes begin from the replica's copy (head_cache.h): an edit after a create, a read or another
// edit on the same replica commits without reading PostgreSQL first, and what it wrote is what
// everyone reads.
TEST_F(SessionTokenServiceTest, EditsStartFromTheReplicasCopyWithoutARead) {
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision created,
                              b_.service.Create(alice_, "", "", Text("v1")));
  COFFER_ASSERT_OK(b_.service.Update(alice_, created.record_id, "", Text("v2"), 1).status());
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision v3,
                              b_.service.Update(alice_, created.record_id, "", Text("v3"), 2));
  EXPECT_EQ(v3.stamp.version, 3);
  HeadCache::Stats stats = cache_.stats();
  EXPECT_EQ(stats.guesses, 2);
  EXPECT_EQ(stats.stale_guesses, 0);
  // A copy a write left never answers a Get (that reads PostgreSQL), and both replicas see v3.
  COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings on_b,
                              b_.service.Get(alice_, created.record_id, false));
  EXPECT_EQ(Body(on_b), "v3");
  EXPECT_EQ(cache_.stats().misses, stats.misses + 1);
  COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings on_a,
                              a_.service.Get(alice_, created.record_id, false));
  EXPECT_EQ(Body(on_a), "v3");
  EXPECT_EQ(on_a.head.stamp.version, 3);
  EXPECT_EQ(on_a.head.created_at_ms, created.created_at_ms);
  // Trash and undelete start from the copy too.
  COFFER_ASSERT_OK(b_.service.Delete(alice_, created.record_id, 3).status());
  COFFER_ASSERT_OK(b_.service.Undelete(alice_, created.record_id, 4).status());
  EXPECT_EQ(cache_.stats().guesses, 4);
  EXPECT_EQ(cache_.stats().stale_guesses, 0);
}

// A copy that is not current costs a read, never a wrong answer: another replica's writes (B is
// not notified) make B's copy stale, and every answer B gives is the one PostgreSQL's state
// calls for.
TEST_F(SessionTokenServiceTest, AStaleCopyCostsAReadNeverAWrongAnswer) {
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision created,
                              b_.service.Create(alice_, "", "", Text("v1")));
  const std::string& id = created.record_id;
  COFFER_ASSERT_OK(a_.service.Update(alice_, id, "", Text("a2"), 1).status());
  // The client knows version 2; B's copy is at 1: B reads and writes version 3.
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision b3,
                              b_.service.Update(alice_, id, "", Text("b3"), 2));
  EXPECT_EQ(b3.stamp.version, 3);
  EXPECT_EQ(cache_.stats().stale_guesses, 1);
  // B's copy is at 3, and so is this client's idea; PostgreSQL is at 4: the check-and-set
  // fails, the read finds version 4 and the client is told so.
  COFFER_ASSERT_OK(a_.service.Update(alice_, id, "", Text("a4"), 3).status());
  EXPECT_THAT(b_.service.Update(alice_, id, "", Text("lost?"), 3).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("expected version 3, current version is 4")));
  EXPECT_EQ(cache_.stats().stale_guesses, 2);
  // A trashed it (B's copy is older): B refuses the edit, as PostgreSQL says.
  COFFER_ASSERT_OK(a_.service.Delete(alice_, id, 4).status());
  EXPECT_THAT(b_.service.Update(alice_, id, "", Text("lost?"), 5).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in the trash")));
  // A restored it: B's edit goes in.
  COFFER_ASSERT_OK(a_.service.Undelete(alice_, id, 5).status());
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision b7,
                              b_.service.Update(alice_, id, "", Text("b7"), 6));
  EXPECT_EQ(b7.stamp.version, 7);
  COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings got, a_.service.Get(alice_, id, false));
  EXPECT_EQ(Body(got), "b7");
  EXPECT_EQ(got.head.stamp.version, 7);
}

// The copy would refuse what PostgreSQL's head allows: B trashed the record (its copy says so),
// then a merge made another shard's concurrent, untrashed revision of the same version the head.
// B's edit is decided on PostgreSQL's head, and goes in.
TEST_F(SessionTokenServiceTest, ACopysRefusalIsDecidedAgainOnTheStoredHead) {
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision created,
                              b_.service.Create(alice_, "", "", Text("v1")));
  COFFER_ASSERT_OK(b_.service.Delete(alice_, created.record_id, 1).status());
  COFFER_ASSERT_OK_AND_ASSIGN(std::optional<StoredRecord> current,
                              records_.Get(created.space_id, created.record_id));
  ASSERT_TRUE(current.has_value());
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision theirs, cipher_.Open(current->head));
  ASSERT_TRUE(theirs.deleted);
  theirs.deleted = false;
  theirs.content = Text("theirs");
  theirs.stamp.origin_shard = "shard-b";
  theirs.stamp.hlc += 1;
  COFFER_ASSERT_OK_AND_ASSIGN(StoredRevision sealed, cipher_.Seal(theirs));
  COFFER_ASSERT_OK_AND_ASSIGN(int64_t merged,
                              records_.ReplaceHead(sealed, HeadCheck::Of(*current), 0));
  ASSERT_GT(merged, 0);
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision mine,
                              b_.service.Update(alice_, created.record_id, "", Text("mine"), 2));
  EXPECT_EQ(mine.stamp.version, 3);
  EXPECT_EQ(cache_.stats().stale_guesses, 1);
  COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings got,
                              a_.service.Get(alice_, created.record_id, false));
  EXPECT_EQ(Body(got), "mine");
}

// Tombstone GC drops a purged record, and a create of the same id starts version and state_seq
// at 1 again: a copy of the earlier record with those same numbers must not be taken for the
// new one (repository::HeadCheck's HLC), or the edit would be computed from the old record.
TEST_F(SessionTokenServiceTest, ACopyOfAnEarlierRecordWithTheSameIdIsNeverWrittenOver) {
  const std::string id = "aaaaaaaa-0000-4000-8000-000000000002";
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision old, b_.service.Create(alice_, "", id, Text("old")));
  COFFER_ASSERT_OK(a_.service.Delete(alice_, id, 1).status());
  COFFER_ASSERT_OK(a_.service.Purge(alice_, id, 2).status());
  ASSERT_TRUE(records_.CollectTombstoneForTest(old.space_id, id));
  now_ms_ += 60'000;
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision reborn,
                              a_.service.Create(alice_, "", id, Text("new")));
  ASSERT_EQ(reborn.stamp.version, 1);
  // B's copy (the old record at version 1, state_seq 1) matches version and state_seq.
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision edited,
                              b_.service.Update(alice_, id, "", Text("edit"), 1));
  EXPECT_EQ(cache_.stats().stale_guesses, 1);
  EXPECT_EQ(edited.stamp.version, 2);
  EXPECT_EQ(edited.created_at_ms, reborn.created_at_ms);
  EXPECT_GT(edited.stamp.hlc, reborn.stamp.hlc);
}

TEST_F(SessionTokenServiceTest, RetriedCreateReturnsATokenCoveringTheOriginal) {
  const std::string id = "aaaaaaaa-0000-4000-8000-000000000001";
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision first,
                              a_.service.Create(alice_, "", id, Text("v1")));
  COFFER_ASSERT_OK_AND_ASSIGN(domain::Revision retry,
                              a_.service.Create(alice_, "", id, Text("v1")));
  EXPECT_GE(retry.space_position, first.space_position);
  EXPECT_FALSE(a_.service.SessionToken(retry).empty());
}

}  // namespace
}  // namespace coffer::vault::service
