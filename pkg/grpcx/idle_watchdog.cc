#include "pkg/grpcx/idle_watchdog.h"

#include <grpc/grpc.h>

#include <utility>
#include <vector>

namespace coffer::grpcx {

// ---- Guard ----

IdleWatchdog::Guard::Guard(Guard&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      id_(std::exchange(other.id_, 0)),
      entry_(std::move(other.entry_)) {}

IdleWatchdog::Guard& IdleWatchdog::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::exchange(other.owner_, nullptr);
    id_ = std::exchange(other.id_, 0);
    entry_ = std::move(other.entry_);
  }
  return *this;
}

IdleWatchdog::Guard::~Guard() { Release(); }

void IdleWatchdog::Guard::Release() {
  if (owner_ != nullptr) owner_->Remove(id_);
  owner_ = nullptr;
}

void IdleWatchdog::Guard::Arm(std::chrono::milliseconds timeout) {
  if (owner_ != nullptr) owner_->SetDeadline(id_, Clock::now() + timeout);
}

void IdleWatchdog::Guard::Disarm() {
  if (owner_ != nullptr) owner_->SetDeadline(id_, std::nullopt);
}

// ---- IdleWatchdog ----

IdleWatchdog::IdleWatchdog(bool run_thread) {
  if (run_thread) thread_ = std::thread([this] { Run(); });
}

IdleWatchdog::~IdleWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

IdleWatchdog::Guard IdleWatchdog::Track(CancelFn cancel) {
  auto entry = std::make_shared<Entry>();
  entry->cancel = std::move(cancel);
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_id_++;
  entries_.emplace(id, entry);
  return Guard(this, id, std::move(entry));
}

void IdleWatchdog::SetDeadline(uint64_t id, std::optional<Clock::time_point> deadline) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    it->second->deadline = deadline;
    // Only a deadline earlier than the one the thread sleeps until needs it awake.
    wake = deadline.has_value() && *deadline < sleeping_until_;
  }
  if (wake) cv_.notify_all();
}

void IdleWatchdog::Remove(uint64_t id) {
  // Under the mutex: Expire() runs cancel functions holding it, so none runs once this returns.
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(id);
}

int IdleWatchdog::Expire(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  int fired = 0;
  for (auto& [id, entry] : entries_) {
    if (!entry->deadline.has_value() || *entry->deadline > now) continue;
    entry->deadline.reset();
    if (entry->fired.exchange(true)) continue;  // once
    // Short and non-blocking (a gRPC cancel); run under the mutex so that a Guard being
    // destroyed waits for it instead of racing it.
    if (entry->cancel) entry->cancel();
    ++fired;
  }
  return fired;
}

int IdleWatchdog::tracked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(entries_.size());
}

int IdleWatchdog::armed() const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& [id, entry] : entries_) n += entry->deadline.has_value() ? 1 : 0;
  return n;
}

void IdleWatchdog::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    Clock::time_point earliest = Clock::time_point::max();
    for (const auto& [id, entry] : entries_) {
      if (entry->deadline.has_value() && *entry->deadline < earliest) earliest = *entry->deadline;
    }
    if (earliest <= Clock::now()) {
      lock.unlock();
      Expire(Clock::now());
      lock.lock();
      continue;
    }
    sleeping_until_ = earliest;
    if (earliest == Clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, earliest);
    }
    sleeping_until_ = Clock::time_point::max();
  }
}

IdleWatchdog::CancelFn CancelCallWith(grpc::ServerContextBase* context, grpc::StatusCode code,
                                      std::string message) {
  return [context, code, message = std::move(message)] {
    grpc_call_cancel_with_status(context->c_call(), static_cast<grpc_status_code>(code),
                                 message.c_str(), nullptr);
  };
}

}  // namespace coffer::grpcx
