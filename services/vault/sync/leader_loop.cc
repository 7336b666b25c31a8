#include "services/vault/sync/leader_loop.h"

#include "pkg/log/log.h"
#include "pkg/postgres/leader_lock.h"

namespace coffer::vault::sync {
namespace {

class PgAdvisoryLeadership final : public Leadership {
 public:
  PgAdvisoryLeadership(const std::string& dsn, const std::string& name)
      : lock_(dsn, postgres::AdvisoryLockKey(name)) {}
  absl::StatusOr<bool> TryAcquire() override { return lock_.TryAcquire(); }
  bool IsHeld() override { return lock_.IsHeld(); }
  void Release() override { (void)lock_.Release(); }

 private:
  postgres::LeaderLock lock_;
};

}  // namespace

std::unique_ptr<Leadership> PgLeadership(const std::string& dsn, const std::string& name) {
  return std::make_unique<PgAdvisoryLeadership>(dsn, name);
}

LeaderLoop::LeaderLoop(LeaderLoopOptions options, std::unique_ptr<Leadership> leadership,
                       SyncMetrics& metrics)
    : options_(std::move(options)), leadership_(std::move(leadership)), metrics_(metrics) {}

LeaderLoop::~LeaderLoop() { Stop(); }

void LeaderLoop::Start(Rounds rounds) {
  if (thread_.joinable()) return;
  rounds_ = std::move(rounds);
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void LeaderLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LeaderLoop::Sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, d, [this] { return stop_.load(); });
}

bool LeaderLoop::ConfirmLeadership() {
  if (lost_in_round_) return false;
  if (leadership_->IsHeld()) return true;
  lost_in_round_ = true;
  return false;
}

void LeaderLoop::Lose(const char* why) {
  if (leader_.exchange(false)) {
    metrics_.leadership_changes.Add({{"role", options_.role}, {"change", "lost"}}).Increment();
    log::Info("leadership released or lost",
              {{"role", options_.role}, {"reason", std::string(why)}});
  }
  if (rounds_.lost) rounds_.lost();
}

void LeaderLoop::Run() {
  while (!stop_) {
    if (!leader_) {
      absl::StatusOr<bool> got = leadership_->TryAcquire();
      if (!got.ok() || !*got) {
        if (rounds_.standby) rounds_.standby();
        Sleep(options_.standby_interval);
        continue;
      }
      leader_ = true;
      lost_in_round_ = false;
      metrics_.leadership_changes.Add({{"role", options_.role}, {"change", "acquired"}})
          .Increment();
      log::Info("leadership acquired", {{"role", options_.role}, {"shard_id", options_.shard_id}});
    }
    rounds_.lead();
    if (lost_in_round_) {
      lost_in_round_ = false;
      Lose("lock session lost");
      leadership_->Release();
    }
  }
  if (leader_) Lose("stopping");
  leadership_->Release();
}

}  // namespace coffer::vault::sync
