// StreamLimiter: caps how many long-lived calls of one kind (Watch, UploadFile, DownloadFile) run
// at once, per user (token subject) and per replica (security audit H5).
//
// Why: each sync-API stream holds a server thread for as long as it is open, and a Watch never
// ends by itself. Without a cap, one user can open thousands of streams and leave no thread for
// anybody else. A call past either cap is refused at once with RESOURCE_EXHAUSTED, a message
// naming the limit and a retry hint (service::WithRetryAfter -> google.rpc.RetryInfo); it never
// waits, so one user's streams cannot slow another user's calls.
//
// Usage (in a handler, after authentication):
//   COFFER_ASSIGN_OR_RETURN(StreamLimiter::Slot slot, limiter.Acquire(caller.subject));
//   ... the stream ...    // the slot is freed when `slot` goes out of scope
//
// Metrics (no user ids): coffer_vault_open_streams{kind} (gauge),
// coffer_vault_streams_refused_total{kind,limit="user"|"replica"} and
// coffer_vault_stream_idle_timeouts_total{kind} (streams ended by grpcx::IdleWatchdog), from
// StreamMetrics.
//
// Lifecycle: the limiter must outlive its Slots; StreamMetrics must outlive the limiters.
// Threading: thread-safe; a Slot is owned by one thread at a time.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"

namespace coffer::vault::transport {

// The metric families every StreamLimiter of a process shares (registered once).
struct StreamMetrics {
  explicit StreamMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Gauge>& open_streams;
  prometheus::Family<prometheus::Counter>& refused_total;
  prometheus::Family<prometheus::Counter>& idle_timeouts_total;
};

class StreamLimiter {
 public:
  struct Options {
    std::string kind;                     // metric label: watch, upload, download
    std::string description;              // in messages: "Watch streams", "file uploads"
    int per_user = 8;                     // open at once per token subject; 0 = no cap
    int per_replica = 512;                // open at once in this process; 0 = no cap
    std::chrono::seconds retry_after{2};  // the retry hint of a refusal
  };

  // An open stream's place (RAII, move-only). Freed by the destructor.
  class Slot {
   public:
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();

   private:
    friend class StreamLimiter;
    Slot(StreamLimiter* owner, std::string subject) : owner_(owner), subject_(std::move(subject)) {}
    void Release();

    StreamLimiter* owner_ = nullptr;
    std::string subject_;
  };

  // `metrics` may be null (unit tests without a registry).
  StreamLimiter(Options options, StreamMetrics* metrics);
  StreamLimiter(const StreamLimiter&) = delete;
  StreamLimiter& operator=(const StreamLimiter&) = delete;

  // A slot for one more stream of `subject`, or RESOURCE_EXHAUSTED (with a retry hint) when the
  // subject or this replica is at its cap.
  absl::StatusOr<Slot> Acquire(const std::string& subject);

  // Counts one stream of this kind ended for making no progress (idle_timeouts_total).
  void CountIdleTimeout();

  // Streams open now, in total and of one subject.
  int open() const;
  int open(const std::string& subject) const;

  const Options& options() const { return options_; }

 private:
  void Release(const std::string& subject);

  const Options options_;
  prometheus::Gauge* open_gauge_ = nullptr;
  prometheus::Counter* refused_user_ = nullptr;
  prometheus::Counter* refused_replica_ = nullptr;
  prometheus::Counter* idle_timeouts_ = nullptr;
  mutable std::mutex mu_;
  int open_ = 0;                                  // guarded by mu_
  std::unordered_map<std::string, int> by_user_;  // subject -> open streams (> 0); guarded by mu_
};

}  // namespace coffer::vault::transport
