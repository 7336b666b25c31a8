// coffer-bench-scale: how the cost of reading one space grows with its size (issue 19,
// docs/benchmarks.md "Listing a large space"). Driven by scripts/bench-scale.
//
// Logs one user in, grows its personal space to --records TEXT records (names in random order,
// --value-size bytes each; records already there are counted by a full Sync and kept), then
// measures, one call at a time (latency, not throughput):
//   first_page  ListRecords, page_size --page-size, from the start (after one warm-up call)
//   all_pages   ListRecords through every page, page_size --page-size
//   search      SearchRecords for a name matching a handful of records (scans the whole space)
//   full_sync   Sync from an empty cursor until has_more is false, page_size 1000
// and, with --vault-pid, the vault's resident memory before and after the reads. One JSON
// document on stdout (or --out).
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_login.h"
#include "bench/bench_proc.h"
#include "coffer/vault/v1/sync.grpc.pb.h"
#include "coffer/vault/v1/vault.grpc.pb.h"

namespace {

namespace v1 = coffer::vault::v1;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string addr;
  std::string identity_addr;
  std::string login = "scale-bench";
  std::string password = "scale-bench-password";
  int records = 1000;
  int value_size = 300;
  int page_size = 100;
  int repeat = 20;      // first_page and search samples
  int repeat_full = 3;  // all_pages and full_sync samples
  int writers = 8;      // concurrent creates while growing the space
  int vault_pid = 0;
  bool skip_all_pages = false;
  std::string out;
};

void Check(const grpc::Status& s, const std::string& what) {
  if (!s.ok()) throw std::runtime_error(what + ": " + s.error_message());
}

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
  ctx->AddMetadata("authorization", token);
  return ctx;
}

std::string Login(const Options& o) {
  return coffer::bench::RegisterAndLogin(o.identity_addr, o.login, o.password);
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

json Summary(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    return samples[std::min(samples.size() - 1, static_cast<size_t>(q * samples.size()))];
  };
  return {{"n", samples.size()},
          {"min_ms", samples.front()},
          {"p50_ms", at(0.5)},
          {"p90_ms", at(0.9)},
          {"max_ms", samples.back()}};
}

int64_t RssKiB(int pid) { return coffer::bench::ReadProc(pid).rss_kib; }

// Records the space holds now (a full Sync, tombstones excluded), and how long that took.
std::pair<int64_t, double> FullSync(v1::SyncService::Stub& sync, const std::string& token) {
  int64_t live = 0;
  std::string cursor;
  const auto t0 = Clock::now();
  for (;;) {
    v1::SyncRequest req;
    v1::SyncResponse resp;
    req.set_cursor(cursor);
    req.set_page_size(1000);
    Check(sync.Sync(Ctx(token).get(), req, &resp), "Sync");
    for (const auto& r : resp.changes()) live += r.deleted() ? 0 : 1;
    cursor = resp.next_cursor();
    if (!resp.has_more()) break;
  }
  return {live, Ms(Clock::now() - t0)};
}

void Grow(const Options& o, v1::RecordService::Stub& records, const std::string& token,
          int64_t have) {
  if (have >= o.records) return;
  std::vector<int> order(static_cast<size_t>(o.records - have));
  std::iota(order.begin(), order.end(), static_cast<int>(have));
  std::mt19937 rng(static_cast<uint32_t>(have) + 7);
  std::shuffle(order.begin(), order.end(), rng);  // names not in insertion order
  std::string value(static_cast<size_t>(o.value_size), 'x');
  for (char& c : value) c = static_cast<char>('a' + rng() % 26);
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::string failure;
  std::vector<std::thread> threads;
  for (int t = 0; t < o.writers; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < order.size(); i = next++) {
        v1::CreateRecordRequest req;
        v1::CreateRecordResponse resp;
        char name[32];
        std::snprintf(name, sizeof name, "item-%07d", order[i]);
        req.mutable_record()->set_type(v1::RECORD_TYPE_TEXT);
        req.mutable_record()->set_name(name);
        req.mutable_record()->mutable_text()->set_text(value);
        grpc::Status s = records.CreateRecord(Ctx(token).get(), req, &resp);
        if (!s.ok()) {
          std::lock_guard lock(mu);
          failure = "CreateRecord: " + s.error_message();
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!failure.empty()) throw std::runtime_error(failure);
}

int Run(const Options& o) {
  const std::string token = Login(o);
  auto channel = grpc::CreateChannel(o.addr, grpc::InsecureChannelCredentials());
  auto records = v1::RecordService::NewStub(channel);
  auto sync = v1::SyncService::NewStub(channel);

  auto [have, first_sync_ms] = FullSync(*sync, token);
  const auto grow_start = Clock::now();
  Grow(o, *records, token, have);
  const double grow_s = Ms(Clock::now() - grow_start) / 1000;
  const int64_t rss_before = RssKiB(o.vault_pid);

  auto list_page = [&](const std::string& page_token, std::string* next) {
    v1::ListRecordsRequest req;
    v1::ListRecordsResponse resp;
    req.set_page_size(o.page_size);
    req.set_page_token(page_token);
    Check(records->ListRecords(Ctx(token).get(), req, &resp), "ListRecords");
    *next = resp.next_page_token();
    return resp.records_size();
  };
  std::string next;
  list_page("", &next);  // warm-up (builds the index on a cold replica)

  std::vector<double> first_page;
  for (int i = 0; i < o.repeat; ++i) {
    const auto t0 = Clock::now();
    list_page("", &next);
    first_page.push_back(Ms(Clock::now() - t0));
  }
  std::vector<double> all_pages;
  int64_t listed = o.skip_all_pages ? o.records : 0;
  for (int i = 0; i < o.repeat_full && !o.skip_all_pages; ++i) {
    listed = 0;
    std::string page_token;
    const auto t0 = Clock::now();
    do {
      listed += list_page(page_token, &next);
      page_token = next;
    } while (!page_token.empty());
    all_pages.push_back(Ms(Clock::now() - t0));
  }
  // "item-000042" matches one name; "item-00004" a handful: every head is looked at.
  std::vector<double> search;
  int hits = 0;
  for (int i = 0; i < o.repeat; ++i) {
    v1::SearchRecordsRequest req;
    v1::SearchRecordsResponse resp;
    req.set_query("item-00004");
    req.set_page_size(o.page_size);
    const auto t0 = Clock::now();
    Check(records->SearchRecords(Ctx(token).get(), req, &resp), "SearchRecords");
    search.push_back(Ms(Clock::now() - t0));
    hits = resp.records_size();
  }
  std::vector<double> full_sync;
  int64_t synced = 0;
  for (int i = 0; i < o.repeat_full; ++i) {
    auto [n, ms] = FullSync(*sync, token);
    synced = n;
    full_sync.push_back(ms);
  }
  const int64_t rss_after = RssKiB(o.vault_pid);

  json summary_all = all_pages.empty() ? json(nullptr) : Summary(all_pages);
  json summary_sync = Summary(full_sync);
  json result = {
      {"records", o.records},
      {"listed", listed},
      {"synced", synced},
      {"search_hits", hits},
      {"value_size", o.value_size},
      {"page_size", o.page_size},
      {"grow_seconds", grow_s},
      {"first_page", Summary(first_page)},
      {"all_pages", summary_all},
      {"search", Summary(search)},
      {"full_sync", summary_sync},
      {"all_pages_per_full_sync", all_pages.empty() ? json(nullptr)
                                                    : json(summary_all["p50_ms"].get<double>() /
                                                           summary_sync["p50_ms"].get<double>())},
      {"vault_rss_kib_before", rss_before},
      {"vault_rss_kib_after", rss_after},
  };
  if (listed != o.records || synced != o.records) {
    std::cerr << "listed " << listed << " and synced " << synced << " of " << o.records << "\n";
    return 1;
  }
  if (o.out.empty()) {
    std::cout << result.dump(2) << "\n";
  } else {
    std::ofstream(o.out) << result.dump(2) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"coffer-bench-scale: cost of reading one space as it grows"};
  app.add_option("--addr", o.addr, "vault gRPC host:port")->required();
  app.add_option("--identity-addr", o.identity_addr, "identity gRPC host:port")->required();
  app.add_option("--login", o.login, "the user whose personal space is grown");
  app.add_option("--password", o.password, "its password");
  app.add_option("--records", o.records, "records the space holds when measured")
      ->check(CLI::Range(1, 10'000'000));
  app.add_option("--value-size", o.value_size, "bytes of each record's text")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--page-size", o.page_size, "ListRecords / SearchRecords page size")
      ->check(CLI::Range(1, 1000));
  app.add_option("--repeat", o.repeat, "samples of first_page and search")
      ->check(CLI::Range(1, 10000));
  app.add_option("--repeat-full", o.repeat_full, "samples of all_pages and full_sync")
      ->check(CLI::Range(1, 100));
  app.add_option("--writers", o.writers, "concurrent creates while growing the space")
      ->check(CLI::Range(1, 256));
  app.add_option("--vault-pid", o.vault_pid, "report this process's resident memory");
  app.add_flag("--skip-all-pages", o.skip_all_pages,
               "do not page through the whole space (O(n^2) without the record index)");
  app.add_option("--out", o.out, "write the JSON here instead of stdout");
  CLI11_PARSE(app, argc, argv);
  try {
    return Run(o);
  } catch (const std::exception& e) {
    std::cerr << "coffer-bench-scale: " << e.what() << "\n";
    return 1;
  }
}
