// IdleWatchdog: ends streaming calls that stop making progress.
//
// Why: a sync-API handler blocked in ServerReader::Read (a client that sends nothing more) or
// ServerWriter::Write (a client that reads nothing) has no timeout of its own, so it holds its
// thread, and whatever the call holds (e.g. an upload's buffered content), until the client or
// TCP gives up (security audit M6). gRPC keepalive (GrpcServerOptions) only ends connections
// whose peer vanished, not live clients that stall.
//
// Usage (one Guard per call, armed around every blocking step):
//   auto guard = watchdog.Track(grpcx::CancelCallWith(ctx, grpc::StatusCode::DEADLINE_EXCEEDED,
//                                                     "no chunk for 30 s; nothing was stored"));
//   guard.Arm(30s);
//   while (reader->Read(&msg)) { guard.Disarm(); ...; guard.Arm(30s); }
//   guard.Disarm();
//   if (guard.fired()) return <the same error>;   // the client already got it
// If a Guard stays armed past its deadline, its cancel function runs once, on the watchdog's
// thread (the blocked Read/Write then returns false and the handler unwinds, releasing what it
// holds). The thread sleeps until the earliest deadline; arming and disarming take a mutex and
// wake it only when the new deadline is the earliest.
//
// Lifecycle: the watchdog must outlive its Guards. Once a Guard is destroyed its cancel function
// never runs again (and none is running). Threading: thread-safe; one Guard is used by one thread.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace coffer::grpcx {

class IdleWatchdog {
 public:
  using Clock = std::chrono::steady_clock;
  using CancelFn = std::function<void()>;

 private:
  struct Entry {
    CancelFn cancel;
    std::optional<Clock::time_point> deadline;  // guarded by the watchdog's mutex
    std::atomic<bool> fired{false};
  };

 public:
  // One call's registration (RAII, move-only).
  class Guard {
   public:
    Guard(Guard&& other) noexcept;
    Guard& operator=(Guard&& other) noexcept;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard();

    // Unless Disarm() or another Arm() comes within `timeout`, the cancel function runs (once).
    void Arm(std::chrono::milliseconds timeout);
    void Disarm();
    // Whether the cancel function ran.
    bool fired() const { return entry_ != nullptr && entry_->fired.load(); }

   private:
    friend class IdleWatchdog;
    Guard(IdleWatchdog* owner, uint64_t id, std::shared_ptr<Entry> entry)
        : owner_(owner), id_(id), entry_(std::move(entry)) {}
    void Release();

    IdleWatchdog* owner_ = nullptr;
    uint64_t id_ = 0;
    std::shared_ptr<Entry> entry_;
  };

  // `run_thread` false: nothing expires by itself, tests call Expire() with a time of their own.
  explicit IdleWatchdog(bool run_thread = true);
  ~IdleWatchdog();
  IdleWatchdog(const IdleWatchdog&) = delete;
  IdleWatchdog& operator=(const IdleWatchdog&) = delete;

  // Registers a call, disarmed.
  Guard Track(CancelFn cancel);

  // Runs the cancel function of every Guard armed with a deadline at or before `now` (and
  // disarms it). Returns how many fired. The thread calls it; tests may too.
  int Expire(Clock::time_point now);

  // Guards registered / armed right now.
  int tracked() const;
  int armed() const;

 private:
  void Run();
  void SetDeadline(uint64_t id, std::optional<Clock::time_point> deadline);
  void Remove(uint64_t id);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::shared_ptr<Entry>> entries_;  // guarded by mu_
  uint64_t next_id_ = 1;                                // guarded by mu_
  // The deadline the thread sleeps until (max() while nothing is armed); guarded by mu_.
  Clock::time_point sleeping_until_ = Clock::time_point::max();
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

// A cancel function that ends `context`'s call with `code` and `message` at once (also while
// the handler is blocked in Read or Write). The client sees that status. The context must
// outlive the Guard it is given to (a handler's own ServerContext does).
IdleWatchdog::CancelFn CancelCallWith(grpc::ServerContextBase* context, grpc::StatusCode code,
                                      std::string message);

}  // namespace coffer::grpcx
