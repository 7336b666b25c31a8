// ChangeNotifier: wakes whoever waits for record changes of this shard (Watch streams, the outbox
// relay), locally and across the replicas of the shard (docs/architecture.md §4–5).
//
// Local changes: the repositories, whose CommitListener it is, call Publish(space_id) right after
// a transaction that changed records committed (local writes and merge batches). Publish bumps
// the in-process generations at once and queues the space for the other replicas. A background
// publisher thread then sends the queued spaces, coalesced over `batch_window`, as ONE autocommit
// prepared `SELECT pg_notify($1, s) FROM unnest($2::text[])` on its own session (with
// synchronous_commit off; one statement text for any batch, so PostgreSQL parses and plans it
// once per session).
// Writers therefore never NOTIFY inside their own transaction: a transaction that notifies holds
// PostgreSQL's database-wide notify-queue lock from pre-commit until its commit is flushed, which
// serialized every write commit (docs/benchmarks.md, Put).
//
// Other replicas: one LISTEN session per replica on that channel bumps the generations of the
// spaces named in the payload (the space id as text). Notifications sent by this replica's own
// publisher are ignored (they were already applied in-process).
//
// A notification only says "space X changed"; watchers then query the change feed from their
// cursor and the relay reads the outbox, so a lost notification (session broken, process killed
// between commit and publish) costs at most one heartbeat / poll interval: both also poll.
//
// Wake-ups are per space (security audit H5): each space that has waiters has a condition
// variable of its own, so a commit wakes only the Watch streams of its space (and the relay),
// not every stream of the replica.
//
// Both sessions get the pool's keepalives and timeouts (`session`, pkg/postgres dsn.h): a
// LISTEN session whose server vanished is noticed by TCP keepalive and reopened. Waiting for
// notifications is not a statement, so statement_timeout never ends it.
//
// Lifecycle: Start() spawns the listener and publisher threads; Stop() wakes every waiter and
// ends them (queued, unsent notifications are dropped). Publish() before Start() queues for the
// publisher. Threading: every public function from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "pkg/postgres/dsn.h"
#include "services/vault/repository/change_generations.h"
#include "services/vault/repository/commit_listener.h"

namespace coffer::vault::sync {

class ChangeNotifier final : public repository::CommitListener,
                             public repository::ChangeGenerations {
 public:
  // The channel every replica LISTENs on; a notification's payload is one space id.
  static constexpr char kChannel[] = "coffer_vault_changes";

  explicit ChangeNotifier(std::string db_dsn,
                          std::chrono::milliseconds batch_window = std::chrono::milliseconds(2),
                          postgres::SessionSettings session = {})
      : dsn_(std::move(db_dsn)), batch_window_(batch_window), session_(session) {}
  ~ChangeNotifier() override;

  void Start();
  void Stop();

  // Records of `space_id` changed in a transaction that has committed: wakes local waiters now
  // and notifies the other replicas within about `batch_window`. Never blocks on the database.
  void Publish(const std::string& space_id);
  // The repositories' CommitListener (repository/commit_listener.h): Publish.
  void Committed(const std::string& space_id) override { Publish(space_id); }

  // Moves (grows) with every change of `space_id` (local or notified). Values come from one
  // counter shared by every space, so a space whose entry was dropped while idle (see Space)
  // never returns to a value it had before a change.
  uint64_t Generation(const std::string& space_id);
  // repository::ChangeGenerations (the head cache's invalidation): moves with Generation and, for
  // every space, whenever the LISTEN session is (re)opened.
  uint64_t Epoch(const std::string& space_id) override;
  // Waits until the generation of `space_id` differs from `seen`, the notifier stops, or
  // `timeout` passes. Returns true when it changed.
  bool WaitForChange(const std::string& space_id, uint64_t seen, std::chrono::milliseconds timeout);

  // Calls `on_change` after every change of `space_id` (local or notified), on the thread that
  // learned of it, with the notifier's lock held: it must be quick and must not call back into
  // the notifier (callback-API Watch streams post their work elsewhere). Returns the id for
  // Unsubscribe; once Unsubscribe returns the callback is not running and never runs again.
  uint64_t Subscribe(const std::string& space_id, std::function<void()> on_change);
  void Unsubscribe(const std::string& space_id, uint64_t id);

  // A counter bumped by every change of any space (for the outbox relay).
  uint64_t AnyGeneration();
  // Like WaitForChange, for any space. Returns false at once once Stop() was called.
  bool WaitForAnyChange(uint64_t seen, std::chrono::milliseconds timeout);

  // Threads inside WaitForChange or WaitForAnyChange right now (lets tests see a waiter waiting).
  int waiters();
  // Spaces with an entry right now (tests: idle entries are dropped).
  size_t spaces();

  // Idle entries are dropped once the map holds this many (and then at twice what remained).
  static constexpr size_t kMinSweep = 4096;

 private:
  void RunListener();
  void RunPublisher();
  // Bumps the generations of `space_id` and wakes its waiters and subscribers; `publish` also
  // queues it for the other replicas.
  void Bump(const std::string& space_id, bool publish);

  // The entry of `space_id`, created at floor_ when missing (mu_ held).
  struct Space;
  Space& Entry(const std::string& space_id);
  // Drops the entries nobody waits on or subscribes to once the map has grown past sweep_at_
  // (mu_ held): a replica that saw millions of spaces change keeps entries only for the spaces
  // watched now. Their generations are at most the shared counter, which becomes floor_.
  void MaybeSweep();

  // One space's generation and the Watch streams waiting for it to change. An entry is erased
  // only by MaybeSweep, with mu_ held and nobody waiting on it or subscribed to it.
  struct Space {
    uint64_t generation = 0;
    int waiting = 0;             // threads in WaitForChange on this space
    std::condition_variable cv;  // those threads (generation changed or stop)
    std::map<uint64_t, std::function<void()>> subscribers;  // Subscribe()
  };

  const std::string dsn_;
  const std::chrono::milliseconds batch_window_;
  const postgres::SessionSettings session_;
  std::atomic<bool> stop_{false};
  // Backend pid of the publisher's session (0 while none): its echoes are ignored.
  std::atomic<int> publisher_pid_{0};
  std::mutex mu_;
  std::condition_variable cv_;          // WaitForAnyChange (any generation changed or stop)
  std::condition_variable publish_cv_;  // publisher (pending_ non-empty or stop)
  std::map<std::string, Space> spaces_;
  uint64_t any_generation_ = 0;  // the shared counter: every change takes the next value
  uint64_t floor_ = 0;           // the generation of every space without an entry
  size_t sweep_at_ = kMinSweep;
  uint64_t listen_sessions_ = 0;  // LISTEN sessions opened so far (part of Generation())
  int any_waiting_ = 0;           // threads in WaitForAnyChange
  uint64_t next_subscription_ = 0;
  std::set<std::string> pending_;
  std::thread listener_;
  std::thread publisher_;
};

}  // namespace coffer::vault::sync
