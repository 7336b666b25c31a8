#include "services/vault/sync/change_notifier.h"

#include <pqxx/connection>
#include <pqxx/notification>

#include "pkg/postgres/connection_pool.h"

namespace coffer::vault::sync {
namespace {

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& conn, std::function<void(const std::string&)> on)
      : pqxx::notification_receiver(conn, "coffer_vault_changes"), on_(std::move(on)) {}
  void operator()(const std::string& payload, int) override { on_(payload); }

 private:
  std::function<void(const std::string&)> on_;
};

}  // namespace

ChangeNotifier::~ChangeNotifier() { Stop(); }

void ChangeNotifier::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void ChangeNotifier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t ChangeNotifier::Generation(const std::string& space_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = generations_.find(space_id);
  return it == generations_.end() ? 0 : it->second;
}

bool ChangeNotifier::WaitForChange(const std::string& space_id, uint64_t seen,
                                   std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    if (stop_) return true;
    auto it = generations_.find(space_id);
    return it != generations_.end() && it->second != seen;
  }) && !stop_;
}

void ChangeNotifier::Bump(const std::string& space_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generations_[space_id];
  }
  cv_.notify_all();
}

void ChangeNotifier::Run() {
  while (!stop_) {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> conn =
        postgres::Connect(dsn_, std::chrono::seconds(5));
    if (!conn.ok()) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_.load(); });
      continue;
    }
    try {
      Receiver receiver(**conn, [this](const std::string& space) { Bump(space); });
      while (!stop_) (*conn)->await_notification(0, 200000);
    } catch (const std::exception&) {
      // Broken session: reconnect. Watchers still re-query on heartbeats meanwhile.
    }
  }
}

}  // namespace coffer::vault::sync
