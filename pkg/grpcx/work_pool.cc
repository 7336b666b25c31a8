#include "pkg/grpcx/work_pool.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

namespace coffer::grpcx {
namespace {

void NameThread(const std::string& name) {
  // Linux limits a thread name to 15 characters.
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace

WorkPool::WorkPool(const Options& options) {
  const int n = std::max(1, options.threads);
  workers_.reserve(n);
  for (int i = 0; i < n; ++i) {
    workers_.emplace_back([this, name = options.name + "-" + std::to_string(i)] {
      NameThread(name);
      Run();
    });
  }
  timer_ = std::thread([this, name = options.name + "-timer"] {
    NameThread(name);
    RunTimer();
  });
}

WorkPool::~WorkPool() { Stop(); }

void WorkPool::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void WorkPool::PostAt(Clock::time_point deadline, std::function<void()> task) {
  bool earliest = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    auto it = timers_.emplace(deadline, std::move(task));
    earliest = it == timers_.begin();
  }
  // Only a new earliest deadline changes how long the timer thread sleeps.
  if (earliest) timer_cv_.notify_one();
}

void WorkPool::Stop() {
  std::lock_guard<std::mutex> joining(join_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    tasks_.clear();
    timers_.clear();
  }
  cv_.notify_all();
  timer_cv_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  if (timer_.joinable()) timer_.join();
}

size_t WorkPool::queued() {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size();
}

size_t WorkPool::timers() {
  std::lock_guard<std::mutex> lock(mu_);
  return timers_.size();
}

void WorkPool::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
    if (stop_) return;
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // destroy what it captured outside the lock
    lock.lock();
  }
}

void WorkPool::RunTimer() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (timers_.empty()) {
      timer_cv_.wait(lock);
      continue;
    }
    auto first = timers_.begin();
    if (first->first > Clock::now()) {
      timer_cv_.wait_until(lock, first->first);
      continue;  // an earlier timer may have arrived, or stop
    }
    // Due: hand every due timer to the workers in deadline order.
    const auto now = Clock::now();
    size_t moved = 0;
    while (!timers_.empty() && timers_.begin()->first <= now) {
      tasks_.push_back(std::move(timers_.begin()->second));
      timers_.erase(timers_.begin());
      ++moved;
    }
    if (moved == 1)
      cv_.notify_one();
    else
      cv_.notify_all();
  }
}

}  // namespace coffer::grpcx
