#include "services/vault/service/record_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "pkg/crypto/encoding.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/domain/ids.h"
#include "services/vault/domain/otp.h"
#include "services/vault/repository/in_memory_repositories.h"

namespace coffer::vault::service {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::StatusIs;
using domain::RecordContent;
using domain::Revision;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

RecordContent Credential(std::string name, std::string login = "alice",
                         std::string password = "hunter2") {
  RecordContent c;
  c.name = std::move(name);
  c.payload = domain::CredentialPayload{std::move(login), std::move(password), "https://x", ""};
  return c;
}

RecordContent Text(std::string name, std::string text = "body") {
  RecordContent c;
  c.name = std::move(name);
  c.payload = domain::TextPayload{std::move(text)};
  return c;
}

// Every test runs twice: List, Search and ListConflicts served by the record index held in
// memory (true) and by the index reading the space for each call (false, as a space too large
// to hold is).
class RecordServiceTest : public ::testing::TestWithParam<bool> {
 protected:
  RecordServiceTest()
      : keyring_(*crypto::Keyring::Parse("k1:" + crypto::Base64Encode(std::string(32, 'k')))),
        cipher_(keyring_),
        access_(spaces_, [this] { return now_ms_; }),
        hlc_([this] { return static_cast<uint64_t>(now_ms_); }),
        metrics_(registry_),
        index_(RecordIndexConfig{.max_bytes = GetParam() ? int64_t{64} << 20 : 0}, records_,
               cipher_),
        service_(
            RecordServiceConfig{"shard-a", 3, 100}, records_, access_, cipher_, hlc_,
            [this] { return now_ms_; }, [this] { return NextId(); }, &metrics_, index_) {}

  std::string NextId() {
    char buf[37];
    std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012d", ++ids_);
    return buf;
  }

  double Written(const std::string& type, const std::string& op) {
    return metrics_.records_written_total.Add({{"type", type}, {"op", op}}).Value();
  }

  int64_t now_ms_ = 1'700'000'000'000;
  int ids_ = 0;
  crypto::Keyring keyring_;
  RecordCipher cipher_;
  repository::InMemoryRecordRepository records_;
  repository::InMemorySpaceRepository spaces_;
  SpaceAccess access_;
  domain::Hlc hlc_;
  prometheus::Registry registry_;
  VaultMetrics metrics_;
  RecordIndex index_;
  RecordService service_;
  const Caller alice_{"alice", {}};
  const Caller bob_{"bob", {}};
};

// A FILE record's blob reference is checked when it is set or changed, not when an update keeps
// it (that compares with the stored head, so Update opens the head for FILE content), and an
// update to another type needs no check.
class CountingFileRefs final : public FileRefChecker {
 public:
  absl::Status Check(const std::string& /*space_id*/,
                     const domain::FilePayload& /*file*/) const override {
    ++calls;
    return allow ? absl::OkStatus()
                 : absl::InvalidArgumentError("record.file.blob_id: no such blob");
  }
  mutable int calls = 0;
  bool allow = true;
};

TEST_P(RecordServiceTest, AnUpdateChecksAFileReferenceOnlyWhenItChanges) {
  CountingFileRefs refs;
  RecordServiceConfig config{"shard-a", 3, 100};
  config.file_refs = &refs;
  RecordService service(
      config, records_, access_, cipher_, hlc_, [this] { return now_ms_; },
      [this] { return NextId(); }, nullptr, index_);
  auto file = [](std::string name, std::string blob) {
    RecordContent c;
    c.name = std::move(name);
    c.payload = domain::FilePayload{std::move(blob), 10, "", "text/plain", "a.txt"};
    return c;
  };
  const std::string a = "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";
  const std::string b = "1f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";
  COFFER_ASSERT_OK_AND_ASSIGN(Revision v1, service.Create(alice_, "", "", file("f", a)));
  EXPECT_EQ(refs.calls, 1);
  refs.allow = false;
  COFFER_ASSERT_OK(service.Update(alice_, v1.record_id, "", file("renamed", a), 1).status());
  EXPECT_EQ(refs.calls, 1);
  EXPECT_THAT(service.Update(alice_, v1.record_id, "", file("other", b), 2).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("record.file.blob_id")));
  EXPECT_EQ(refs.calls, 2);
  COFFER_ASSERT_OK_AND_ASSIGN(Revision text,
                              service.Update(alice_, v1.record_id, "", Text("now text"), 2));
  EXPECT_EQ(text.type, domain::RecordType::kText);
  EXPECT_EQ(refs.calls, 2);
}

TEST_P(RecordServiceTest, CreateAndGetEveryType) {
  std::vector<domain::Payload> payloads = {
      domain::CredentialPayload{"a", "p", "u", "n"},
      domain::TextPayload{"t"},
      domain::CardPayload{"4111 1111 1111 1111", "Jane", 1, 2030, "123", "Bank"},
      domain::OtpPayload{domain::OtpKind::kTotp, "JBSWY3DPEHPK3PXP", domain::OtpAlgorithm::kSha1, 6,
                         30, 0, "Issuer", "acct"},
      domain::InstrumentPayload{"US0378331005", "AAPL", "XNAS", "USD", "stock", ""},
      domain::FilePayload{"", 10, "", "text/plain", "a.txt"},
      domain::SealedPayload{std::string("\x00\x01", 2), "ck", "xchacha"},
  };
  for (const auto& p : payloads) {
    RecordContent c;
    c.name = "item";
    c.metadata = {{"k", "v"}};
    c.payload = p;
    COFFER_ASSERT_OK_AND_ASSIGN(Revision created, service_.Create(alice_, "", "", c));
    EXPECT_EQ(created.stamp.version, 1);
    EXPECT_EQ(created.stamp.origin_shard, "shard-a");
    EXPECT_EQ(created.stamp.vector.Get("shard-a"), 1u);
    EXPECT_EQ(created.space_id, domain::PersonalSpaceId("alice"));
    COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings got,
                                service_.Get(alice_, created.record_id, false));
    EXPECT_EQ(got.head.type, domain::TypeOf(p));
    EXPECT_EQ(got.head.content, created.content);
  }
  // Normalized on the way in.
  RecordContent visa;
  visa.name = "visa";
  visa.payload = domain::CardPayload{"4111-1111-1111-1111", "", 0, 0, "", ""};
  COFFER_ASSERT_OK_AND_ASSIGN(Revision card, service_.Create(alice_, "", "", visa));
  EXPECT_EQ(std::get<domain::CardPayload>(card.content.payload).number, "4111111111111111");
  EXPECT_EQ(Written("card", "create"), 2);
}

TEST_P(RecordServiceTest, CreateWithClientIdIsIdempotent) {
  const std::string id = "AAAAAAAA-0000-4000-8000-000000000001";
  COFFER_ASSERT_OK_AND_ASSIGN(Revision first, service_.Create(alice_, "", id, Text("n")));
  EXPECT_EQ(first.record_id, "aaaaaaaa-0000-4000-8000-000000000001");
  COFFER_ASSERT_OK_AND_ASSIGN(Revision retry, service_.Create(alice_, "", id, Text("n")));
  EXPECT_EQ(retry.stamp, first.stamp);
  EXPECT_THAT(service_.Create(alice_, "", id, Text("other")),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(records_.OutboxForTest().size(), 1u);
}

// Records are identified by (space, id): another user's space may hold the same id, which is
// another record (and its existence is never revealed).
TEST_P(RecordServiceTest, TheSameIdInAnotherSpaceIsAnotherRecord) {
  const std::string id = "aaaaaaaa-0000-4000-8000-000000000002";
  COFFER_ASSERT_OK_AND_ASSIGN(Revision alices, service_.Create(alice_, "", id, Text("alice's")));
  COFFER_ASSERT_OK_AND_ASSIGN(Revision bobs, service_.Create(bob_, "", id, Text("bob's")));
  EXPECT_NE(alices.space_id, bobs.space_id);
  COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings a, service_.Get(alice_, id, false));
  COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings b, service_.Get(bob_, id, false));
  EXPECT_EQ(a.head.content.name, "alice's");
  EXPECT_EQ(b.head.content.name, "bob's");
  // Naming the other's space explicitly is NOT_FOUND, as for a record that does not exist.
  EXPECT_THAT(service_.Get(alice_, id, false, bobs.space_id),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_.Delete(alice_, id, 1, bobs.space_id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_.Get(alice_, id, false, "not-a-uuid"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Deleting one leaves the other.
  COFFER_ASSERT_OK(service_.Delete(bob_, id, 1).status());
  COFFER_ASSERT_OK_AND_ASSIGN(a, service_.Get(alice_, id, false));
  EXPECT_FALSE(a.head.deleted);
  EXPECT_EQ(records_.OutboxForTest().size(), 3u);
}

TEST_P(RecordServiceTest, UpdateIsCheckAndSet) {
  COFFER_ASSERT_OK_AND_ASSIGN(Revision v1, service_.Create(alice_, "", "", Text("n", "one")));
  COFFER_ASSERT_OK_AND_ASSIGN(Revision v2,
                              service_.Update(alice_, v1.record_id, "", Text("n", "two"), 1));
  EXPECT_EQ(v2.stamp.version, 2);
  EXPECT_GT(v2.stamp.hlc, v1.stamp.hlc);
  EXPECT_EQ(v2.created_at_ms, v1.created_at_ms);
  EXPECT_THAT(service_.Update(alice_, v1.record_id, "", Text("n", "three"), 1),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("current version is 2")));
  COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings got, service_.Get(alice_, v1.record_id, false));
  EXPECT_EQ(std::get<domain::TextPayload>(got.head.content.payload).text, "two");
  // A record is named by (space, id): another space (here one alice is not in) names another
  // record, and records never move between spaces.
  EXPECT_THAT(
      service_.Update(alice_, v1.record_id, "11111111-1111-4111-8111-111111111111", Text("n"), 2),
      StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_.Update(alice_, v1.record_id, "nope", Text("n"), 2),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("record.space_id")));
  // expected_version 0 = create with that id.
  COFFER_ASSERT_OK_AND_ASSIGN(
      Revision created,
      service_.Update(alice_, "bbbbbbbb-0000-4000-8000-000000000001", "", Text("new"), 0));
  EXPECT_EQ(created.stamp.version, 1);
}

TEST_P(RecordServiceTest, DeleteUndeletePurge) {
  COFFER_ASSERT_OK_AND_ASSIGN(Revision v1, service_.Create(alice_, "", "", Text("n")));
  COFFER_ASSERT_OK_AND_ASSIGN(Revision v2, service_.Delete(alice_, v1.record_id, 1));
  EXPECT_TRUE(v2.deleted);
  EXPECT_THAT(service_.Update(alice_, v1.record_id, "", Text("x"), 2),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("trash")));
  EXPECT_THAT(service_.Delete(alice_, v1.record_id, 2),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  COFFER_ASSERT_OK_AND_ASSIGN(auto trash, service_.List(alice_, "", {.in_trash = true}, 0, ""));
  ASSERT_EQ(trash.items.size(), 1u);
  COFFER_ASSERT_OK_AND_ASSIGN(auto live, service_.List(alice_, "", {}, 0, ""));
  EXPECT_TRUE(live.items.empty());

  COFFER_ASSERT_OK_AND_ASSIGN(Revision v3, service_.Undelete(alice_, v1.record_id, 2));
  EXPECT_FALSE(v3.deleted);
  EXPECT_EQ(v3.content, v1.content);
  EXPECT_THAT(service_.Purge(alice_, v1.record_id, 3),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not in the trash")));
  ASSERT_THAT(service_.Delete(alice_, v1.record_id, 3), IsOk());
  ASSERT_THAT(service_.Purge(alice_, v1.record_id, 4), IsOk());
  EXPECT_THAT(service_.Get(alice_, v1.record_id, false), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_.ListVersions(alice_, v1.record_id, 0, ""),
              StatusIs(absl::StatusCode::kNotFound));
  // The tombstone stays in the replicated state and went to the outbox without content.
  auto outbox = records_.OutboxForTest();
  ASSERT_FALSE(outbox.empty());
  EXPECT_TRUE(outbox.back().purged);
  EXPECT_TRUE(outbox.back().name_ct.empty());
  EXPECT_EQ(outbox.back().stamp.version, 5);
}

TEST_P(RecordServiceTest, AnotherUserGetsNotFoundEverywhere) {
  COFFER_ASSERT_OK_AND_ASSIGN(Revision r, service_.Create(alice_, "", "", Text("secret")));
  const std::string& id = r.record_id;
  const size_t outbox = records_.OutboxForTest().size();
  auto nf = StatusIs(absl::StatusCode::kNotFound);
  EXPECT_THAT(service_.Get(bob_, id, true), nf);
  EXPECT_THAT(service_.Update(bob_, id, "", Text("x"), 1), nf);
  EXPECT_THAT(service_.Delete(bob_, id, 1), nf);
  EXPECT_THAT(service_.Undelete(bob_, id, 1), nf);
  EXPECT_THAT(service_.Purge(bob_, id, 1), nf);
  EXPECT_THAT(service_.ListVersions(bob_, id, 0, ""), nf);
  EXPECT_THAT(service_.GetVersion(bob_, id, 1), nf);
  EXPECT_THAT(service_.Restore(bob_, id, 1, 1), nf);
  EXPECT_THAT(service_.GetOtpCode(bob_, id), nf);
  EXPECT_THAT(service_.List(bob_, r.space_id, {}, 0, ""), nf);
  EXPECT_THAT(service_.Search(bob_, r.space_id, "secret", 0, ""), nf);
  EXPECT_THAT(service_.ListConflicts(bob_, r.space_id, 0, ""), nf);
  EXPECT_THAT(service_.Create(bob_, r.space_id, "", Text("x")), nf);
  COFFER_ASSERT_OK_AND_ASSIGN(auto bobs, service_.List(bob_, "", {}, 0, ""));
  EXPECT_TRUE(bobs.items.empty());
  EXPECT_EQ(records_.OutboxForTest().size(), outbox);
}

TEST_P(RecordServiceTest, ReaderMayReadButNotWrite) {
  const std::string shared = "cccccccc-0000-4000-8000-000000000001";
  spaces_.AddMemberForTest(shared, "alice", repository::Role::kOwner);
  spaces_.AddMemberForTest(shared, "bob", repository::Role::kReader);
  COFFER_ASSERT_OK_AND_ASSIGN(Revision r, service_.Create(alice_, shared, "", Text("team")));
  COFFER_EXPECT_OK(service_.Get(bob_, r.record_id, false, shared));
  EXPECT_THAT(service_.Get(bob_, r.record_id, false), StatusIs(absl::StatusCode::kNotFound))
      << "without the space, the id names a record of bob's personal space";
  EXPECT_THAT(service_.Update(bob_, r.record_id, shared, Text("x"), 1),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(service_.Create(bob_, shared, "", Text("x")),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_P(RecordServiceTest, MalformedInputNamesTheFieldAndStoresNothing) {
  COFFER_ASSERT_OK_AND_ASSIGN(Revision r, service_.Create(alice_, "", "", Text("n")));
  const size_t outbox = records_.OutboxForTest().size();
  auto field = [](const std::string& f) {
    return StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(f + ":"));
  };
  EXPECT_THAT(service_.Create(alice_, "", "", Text("")), field("record.name"));
  EXPECT_THAT(service_.Create(alice_, "", "not-a-uuid", Text("n")), field("record_id"));
  EXPECT_THAT(service_.Create(alice_, "bad-space", "", Text("n")), field("record.space_id"));
  RecordContent card;
  card.name = "c";
  card.payload = domain::CardPayload{"4111111111111112", "", 1, 2030, "", ""};
  EXPECT_THAT(service_.Create(alice_, "", "", card), field("record.card.number"));
  EXPECT_THAT(service_.Get(alice_, "nope", false), field("id"));
  EXPECT_THAT(service_.Update(alice_, r.record_id, "", Text(std::string(300, 'x')), 1),
              field("record.name"));
  EXPECT_THAT(service_.List(alice_, "", {}, -1, ""), field("page_size"));
  EXPECT_THAT(service_.List(alice_, "", {}, 0, "garbage"), field("page_token"));
  EXPECT_THAT(service_.Search(alice_, "", "", 0, ""), field("query"));
  EXPECT_THAT(service_.GetVersion(alice_, r.record_id, 0), field("version"));
  EXPECT_EQ(records_.OutboxForTest().size(), outbox);
  COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings got, service_.Get(alice_, r.record_id, false));
  EXPECT_EQ(got.head.stamp.version, 1);
}

TEST_P(RecordServiceTest, ListFiltersOrdersByNameAndPagesStably) {
  std::vector<std::string> names = {"delta", "Alpha", "charlie", "bravo", "echo"};
  for (const auto& n : names) {
    RecordContent c = n == "bravo" ? Credential(n) : Text(n);
    c.metadata = {{"group", n < "c" ? "first" : "second"}};
    ASSERT_THAT(service_.Create(alice_, "", "", c), IsOk());
  }
  std::vector<std::string> seen;
  std::string token;
  do {
    COFFER_ASSERT_OK_AND_ASSIGN(auto page, service_.List(alice_, "", {}, 2, token));
    EXPECT_LE(page.items.size(), 2u);
    for (const auto& r : page.items) seen.push_back(r.content.name);
    token = page.next_page_token;
    // A record added mid-way sorting before the cursor is not returned; none is repeated.
    if (seen.size() == 2) {
      ASSERT_THAT(service_.Create(alice_, "", "", Text("AAA")), IsOk());
    }
  } while (!token.empty());
  EXPECT_THAT(seen, ElementsAre("Alpha", "bravo", "charlie", "delta", "echo"));

  COFFER_ASSERT_OK_AND_ASSIGN(
      auto creds, service_.List(alice_, "", {.types = {domain::RecordType::kCredential}}, 0, ""));
  ASSERT_EQ(creds.items.size(), 1u);
  EXPECT_EQ(creds.items[0].content.name, "bravo");
  COFFER_ASSERT_OK_AND_ASSIGN(auto prefixed,
                              service_.List(alice_, "", {.name_prefix = "AL"}, 0, ""));
  ASSERT_EQ(prefixed.items.size(), 1u);
  EXPECT_EQ(prefixed.items[0].content.name, "Alpha");
  COFFER_ASSERT_OK_AND_ASSIGN(
      auto by_meta,
      service_.List(alice_, "", {.metadata_key = "group", .metadata_value = "second"}, 0, ""));
  EXPECT_EQ(by_meta.items.size(), 3u);
  // A token only works with the filter it was issued for.
  COFFER_ASSERT_OK_AND_ASSIGN(auto first, service_.List(alice_, "", {}, 1, ""));
  EXPECT_THAT(service_.List(alice_, "", {.name_prefix = "a"}, 1, first.next_page_token),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(RecordServiceTest, SearchIsCaseInsensitiveAndNeverMatchesSecrets) {
  RecordContent c = Credential("My Bank", "alice@example.org", "TopSecret");
  c.metadata = {{"site", "Bank.Example"}};
  ASSERT_THAT(service_.Create(alice_, "", "", c), IsOk());
  ASSERT_THAT(service_.Create(alice_, "", "", Text("groceries", "bank statement inside")), IsOk());
  COFFER_ASSERT_OK_AND_ASSIGN(auto hits, service_.Search(alice_, "", "BANK", 0, ""));
  ASSERT_EQ(hits.items.size(), 1u);
  EXPECT_EQ(hits.items[0].content.name, "My Bank");
  COFFER_ASSERT_OK_AND_ASSIGN(auto by_login, service_.Search(alice_, "", "example.org", 0, ""));
  EXPECT_EQ(by_login.items.size(), 1u);
  COFFER_ASSERT_OK_AND_ASSIGN(auto secret, service_.Search(alice_, "", "topsecret", 0, ""));
  EXPECT_TRUE(secret.items.empty());
}

TEST_P(RecordServiceTest, VersionsRetentionAndRestore) {
  COFFER_ASSERT_OK_AND_ASSIGN(Revision r, service_.Create(alice_, "", "", Text("n", "v1")));
  for (int v = 2; v <= 5; ++v) {
    ASSERT_THAT(service_.Update(alice_, r.record_id, "", Text("n", "v" + std::to_string(v)), v - 1),
                IsOk());
  }
  // Retention keeps the newest 3.
  COFFER_ASSERT_OK_AND_ASSIGN(auto page1, service_.ListVersions(alice_, r.record_id, 2, ""));
  ASSERT_EQ(page1.items.size(), 2u);
  EXPECT_EQ(page1.items[0].stamp.version, 5);
  EXPECT_EQ(page1.items[1].stamp.version, 4);
  COFFER_ASSERT_OK_AND_ASSIGN(auto page2,
                              service_.ListVersions(alice_, r.record_id, 2, page1.next_page_token));
  ASSERT_EQ(page2.items.size(), 1u);
  EXPECT_EQ(page2.items[0].stamp.version, 3);
  EXPECT_TRUE(page2.next_page_token.empty());
  EXPECT_THAT(service_.GetVersion(alice_, r.record_id, 1), StatusIs(absl::StatusCode::kNotFound));
  COFFER_ASSERT_OK_AND_ASSIGN(Revision v3, service_.GetVersion(alice_, r.record_id, 3));
  EXPECT_EQ(std::get<domain::TextPayload>(v3.content.payload).text, "v3");

  EXPECT_THAT(service_.Restore(alice_, r.record_id, 3, 4),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("current version is 5")));
  COFFER_ASSERT_OK_AND_ASSIGN(Revision restored, service_.Restore(alice_, r.record_id, 3, 5));
  EXPECT_EQ(restored.stamp.version, 6);
  EXPECT_EQ(std::get<domain::TextPayload>(restored.content.payload).text, "v3");
  EXPECT_THAT(service_.Restore(alice_, r.record_id, 1, 6), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(RecordServiceTest, OtpCodes) {
  RecordContent totp;
  totp.name = "totp";
  totp.payload = domain::OtpPayload{domain::OtpKind::kTotp,
                                    domain::Base32Encode("12345678901234567890"),
                                    domain::OtpAlgorithm::kSha1,
                                    8,
                                    30,
                                    0,
                                    "",
                                    ""};
  COFFER_ASSERT_OK_AND_ASSIGN(Revision t, service_.Create(alice_, "", "", totp));
  now_ms_ = 59'000;
  COFFER_ASSERT_OK_AND_ASSIGN(OtpCodeResult code, service_.GetOtpCode(alice_, t.record_id));
  EXPECT_EQ(code.code, "94287082");  // RFC 6238 test vector at T=59
  EXPECT_EQ(code.seconds_remaining, 1);
  EXPECT_EQ(code.period, 30);

  RecordContent hotp = totp;
  hotp.name = "hotp";
  std::get<domain::OtpPayload>(hotp.payload).kind = domain::OtpKind::kHotp;
  std::get<domain::OtpPayload>(hotp.payload).digits = 6;
  COFFER_ASSERT_OK_AND_ASSIGN(Revision h, service_.Create(alice_, "", "", hotp));
  COFFER_ASSERT_OK_AND_ASSIGN(OtpCodeResult c0, service_.GetOtpCode(alice_, h.record_id));
  COFFER_ASSERT_OK_AND_ASSIGN(OtpCodeResult c1, service_.GetOtpCode(alice_, h.record_id));
  EXPECT_EQ(c0.code, "755224");  // RFC 4226 counter 0
  EXPECT_EQ(c1.code, "287082");  // counter 1: the counter advanced in a new revision
  COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings got, service_.Get(alice_, h.record_id, false));
  EXPECT_EQ(got.head.stamp.version, 3);

  COFFER_ASSERT_OK_AND_ASSIGN(Revision text, service_.Create(alice_, "", "", Text("n")));
  EXPECT_THAT(service_.GetOtpCode(alice_, text.record_id),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_P(RecordServiceTest, LocalWriteResolvesConflictSiblings) {
  COFFER_ASSERT_OK_AND_ASSIGN(Revision r, service_.Create(alice_, "", "", Text("n", "mine")));
  // A concurrent revision from shard-b merged in (stands in for the sync consumer).
  Revision theirs = r;
  theirs.stamp = {1, domain::VersionVector({{"shard-b", 1}}), r.stamp.hlc - 5, "shard-b"};
  theirs.content = Text("n", "theirs");
  COFFER_ASSERT_OK_AND_ASSIGN(auto stored, cipher_.Seal(theirs));
  records_.AddSiblingForTest(stored);

  COFFER_ASSERT_OK_AND_ASSIGN(RecordWithSiblings got, service_.Get(alice_, r.record_id, true));
  EXPECT_EQ(got.head.sibling_count, 1);
  ASSERT_EQ(got.siblings.size(), 1u);
  EXPECT_EQ(std::get<domain::TextPayload>(got.siblings[0].content.payload).text, "theirs");
  COFFER_ASSERT_OK_AND_ASSIGN(auto conflicts, service_.ListConflicts(alice_, "", 0, ""));
  ASSERT_EQ(conflicts.items.size(), 1u);
  COFFER_ASSERT_OK_AND_ASSIGN(auto in_conflict,
                              service_.List(alice_, "", {.in_conflict = true}, 0, ""));
  EXPECT_EQ(in_conflict.items.size(), 1u);

  COFFER_ASSERT_OK_AND_ASSIGN(Revision resolved,
                              service_.Update(alice_, r.record_id, "", Text("n", "merged"), 1));
  EXPECT_EQ(resolved.stamp.version, 2);
  EXPECT_EQ(resolved.stamp.vector, domain::VersionVector({{"shard-a", 2}, {"shard-b", 1}}));
  COFFER_ASSERT_OK_AND_ASSIGN(got, service_.Get(alice_, r.record_id, true));
  EXPECT_EQ(got.head.sibling_count, 0);
  EXPECT_TRUE(got.siblings.empty());
}

TEST_P(RecordServiceTest, SpaceDigestIsDeterministicAndTracksState) {
  COFFER_ASSERT_OK_AND_ASSIGN(Revision r, service_.Create(alice_, "", "", Text("n")));
  COFFER_ASSERT_OK_AND_ASSIGN(auto d1, service_.SpaceDigest(r.space_id));
  COFFER_ASSERT_OK_AND_ASSIGN(auto d2, service_.SpaceDigest(r.space_id));
  EXPECT_EQ(d1, d2);
  EXPECT_EQ(d1.second, 1u);
  EXPECT_EQ(d1.first.size(), 64u);
  ASSERT_THAT(service_.Update(alice_, r.record_id, "", Text("n", "changed"), 1), IsOk());
  COFFER_ASSERT_OK_AND_ASSIGN(auto d3, service_.SpaceDigest(r.space_id));
  EXPECT_NE(d1.first, d3.first);
}

// Found by tests/fuzz/page_token (corpus regress-history-position-not-a-number): the ListVersions
// token's positions were read with std::stoll/std::stoull, which throw (and so end the process)
// on a plaintext that is not a number. Only a sealed token reaches the parse, but a token is
// input, and a parse must answer, not throw.
TEST(PageTokenPositionTest, HistoryPositionRoundTripsAndMalformedOnesAreRefused) {
  const repository::HistoryCursor c{7, 111411200000000007u, "shard|a"};
  absl::StatusOr<repository::HistoryCursor> back = DecodeHistoryPosition(EncodeHistoryPosition(c));
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->version, 7);
  EXPECT_EQ(back->hlc, 111411200000000007u);
  EXPECT_EQ(back->origin_shard, "shard|a");
  for (const char* bad : {"1|2", "x|2|s", "1|y|s", "|2|s", "1||s", "99999999999999999999|2|s",
                          "1|99999999999999999999|s"}) {
    EXPECT_THAT(DecodeHistoryPosition(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, "page_token: malformed"))
        << bad;
  }
  absl::StatusOr<std::pair<std::string, std::string>> name =
      DecodeNamePosition(EncodeNamePosition("My bank", "id"));
  ASSERT_THAT(name, IsOk());
  EXPECT_EQ(name->first, "My bank");
  EXPECT_EQ(name->second, "id");
  EXPECT_THAT(DecodeNamePosition("no separator"), StatusIs(absl::StatusCode::kInvalidArgument));
}

INSTANTIATE_TEST_SUITE_P(Index, RecordServiceTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Indexed" : "Unindexed";
                         });

}  // namespace
}  // namespace coffer::vault::service
