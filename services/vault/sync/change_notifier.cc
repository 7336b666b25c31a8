#include "services/vault/sync/change_notifier.h"

#include <algorithm>
#include <iterator>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/notification>

#include "pkg/log/log.h"
#include "pkg/postgres/connection_pool.h"
#include "pkg/postgres/prepared.h"

namespace coffer::vault::sync {
namespace {

// One statement text for every batch, prepared once on the publisher's session: a VALUES list
// spliced per batch was parsed and planned by PostgreSQL on every send.
constexpr char kNotifySql[] = "SELECT pg_notify($1, s) FROM unnest($2::text[]) AS s";

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& conn, std::function<void(const std::string&, int)> on)
      : pqxx::notification_receiver(conn, ChangeNotifier::kChannel), on_(std::move(on)) {}
  void operator()(const std::string& payload, int backend_pid) override {
    on_(payload, backend_pid);
  }

 private:
  std::function<void(const std::string&, int)> on_;
};

}  // namespace

ChangeNotifier::~ChangeNotifier() { Stop(); }

void ChangeNotifier::Start() {
  if (listener_.joinable()) return;
  stop_ = false;
  listener_ = std::thread([this] { RunListener(); });
  publisher_ = std::thread([this] { RunPublisher(); });
}

void ChangeNotifier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    pending_.clear();
    // Under the lock: spaces_ may gain nodes concurrently.
    for (auto& [id, space] : spaces_) space.cv.notify_all();
  }
  cv_.notify_all();
  publish_cv_.notify_all();
  if (listener_.joinable()) listener_.join();
  if (publisher_.joinable()) publisher_.join();
}

void ChangeNotifier::Publish(const std::string& space_id) { Bump(space_id, /*publish=*/true); }

ChangeNotifier::Space& ChangeNotifier::Entry(const std::string& space_id) {
  auto [it, inserted] = spaces_.try_emplace(space_id);
  if (inserted) it->second.generation = floor_;
  return it->second;
}

void ChangeNotifier::MaybeSweep() {
  if (spaces_.size() < sweep_at_) return;
  for (auto it = spaces_.begin(); it != spaces_.end();) {
    const Space& space = it->second;
    it = space.waiting == 0 && space.subscribers.empty() ? spaces_.erase(it) : std::next(it);
  }
  // Every erased generation is at most the shared counter; a later change takes a larger value.
  floor_ = any_generation_;
  sweep_at_ = std::max(kMinSweep, 2 * spaces_.size());
}

uint64_t ChangeNotifier::Generation(const std::string& space_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = spaces_.find(space_id);
  return it == spaces_.end() ? floor_ : it->second.generation;
}

uint64_t ChangeNotifier::Epoch(const std::string& space_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = spaces_.find(space_id);
  // Every (re)connection of the LISTEN session may follow notifications nobody received, so it
  // moves every space's epoch (both parts only grow; 2^40 changes before they could meet).
  return (listen_sessions_ << 40) + (it == spaces_.end() ? floor_ : it->second.generation);
}

size_t ChangeNotifier::spaces() {
  std::lock_guard<std::mutex> lock(mu_);
  return spaces_.size();
}

bool ChangeNotifier::WaitForChange(const std::string& space_id, uint64_t seen,
                                   std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  Space& space = Entry(space_id);  // waiting > 0 below: not erased while this thread waits
  ++space.waiting;
  const bool woken =
      space.cv.wait_for(lock, timeout, [&] { return stop_ || space.generation != seen; });
  --space.waiting;
  return woken && !stop_;
}

uint64_t ChangeNotifier::AnyGeneration() {
  std::lock_guard<std::mutex> lock(mu_);
  return any_generation_;
}

bool ChangeNotifier::WaitForAnyChange(uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  ++any_waiting_;
  const bool woken = cv_.wait_for(lock, timeout, [&] { return stop_ || any_generation_ != seen; });
  --any_waiting_;
  return woken && !stop_;
}

int ChangeNotifier::waiters() {
  std::lock_guard<std::mutex> lock(mu_);
  int n = any_waiting_;
  for (const auto& [id, space] : spaces_) n += space.waiting;
  return n;
}

void ChangeNotifier::Bump(const std::string& space_id, bool publish) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    MaybeSweep();
    Space& space = Entry(space_id);
    space.generation = ++any_generation_;
    for (auto& [id, on_change] : space.subscribers) on_change();
    // Under the lock: once it is released the waiters may leave and a sweep erase the entry.
    if (space.waiting > 0) space.cv.notify_all();  // only this space's watchers
    // Also before Start(): the publisher sends it once started. Stop() clears the queue.
    if (publish) pending_.insert(space_id);
  }
  cv_.notify_all();
  if (publish) publish_cv_.notify_one();
}

uint64_t ChangeNotifier::Subscribe(const std::string& space_id, std::function<void()> on_change) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = ++next_subscription_;
  Entry(space_id).subscribers.emplace(id, std::move(on_change));
  return id;
}

void ChangeNotifier::Unsubscribe(const std::string& space_id, uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = spaces_.find(space_id);
  if (it != spaces_.end()) it->second.subscribers.erase(id);
}

void ChangeNotifier::RunListener() {
  while (!stop_) {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> conn =
        postgres::Connect(dsn_, std::chrono::seconds(5), session_);
    if (!conn.ok()) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_.load(); });
      continue;
    }
    try {
      Receiver receiver(**conn, [this](const std::string& space, int pid) {
        if (pid != publisher_pid_.load()) Bump(space, /*publish=*/false);
      });
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++listen_sessions_;  // listening from now on; what was sent before may be lost
      }
      while (!stop_) (*conn)->await_notification(0, 200000);
    } catch (const std::exception&) {
      // Broken session: reconnect. Watchers still re-query on heartbeats meanwhile.
    }
  }
}

void ChangeNotifier::RunPublisher() {
  std::unique_ptr<pqxx::connection> conn;
  while (true) {
    std::set<std::string> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      publish_cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
      if (stop_) break;
      // Coalesce: whatever else commits within the window goes into the same NOTIFY statement.
      publish_cv_.wait_for(lock, batch_window_, [this] { return stop_.load(); });
      if (stop_) break;
      batch.swap(pending_);
    }
    if (!conn) {
      absl::StatusOr<std::unique_ptr<pqxx::connection>> c =
          postgres::Connect(dsn_, std::chrono::seconds(5), session_);
      if (!c.ok()) {
        // Dropped: the other replicas' watchers and relay still poll.
        log::Warn("change notifier: cannot connect to publish notifications",
                  {{"status", c.status()}});
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_.load(); });
        continue;
      }
      conn = *std::move(c);
      try {
        pqxx::nontransaction setup(*conn);
        // Nothing depends on this NOTIFY surviving a crash: do not wait for its WAL flush.
        setup.exec0("SET synchronous_commit = off");
        publisher_pid_ = conn->backendpid();
      } catch (const std::exception&) {
        conn.reset();
        publisher_pid_ = 0;
        continue;
      }
    }
    try {
      pqxx::nontransaction txn(*conn);
      postgres::ExecPrepared(txn, kNotifySql, std::string(kChannel), postgres::ArrayLiteral(batch));
    } catch (const std::exception&) {
      // Broken session: this batch is lost (receivers poll), the next one reconnects.
      conn.reset();
      publisher_pid_ = 0;
    }
  }
  publisher_pid_ = 0;
}

}  // namespace coffer::vault::sync
