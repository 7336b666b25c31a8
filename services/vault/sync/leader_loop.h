// LeaderLoop: the one shape of every job that runs once per shard (outbox relay, change consumer,
// tombstone GC; docs/architecture.md §4). Every replica runs the loop; the one holding the job's
// Leadership runs the job's rounds, the others stand by and take over when the leader's
// session ends.
//
//   loop: stopping? -> give leadership up, return
//         not leader? -> TryAcquire; failed: standby round, sleep `standby_interval`
//         leader      -> one `lead` round (the job decides how long it waits inside it)
//         a round called ConfirmLeadership() and lost -> `lost`, back to standby
//
// Leadership changes are logged and counted (coffer_vault_leadership_changes_total{role,change}).
// A round must return within about its own poll interval so Stop() is prompt; Sleep() wakes on
// Stop().
//
// Why Leadership is an interface: production uses a PostgreSQL session advisory lock
// (PgLeadership, pkg/postgres/leader_lock.h); unit tests use an in-process one, so relay and
// consumer are tested without a database.
//
// Lifecycle: Start() spawns the thread; Stop() (or the destructor) ends it and releases
// leadership. Threading: is_leader(), stopping() from any thread; Sleep() and
// ConfirmLeadership() only from inside a round.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "services/vault/sync/sync_metrics.h"

namespace coffer::vault::sync {

// Who may run a once-per-shard job.
class Leadership {
 public:
  virtual ~Leadership() = default;
  // true: this instance holds it (also when it already did); false: someone else does.
  // UNAVAILABLE when the arbiter (the database) cannot be reached.
  virtual absl::StatusOr<bool> TryAcquire() = 0;
  // true only while this instance still holds it (may cost a round trip).
  virtual bool IsHeld() = 0;
  // Gives it up (no-op when not held).
  virtual void Release() = 0;
};

// A PostgreSQL session advisory lock named `name` (e.g. "coffer.vault.outbox_relay") on its own
// connection to `dsn` (a secret: never logged). Connects lazily.
std::unique_ptr<Leadership> PgLeadership(const std::string& dsn, const std::string& name);

struct LeaderLoopOptions {
  std::string role;      // "relay" | "consumer" | "gc": metric label and log text
  std::string shard_id;  // for the log
  std::chrono::milliseconds standby_interval{1000};
};

class LeaderLoop {
 public:
  struct Rounds {
    std::function<void()> lead;     // one round as leader (required)
    std::function<void()> standby;  // one round while another replica leads (optional)
    std::function<void()> lost;     // after leadership was lost or given up (optional)
  };

  LeaderLoop(LeaderLoopOptions options, std::unique_ptr<Leadership> leadership,
             SyncMetrics& metrics);
  ~LeaderLoop();
  LeaderLoop(const LeaderLoop&) = delete;
  LeaderLoop& operator=(const LeaderLoop&) = delete;

  void Start(Rounds rounds);
  void Stop();

  bool is_leader() const { return leader_.load(); }
  bool stopping() const { return stop_.load(); }
  // Waits up to `d`; returns at once when stopping.
  void Sleep(std::chrono::milliseconds d);
  // true while this replica still leads. false: leadership is given up once the current round
  // returns (which it should do at once), and the `lost` round runs.
  bool ConfirmLeadership();

 private:
  void Run();
  void Lose(const char* why);

  const LeaderLoopOptions options_;
  const std::unique_ptr<Leadership> leadership_;
  SyncMetrics& metrics_;
  Rounds rounds_;
  std::atomic<bool> leader_{false};
  std::atomic<bool> stop_{false};
  bool lost_in_round_ = false;  // loop thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace coffer::vault::sync
