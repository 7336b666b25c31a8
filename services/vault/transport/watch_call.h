// WatchCall: one SyncService.Watch stream on gRPC's async (completion-queue) API
// (docs/architecture.md §5); WatchCalls accepts them.
//
// Why not the sync API: a sync handler holds a thread for the stream's whole life and had to
// wake every 200 ms to notice a cancelled client, so N idle streams cost N threads and 5·N
// wake-ups a second. Here an idle stream holds no thread: it waits as a subscription on the
// ChangeNotifier (a change of its space) and a timer on the WorkPool (its heartbeat), and gRPC
// tells it about cancellation (the call's done tag). Its blocking steps (token re-check,
// membership, change-feed page) run on the WorkPool's few threads; gRPC's events on the
// service's completion-queue threads (grpcx::RegisterAsyncService), which never block.
// Why not the callback API (which Watch used before): in gRPC 1.51 any callback-API service
// brings gRPC's fallback callback queue, whose threads sleep 100 ms after every idle second
// while holding the process's polling, stalling every call of the server (pkg/grpcx
// health_service.h).
//
// What a stream does (unchanged from the sync handler): authenticate and take a slot of the
// StreamLimiter (in its first step on the pool: a token-cache miss may call identity); resolve
// the space; catch up from the cursor page by page, each change with its own cursor; a heartbeat
// when caught up and after each idle `heartbeat`; on every wake-up re-verify the token (expired
// or revoked ends it UNAUTHENTICATED) and the membership (removed ends it PERMISSION_DENIED); a
// cursor that needs a reset gets a WatchReset as last message. Client cancellation ends it
// CANCELLED; a failed write (client gone) ends it OK.
//
// Concurrency: a stream is "busy" while a step is queued or running on the pool or a write is in
// flight, and only the busy owner touches the cursor, the outgoing queue and the other stream
// state (so at most one write is pending, as the async API requires). A change while busy is
// remembered (`dirty`) and runs one more step when the owner goes idle; an idle stream has one
// pending heartbeat timer, re-armed when it fires early. Finish is called exactly once: by the
// busy owner, or on cancellation when nothing is busy. The call keeps itself alive (shared_ptr)
// until gRPC has given back its finish and done tags; pool tasks hold it strongly, notifier
// subscriptions and timers weakly. The slot is freed just before Finish.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/async_stream.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>

#include "coffer/vault/v1/sync.grpc.pb.h"
#include "pkg/grpcx/server.h"
#include "pkg/grpcx/work_pool.h"
#include "services/vault/service/change_feed.h"
#include "services/vault/sync/change_notifier.h"
#include "services/vault/transport/authenticator.h"
#include "services/vault/transport/stream_limiter.h"

namespace coffer::vault::transport {

// Results the Watch streams of one space share within one generation of that space: a write
// wakes every stream of its space at once, and those at the same cursor would otherwise each run
// the same change-feed query (5,000 streams: 10,000 queries for one write). The first stream
// to ask for (key, generation) runs the query; the others that ask meanwhile wait for its result;
// later ones at the same generation reuse it. A result is kept for `ttl` at most, an error not
// beyond the waiters (which then try once themselves). Sound because a stream reads the generation
// before asking: a result read after some stream saw generation g reflects every change notified up
// to g. Threading: thread-safe. Memory: entries older than `ttl` are dropped on insertion.
template <typename V>
class GenerationMemo {
 public:
  explicit GenerationMemo(std::chrono::milliseconds ttl = std::chrono::seconds(5)) : ttl_(ttl) {}

  // The value for (`key`, `generation`): run by this call (`compute`, without the memo's lock
  // held), or the result another caller produced or is producing. Blocks while that caller runs.
  absl::StatusOr<V> Get(const std::string& key, uint64_t generation,
                        const std::function<absl::StatusOr<V>()>& compute);

  // Entries held, expired ones included until the next sweep (tests).
  size_t size();

 private:
  // `compute`, with an exception (none is expected) turned into INTERNAL: the promise is always
  // fulfilled, and a pool thread never dies of it.
  static absl::StatusOr<V> Run(const std::function<absl::StatusOr<V>()>& compute) {
    try {
      return compute();
    } catch (const std::exception&) {
      return absl::InternalError("watch query failed");
    }
  }

  struct Entry {
    uint64_t generation = 0;
    std::chrono::steady_clock::time_point at;
    std::shared_future<absl::StatusOr<V>> result;
  };
  const std::chrono::milliseconds ttl_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::chrono::steady_clock::time_point last_sweep_;
};

// What every Watch stream of a replica shares. All borrowed; they must outlive the streams (the
// gRPC server's Shutdown ends every stream first).
struct WatchDeps {
  Authenticator& auth;
  service::ChangeFeed& feed;
  sync::ChangeNotifier& notifier;
  StreamLimiter& streams;
  grpcx::WorkPool& pool;
  std::chrono::milliseconds heartbeat;
  GenerationMemo<service::FeedPage>& pages;  // key: space id, cursor
  GenerationMemo<std::string>& members;      // key: subject, space id
};

// The wire form of a change-feed reset reason (Sync and Watch).
v1::ResetReason FeedResetToProto(service::FeedReset reset);

// The Watch calls of one server: keeps one call requested from gRPC (each accepted call requests
// the next) and counts the calls alive, so shutdown can wait for them before the completion
// queue goes. Threading: thread-safe.
class WatchCalls {
 public:
  // Asks gRPC for the next Watch call (the generated RequestWatch with the service's queue bound
  // in); the tag is a grpcx::AsyncTag.
  using RequestFn = std::function<void(grpc::ServerContext*, v1::WatchRequest*,
                                       grpc::ServerAsyncWriter<v1::WatchResponse>*, void* tag)>;

  explicit WatchCalls(const WatchDeps& deps) : deps_(deps) {}

  // Once the server has started: requests the first call.
  void Start(RequestFn request);
  // Requests one more call (after a call was accepted).
  void RequestNext();
  // Returns once no call is alive: after the server's Shutdown, every call ends (cancelled at
  // the latest when the grace period is over) and the last request fails.
  void Drain();
  // Calls alive, the one waiting to be accepted included (tests).
  size_t alive();

  // A WatchCall was created / destroyed.
  void Opened();
  void Closed();

 private:
  const WatchDeps deps_;
  std::mutex mu_;
  std::condition_variable none_alive_;
  RequestFn request_;
  size_t alive_ = 0;
};

template <typename V>
absl::StatusOr<V> GenerationMemo<V>::Get(const std::string& key, uint64_t generation,
                                         const std::function<absl::StatusOr<V>()>& compute) {
  const auto now = std::chrono::steady_clock::now();
  std::promise<absl::StatusOr<V>> promise;
  std::unique_lock lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.generation == generation && now - it->second.at < ttl_) {
    std::shared_future<absl::StatusOr<V>> result = it->second.result;
    lock.unlock();
    const absl::StatusOr<V>& shared = result.get();  // waits while the first asker runs it
    // Another asker's error (a transient database error) is not ours to end on: try once more.
    return shared.ok() ? shared : Run(compute);
  }
  if (now - last_sweep_ >= ttl_) {
    std::erase_if(entries_, [&](const auto& e) { return now - e.second.at >= ttl_; });
    last_sweep_ = now;
  }
  entries_[key] = Entry{generation, now, promise.get_future().share()};
  lock.unlock();
  absl::StatusOr<V> value = Run(compute);
  promise.set_value(value);
  if (!value.ok()) {
    // Errors go to the waiters only: the next asker tries again.
    lock.lock();
    auto mine = entries_.find(key);
    if (mine != entries_.end() && mine->second.generation == generation && mine->second.at == now) {
      entries_.erase(mine);
    }
  }
  return value;
}

template <typename V>
size_t GenerationMemo<V>::size() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace coffer::vault::transport
