// WorkPool: a few threads that run the blocking parts of async-API calls, and a timer.
//
// Why: gRPC's events of an async-API call (a Watch stream) are handled on the threads of its
// completion queue, which must never block; a call that waits for something (a Watch stream
// waiting for a change) holds no thread at all. Its blocking steps (PostgreSQL queries) are
// posted here, so a replica with thousands of open streams runs a handful of threads instead of
// one per stream (docs/benchmarks.md, "Idle Watch streams").
//
// Usage:
//   grpcx::WorkPool pool({.threads = 4, .name = "watch"});
//   pool.Post([state] { state->Step(); });                  // soon, on a pool thread
//   pool.PostAt(deadline, [weak] { if (auto s = weak.lock()) s->Poke(); });  // at `deadline`
//
// Tasks run in FIFO order of their due time; a timer's task runs on a pool thread, never on the
// timer's. Tasks must not throw. Lifecycle: threads start in the constructor; Stop() (also run by
// the destructor; idempotent) drops tasks not yet started, waits for the running ones and joins
// the threads; Post after Stop does nothing. Threading: every function from any thread; Post and
// PostAt also from tasks, Stop never from a task (it would wait for itself).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace coffer::grpcx {

class WorkPool {
 public:
  struct Options {
    int threads = 4;
    std::string name = "work";  // thread name prefix (shown by top -H, perf)
  };
  using Clock = std::chrono::steady_clock;

  explicit WorkPool(const Options& options);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  void Post(std::function<void()> task);
  // Runs `task` on a pool thread once `deadline` has passed (at once when it already has).
  void PostAt(Clock::time_point deadline, std::function<void()> task);
  void Stop();

  // Tasks queued (due) and timers pending, for tests and metrics.
  size_t queued();
  size_t timers();

 private:
  void Run();
  void RunTimer();

  std::mutex mu_;
  std::condition_variable cv_;        // workers: a task is due, or stop
  std::condition_variable timer_cv_;  // timer thread: an earlier deadline, or stop
  std::deque<std::function<void()>> tasks_;
  std::multimap<Clock::time_point, std::function<void()>> timers_;
  bool stop_ = false;
  std::mutex join_mu_;  // Stop: one caller joins
  std::vector<std::thread> workers_;
  std::thread timer_;
};

}  // namespace coffer::grpcx
