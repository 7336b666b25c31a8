// ChangeNotifier: one LISTEN session per replica on the change channel (coffer_vault_changes),
// fanned out in-process to every Watch stream (DESIGN.md §5). PostgreSQL delivers the
// notifications of every replica's commits (local writes via the outbox trigger, every record
// change incl. merges via the V002 change_seq trigger), so Watch works across replicas.
//
// A notification only says "space X changed"; watchers then query the change feed from their
// cursor, so a lost notification (session broken and re-opened) costs at most one heartbeat
// interval: watchers also re-query on every heartbeat.
//
// Lifecycle: Start() spawns the listener thread; Stop() wakes every waiter and ends it.
// Threading: Generation() and WaitForChange() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace coffer::vault::sync {

class ChangeNotifier {
 public:
  explicit ChangeNotifier(std::string db_dsn) : dsn_(std::move(db_dsn)) {}
  ~ChangeNotifier();

  void Start();
  void Stop();

  // A counter bumped by every notification for `space_id`.
  uint64_t Generation(const std::string& space_id);
  // Waits until the generation of `space_id` differs from `seen`, the notifier stops, or
  // `timeout` passes. Returns true when it changed.
  bool WaitForChange(const std::string& space_id, uint64_t seen, std::chrono::milliseconds timeout);

 private:
  void Run();
  void Bump(const std::string& space_id);

  const std::string dsn_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, uint64_t> generations_;
  std::thread thread_;
};

}  // namespace coffer::vault::sync
