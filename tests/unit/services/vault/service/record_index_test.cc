// The record index (service/record_index.h) behind RecordService's List, Search and
// ListConflicts: pages equal those read from the repository after any sequence of writes, on
// every replica (read-your-writes without a session token), through tombstone GC, a rewound
// database, eviction and spaces too large to hold.
#include "services/vault/service/record_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>

#include "pkg/crypto/encoding.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/domain/ids.h"
#include "services/vault/repository/in_memory_repositories.h"
#include "services/vault/service/record_service.h"

namespace coffer::vault::service {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::StatusIs;
using domain::RecordContent;
using domain::Revision;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

RecordContent Content(std::string name, std::map<std::string, std::string> metadata = {},
                      bool credential = false) {
  RecordContent c;
  c.name = std::move(name);
  c.metadata = std::move(metadata);
  if (credential) {
    c.payload = domain::CredentialPayload{"login-" + c.name, "secret", "https://x", ""};
  } else {
    c.payload = domain::TextPayload{"body"};
  }
  return c;
}

// One RecordService per replica over the same repositories (as replicas share a shard's
// PostgreSQL), each with its own index; `reference_`'s index holds nothing, so every call reads
// the whole space from the start: the pages an index kept up to date incrementally must equal.
class RecordIndexTest : public ::testing::Test {
 protected:
  struct Replica {
    Replica(RecordIndexTest& t, RecordIndexConfig config)
        : index(config, t.records_, t.cipher_),
          service(
              RecordServiceConfig{"shard-a", 0, 100}, t.records_, t.access_, t.cipher_, t.hlc_,
              [&t] { return t.now_ms_; }, [&t] { return t.NextId(); }, nullptr, index) {}
    RecordIndex index;
    RecordService service;
  };

  RecordIndexTest()
      : keyring_(*crypto::Keyring::Parse("k1:" + crypto::Base64Encode(std::string(32, 'k')))),
        cipher_(keyring_),
        access_(spaces_, [this] { return now_ms_; }),
        hlc_([this] { return static_cast<uint64_t>(now_ms_); }),
        unheld_(RecordIndexConfig{.max_bytes = 0}, records_, cipher_),
        reference_(
            RecordServiceConfig{"shard-a", 0, 100}, records_, access_, cipher_, hlc_,
            [this] { return now_ms_; }, [this] { return NextId(); }, nullptr, unheld_) {}

  std::string NextId() {
    char buf[37];
    std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012d", ++ids_);
    return buf;
  }

  // "name@version" of every record `filter` lists, paging by `page_size`.
  std::vector<std::string> ListAll(RecordService& s, const RecordListFilter& filter, int page_size,
                                   const Caller* caller = nullptr) {
    std::vector<std::string> out;
    std::string token;
    do {
      auto page = s.List(caller ? *caller : alice_, "", filter, page_size, token);
      EXPECT_THAT(page.status(), IsOk());
      if (!page.ok()) break;
      EXPECT_LE(page->items.size(), static_cast<size_t>(page_size));
      for (const Revision& r : page->items) {
        out.push_back(r.content.name + "@" + std::to_string(r.stamp.version) + "#" +
                      std::to_string(r.sibling_count));
      }
      token = page->next_page_token;
    } while (!token.empty());
    return out;
  }
  std::vector<std::string> SearchAll(RecordService& s, const std::string& query, int page_size) {
    std::vector<std::string> out;
    std::string token;
    do {
      auto page = s.Search(alice_, "", query, page_size, token);
      EXPECT_THAT(page.status(), IsOk());
      if (!page.ok()) break;
      for (const Revision& r : page->items) out.push_back(r.content.name + "/" + r.record_id);
      token = page->next_page_token;
    } while (!token.empty());
    return out;
  }
  std::vector<std::string> ConflictsAll(RecordService& s, int page_size) {
    std::vector<std::string> out;
    std::string token;
    do {
      auto page = s.ListConflicts(alice_, "", page_size, token);
      EXPECT_THAT(page.status(), IsOk());
      if (!page.ok()) break;
      for (const RecordWithSiblings& r : page->items) {
        out.push_back(r.head.content.name + "+" + std::to_string(r.siblings.size()));
      }
      token = page->next_page_token;
    } while (!token.empty());
    return out;
  }

  // What List({.in_trash}) must return, computed without the index: the repository's heads,
  // opened, with their sibling counts, sorted by (name, id).
  std::vector<std::string> Oracle(bool in_trash) {
    const std::string space = domain::PersonalSpaceId("alice");
    auto heads = records_.ListHeads(space, {.in_trash = in_trash});
    EXPECT_THAT(heads.status(), IsOk());
    std::vector<std::tuple<std::string, std::string, std::string>> rows;
    for (const repository::StoredRecord& h :
         heads.value_or(std::vector<repository::StoredRecord>{})) {
      auto r = cipher_.Open(h.head);
      auto full = records_.Get(space, h.head.record_id);
      EXPECT_THAT(r.status(), IsOk());
      EXPECT_THAT(full.status(), IsOk());
      if (!r.ok() || !full.ok() || !*full) continue;
      rows.emplace_back(r->content.name, r->record_id,
                        r->content.name + "@" + std::to_string(r->stamp.version) + "#" +
                            std::to_string((*full)->siblings.size()));
    }
    std::sort(rows.begin(), rows.end());
    std::vector<std::string> out;
    for (auto& row : rows) out.push_back(std::get<2>(row));
    return out;
  }

  // A concurrent revision of `r` from shard-b, merged in as the consumer would.
  void AddSibling(const Revision& r) {
    Revision theirs = r;
    theirs.stamp = {1, domain::VersionVector({{"shard-b", static_cast<uint64_t>(++sibling_)}}),
                    r.stamp.hlc - 5, "shard-b"};
    theirs.content = Content(r.content.name + "-theirs");
    auto stored = cipher_.Seal(theirs);
    ASSERT_THAT(stored.status(), IsOk());
    records_.AddSiblingForTest(*stored);
  }

  int64_t now_ms_ = 1'700'000'000'000;
  int ids_ = 0;
  int sibling_ = 0;
  crypto::Keyring keyring_;
  RecordCipher cipher_;
  repository::InMemoryRecordRepository records_;
  repository::InMemorySpaceRepository spaces_;
  SpaceAccess access_;
  domain::Hlc hlc_;
  RecordIndex unheld_;  // holds nothing: reads the space for every call
  RecordService reference_;
  const Caller alice_{"alice", {}};
  const Caller bob_{"bob", {}};
};

TEST_F(RecordIndexTest, EveryReplicaReadsWritesMadeThroughAnother) {
  Replica a(*this, {}), b(*this, {});
  COFFER_ASSERT_OK_AND_ASSIGN(Revision x, a.service.Create(alice_, "", "", Content("x")));
  ASSERT_THAT(a.service.Create(alice_, "", "", Content("y")), IsOk());
  EXPECT_THAT(ListAll(b.service, {}, 10), ElementsAre("x@1#0", "y@1#0"));  // b builds
  // Each write through a is visible in b's next page, without any session token.
  ASSERT_THAT(a.service.Update(alice_, x.record_id, "", Content("z"), 1), IsOk());
  EXPECT_THAT(ListAll(b.service, {}, 10), ElementsAre("y@1#0", "z@2#0"));
  ASSERT_THAT(a.service.Delete(alice_, x.record_id, 2), IsOk());
  EXPECT_THAT(ListAll(b.service, {}, 10), ElementsAre("y@1#0"));
  EXPECT_THAT(ListAll(b.service, {.in_trash = true}, 10), ElementsAre("z@3#0"));
  ASSERT_THAT(a.service.Purge(alice_, x.record_id, 3), IsOk());
  EXPECT_THAT(ListAll(b.service, {.in_trash = true}, 10), IsEmpty());
  EXPECT_EQ(b.index.stats().builds, 1);
  // Another user's space is indexed on its own and never mixed in.
  ASSERT_THAT(a.service.Create(bob_, "", "", Content("bobs")), IsOk());
  EXPECT_THAT(ListAll(b.service, {}, 10), ElementsAre("y@1#0"));
  EXPECT_THAT(ListAll(b.service, {}, 10, &bob_), ElementsAre("bobs@1#0"));
  EXPECT_EQ(b.index.stats().spaces, 2);
}

// Random writes (creates, renames, metadata changes, deletes, undeletes, purges, merged
// siblings), and after each step every filter, search and page size gives exactly the pages
// read from the repository, on the replica that wrote and on one that did not.
TEST_F(RecordIndexTest, PagesEqualTheRepositorysAfterRandomWrites) {
  Replica writer(*this, {}), other(*this, {.batch = 3});
  std::mt19937 rng(20261206);
  const std::vector<std::string> names = {"alpha", "Alpha", "beta", "a", "", "gamma", "ab"};
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  std::vector<Revision> live;
  for (int step = 0; step < 120; ++step) {
    const size_t op = live.empty() ? 0 : pick(7);
    std::string name = names[pick(names.size())];
    if (name.empty()) name = "n" + std::to_string(step);
    std::map<std::string, std::string> md;
    if (pick(2) == 0) md["group"] = pick(2) == 0 ? "one" : "two";
    if (op <= 1) {
      COFFER_ASSERT_OK_AND_ASSIGN(
          Revision r, writer.service.Create(alice_, "", "", Content(name, md, pick(2) == 0)));
      live.push_back(r);
      continue;
    }
    const size_t i = pick(live.size());
    auto got = writer.service.Get(alice_, live[i].record_id, false);
    ASSERT_THAT(got.status(), IsOk());
    const Revision head = got->head;
    absl::StatusOr<Revision> next = head;
    if (op == 2 && head.deleted) {
      next = writer.service.Undelete(alice_, head.record_id, head.stamp.version);
    } else if (op == 2) {
      next =
          writer.service.Update(alice_, head.record_id, "", Content(name, md), head.stamp.version);
    } else if (op == 3) {
      next = head.deleted ? writer.service.Undelete(alice_, head.record_id, head.stamp.version)
                          : writer.service.Delete(alice_, head.record_id, head.stamp.version);
    } else if (op == 4 && head.deleted) {
      ASSERT_THAT(writer.service.Purge(alice_, head.record_id, head.stamp.version), IsOk());
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    } else if (op == 5) {
      AddSibling(head);
    }
    ASSERT_THAT(next.status(), IsOk());
    live[i] = *next;
    if (step % 4 != 0) continue;
    const std::vector<RecordListFilter> filters = {
        {},
        {.in_trash = true},
        {.in_conflict = true},
        {.types = {domain::RecordType::kCredential}},
        {.name_prefix = "A"},
        {.metadata_key = "group"},
        {.metadata_key = "group", .metadata_value = "two"},
    };
    ASSERT_EQ(ListAll(other.service, {}, 3), Oracle(false)) << "step " << step;
    ASSERT_EQ(ListAll(other.service, {.in_trash = true}, 3), Oracle(true)) << "step " << step;
    for (const RecordListFilter& f : filters) {
      for (int size : {1, 3, 100}) {
        const std::vector<std::string> want = ListAll(reference_, f, size);
        ASSERT_EQ(ListAll(writer.service, f, size), want) << "step " << step << " size " << size;
        ASSERT_EQ(ListAll(other.service, f, size), want) << "step " << step << " size " << size;
      }
    }
    for (const std::string q : {"a", "LOGIN", "zzz", "one"}) {
      ASSERT_EQ(SearchAll(other.service, q, 2), SearchAll(reference_, q, 2)) << q;
    }
    ASSERT_EQ(ConflictsAll(other.service, 2), ConflictsAll(reference_, 2));
  }
  // The other replica was built once and caught up incrementally since.
  EXPECT_EQ(other.index.stats().builds, 1);
  EXPECT_GT(other.index.stats().catch_ups, 1);
}

// Tombstone GC can remove a purge before the index has read it; the space's GC floor passing
// the index's position makes it read the space again instead of keeping the purged record.
TEST_F(RecordIndexTest, RebuildsWhenGcRemovedAPurgeItHasNotSeen) {
  Replica a(*this, {}), b(*this, {});
  COFFER_ASSERT_OK_AND_ASSIGN(Revision gone, a.service.Create(alice_, "", "", Content("gone")));
  ASSERT_THAT(a.service.Create(alice_, "", "", Content("kept")), IsOk());
  EXPECT_THAT(ListAll(b.service, {}, 10), ElementsAre("gone@1#0", "kept@1#0"));
  ASSERT_THAT(a.service.Delete(alice_, gone.record_id, 1), IsOk());
  ASSERT_THAT(a.service.Purge(alice_, gone.record_id, 2), IsOk());
  ASSERT_TRUE(records_.CollectTombstoneForTest(gone.space_id, gone.record_id));
  EXPECT_THAT(ListAll(b.service, {}, 10), ElementsAre("kept@1#0"));
  EXPECT_THAT(ListAll(b.service, {.in_trash = true}, 10), IsEmpty());
  EXPECT_EQ(b.index.stats().builds, 2);
}

// A database restored from an older backup hands out change_seq values the index has passed;
// the periodic check reads the space again so new records are not missed.
TEST_F(RecordIndexTest, RebuildsWhenTheDatabasesChangeSeqWentBack) {
  Replica a(*this, {}), b(*this, {.check_rewind_every = std::chrono::milliseconds(0)});
  for (const char* name : {"one", "two", "three"}) {
    ASSERT_THAT(a.service.Create(alice_, "", "", Content(name)), IsOk());  // change_seq 1, 2, 3
  }
  EXPECT_THAT(ListAll(b.service, {}, 10), ElementsAre("one@1#0", "three@1#0", "two@1#0"));
  records_.RestoreForTest(1);
  ASSERT_THAT(a.service.Create(alice_, "", "", Content("four")), IsOk());  // change_seq 2 again
  EXPECT_THAT(ListAll(b.service, {}, 10), ElementsAre("four@1#0", "one@1#0"));
  EXPECT_EQ(b.index.stats().builds, 2);
}

TEST_F(RecordIndexTest, EvictsLeastRecentlyUsedSpacesToStayWithinItsBytes) {
  Replica writer(*this, {});
  for (int i = 0; i < 20; ++i) {
    ASSERT_THAT(writer.service.Create(alice_, "", "", Content("a" + std::to_string(i))), IsOk());
    ASSERT_THAT(writer.service.Create(bob_, "", "", Content("b" + std::to_string(i))), IsOk());
  }
  // Measure one space, then allow a little more than one.
  Replica probe(*this, {});
  ASSERT_EQ(ListAll(probe.service, {}, 100).size(), 20u);
  const int64_t one_space = probe.index.stats().bytes;
  Replica small(*this, {.max_bytes = one_space + one_space / 2});
  EXPECT_EQ(ListAll(small.service, {}, 7).size(), 20u);
  EXPECT_EQ(ListAll(small.service, {}, 7, &bob_).size(), 20u);
  EXPECT_EQ(small.index.stats().evictions, 1);
  EXPECT_EQ(small.index.stats().spaces, 1);
  EXPECT_LE(small.index.stats().bytes, one_space + one_space / 2);
  EXPECT_EQ(ListAll(small.service, {}, 7), ListAll(reference_, {}, 7));
  EXPECT_EQ(small.index.stats().builds, 3);  // alice, bob, alice again
}

// A space larger than the whole budget is served from the repository, with the same pages.
TEST_F(RecordIndexTest, ASpaceTooLargeToHoldIsReadFromTheRepository) {
  Replica writer(*this, {});
  for (int i = 0; i < 30; ++i) {
    ASSERT_THAT(writer.service.Create(alice_, "", "", Content("r" + std::to_string(i))), IsOk());
  }
  Replica tiny(*this, {.max_bytes = 4096});
  int visited = 0;
  auto scan = tiny.index.Scan(domain::PersonalSpaceId("alice"), std::nullopt,
                              [&](const std::string&, const RecordIndex::Entry&) {
                                ++visited;
                                return true;
                              });
  ASSERT_THAT(scan.status(), IsOk());
  EXPECT_FALSE(*scan);  // not held
  EXPECT_EQ(visited, 30);
  EXPECT_EQ(ListAll(tiny.service, {}, 4), ListAll(reference_, {}, 4));
  EXPECT_EQ(ListAll(tiny.service, {}, 4).size(), 30u);
  EXPECT_LE(tiny.index.stats().bytes, 4096);
  EXPECT_EQ(tiny.index.stats().builds, 0);
  // Retried only after retry_too_big: no further attempt to hold it (each call read the space
  // for itself).
  EXPECT_EQ(tiny.index.stats().catch_ups, 1);
}

// A change feed that fails on demand, standing in for PostgreSQL going away mid-catch-up.
class FailingFeed final : public repository::ChangeFeedStore {
 public:
  explicit FailingFeed(repository::ChangeFeedStore& inner) : inner_(inner) {}
  absl::StatusOr<std::vector<repository::ChangeEntry>> ListChanges(const std::string& space_id,
                                                                   int64_t after_seq, int limit,
                                                                   int64_t* gc_floor) override {
    if (calls_until_failure_ == 0) return absl::UnavailableError("database unavailable");
    if (calls_until_failure_ > 0) --calls_until_failure_;
    return inner_.ListChanges(space_id, after_seq, limit, gc_floor);
  }
  absl::StatusOr<int64_t> LastChangeSeq() override { return inner_.LastChangeSeq(); }
  int calls_until_failure_ = -1;  // -1 = never fail

 private:
  repository::ChangeFeedStore& inner_;
};

// A catch-up that fails half-way drops what it read (its bytes leave the account) and the call
// fails with the database's error; the next call reads the space again.
TEST_F(RecordIndexTest, AFailedCatchUpKeepsNothingHalfRead) {
  Replica writer(*this, {});
  for (int i = 0; i < 10; ++i) {
    ASSERT_THAT(writer.service.Create(alice_, "", "", Content("r" + std::to_string(i))), IsOk());
  }
  FailingFeed feed(records_);
  RecordIndex index({.batch = 4}, feed, cipher_);
  RecordService service(
      RecordServiceConfig{"shard-a", 0, 100}, records_, access_, cipher_, hlc_,
      [this] { return now_ms_; }, [this] { return NextId(); }, nullptr, index);
  const int64_t empty = [&] {
    RecordIndex probe({}, records_, cipher_);
    (void)probe.Scan("00000000-0000-4000-8000-00000000ffff", std::nullopt,
                     [](const std::string&, const RecordIndex::Entry&) { return true; });
    return probe.stats().bytes;
  }();
  feed.calls_until_failure_ = 2;  // two batches of 4 records, then the database goes away
  EXPECT_THAT(service.List(alice_, "", {}, 100, ""), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(index.stats().bytes, empty);
  EXPECT_EQ(index.stats().builds, 0);
  feed.calls_until_failure_ = -1;
  EXPECT_EQ(ListAll(service, {}, 100).size(), 10u);
  EXPECT_EQ(index.stats().builds, 1);
  EXPECT_GT(index.stats().bytes, empty);
}

// Secrets stay sealed in the index: an entry holds the searchable texts in plaintext, never the
// password (only inside the sealed payload).
TEST_F(RecordIndexTest, EntriesKeepPayloadSecretsSealed) {
  Replica a(*this, {});
  ASSERT_THAT(a.service.Create(alice_, "", "", Content("bank", {{"k", "V"}}, true)), IsOk());
  std::vector<std::string> texts;
  std::string payload_ct;
  auto scan = a.index.Scan(domain::PersonalSpaceId("alice"), std::nullopt,
                           [&](const std::string&, const RecordIndex::Entry& e) {
                             texts = e.search_texts;
                             payload_ct = e.sealed.payload_ct;
                             return true;
                           });
  ASSERT_THAT(scan.status(), IsOk());
  ASSERT_TRUE(*scan);
  EXPECT_THAT(texts, ElementsAre("bank", "k", "v", "login-bank", "https://x"));
  EXPECT_FALSE(payload_ct.empty());  // the page's records are opened from it
}

}  // namespace
}  // namespace coffer::vault::service
