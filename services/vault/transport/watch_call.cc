#include "services/vault/transport/watch_call.h"

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "pkg/status/status.h"
#include "services/vault/transport/proto_mapping.h"
#include "services/vault/transport/retry_info.h"

namespace coffer::vault::transport {
namespace {

using Clock = std::chrono::steady_clock;

v1::WatchResponse Heartbeat(const std::string& cursor) {
  v1::WatchResponse out;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto* hb = out.mutable_heartbeat();
  hb->mutable_server_time()->set_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(now).count());
  hb->set_cursor(cursor);
  return out;
}

class WatchCall final : public std::enable_shared_from_this<WatchCall> {
 public:
  WatchCall(const WatchDeps& deps, WatchCalls& calls) : alive_(calls), deps_(deps) {}

  // Asks gRPC for the next Watch call into this object; it keeps itself alive until gRPC has
  // given back every tag it was handed.
  void Request(const WatchCalls::RequestFn& request) {
    self_ = shared_from_this();
    context_.AsyncNotifyWhenDone(&done_tag_);  // delivered only if the call starts
    request(&context_, &request_, &writer_, &accepted_tag_);
  }

 private:
  // A call arrived (ok), or the server is shutting down (!ok: no other tag will come; dropping
  // gRPC's reference frees the call when this handler has returned).
  void OnAccepted(bool ok) {
    if (!ok) {
      std::shared_ptr<WatchCall> release = std::move(self_);
      return;
    }
    alive_.calls.RequestNext();  // the next caller's call
    requested_space_ = request_.space_id();
    cursor_ = request_.cursor();
    // The first step authenticates (a token-cache miss may call identity, so not on the queue's
    // thread) and takes a stream slot before any database work. busy_ starts true: it owns the
    // stream.
    Post();
  }

  void OnWriteDone(bool ok) {
    if (!ok) return FinishOwned(grpc::Status::OK);  // the client is gone
    out_.pop_front();
    WriteOrGoIdle();
  }

  // The call ended: after Finish, or cancelled by the client or the server's shutdown.
  void OnCallDone() {
    if (context_.IsCancelled()) OnCancel();
    TagReturned(done_returned_);
  }

  void OnFinishDone() { TagReturned(finish_returned_); }

  // Once gRPC has given back both the finish and the done tag no operation of this call is
  // pending: unsubscribe (outside mu_: the notifier calls Wake with its own lock held) and let
  // go of gRPC's reference (the call is freed when its last holder lets go).
  void TagReturned(bool& returned) {
    std::shared_ptr<WatchCall> release;
    {
      std::lock_guard<std::mutex> lock(mu_);
      returned = true;
      if (finish_returned_ && done_returned_) release = std::move(self_);
    }
    if (release == nullptr) return;
    if (subscription_ != 0) deps_.notifier.Unsubscribe(space_, subscription_);
  }

  // Runs one tag's handler with a reference held: the other queue thread may give back this
  // call's last tag meanwhile (a done tag while a write completes), and the handler must not
  // lose the object under it. If that reference is the last, the call is freed when the handler
  // has returned (nothing touches it after that).
  template <typename Fn>
  void Held(Fn&& handler) {
    std::shared_ptr<WatchCall> keep = shared_from_this();
    handler();
  }

  void OnCancel() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      // The busy owner sees cancelled_ when it next goes idle (a write in flight fails at once).
      if (busy_ || finished_) return;
      finished_ = true;
    }
    slot_.reset();  // nothing is busy: the owner's state is ours
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled"));
  }

  void StartWrite(const v1::WatchResponse* message) { writer_.Write(*message, &written_tag_); }
  void Finish(const grpc::Status& status) { writer_.Finish(status, &finished_tag_); }

  void Post() {
    deps_.pool.Post([self = shared_from_this()] { self->Step(); });
  }

  // A change of the space (notifier).
  void Wake() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      if (busy_) {
        dirty_ = true;
        return;
      }
      busy_ = true;
    }
    Post();
  }

  // The stream's one heartbeat timer fired. Idle and due: step (a heartbeat). Idle, not due yet
  // (something was sent since it was armed): armed again for the new deadline. Busy: the owner
  // arms it when it goes idle.
  void OnTimer() {
    std::optional<Clock::time_point> rearm;
    {
      std::lock_guard<std::mutex> lock(mu_);
      timer_armed_ = false;
      if (finished_ || busy_) return;
      if (Clock::now() < heartbeat_due_) {
        timer_armed_ = true;
        rearm = heartbeat_due_;
      } else {
        busy_ = true;
      }
    }
    if (rearm) return ArmTimer(*rearm);
    Post();
  }

  void ArmTimer(Clock::time_point at) {
    deps_.pool.PostAt(at, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->OnTimer();
    });
  }

  // One step, on the pool: (first) authenticate, re-check the caller, read one page, queue what
  // to send. An exception (none is expected) ends the stream INTERNAL instead of the process.
  void Step() {
    absl::Status status;
    try {
      status = !started_ ? Start() : ReadPage();
    } catch (const std::exception&) {
      status = absl::InternalError("watch step failed");
    }
    if (!status.ok()) return FinishOwned(ToGrpcStatusWithRetryInfo(status));
    WriteOrGoIdle();
  }

  // The first step: authenticate and take a slot (both before any database work), then read.
  absl::Status Start() {
    started_ = true;
    absl::StatusOr<service::Caller> caller = deps_.auth.Authenticate(context_);
    if (!caller.ok()) {
      // Without a retry hint, as every other RPC answers an authentication failure.
      FinishOwned(status::ToGrpcStatus(caller.status()));
      return absl::CancelledError("finished");  // FinishOwned below sees it finished
    }
    caller_ = *std::move(caller);
    COFFER_ASSIGN_OR_RETURN(StreamLimiter::Slot slot, deps_.streams.Acquire(caller_.subject));
    slot_.emplace(std::move(slot));
    last_sent_ = Clock::now();
    return ReadPage();
  }

  absl::Status ReadPage() {
    const bool first = space_.empty();
    if (first) {
      COFFER_ASSIGN_OR_RETURN(space_, deps_.feed.ResolveSpace(caller_, requested_space_));
      // Subscribed before the generation is read: a change after that read wakes the stream.
      subscription_ = deps_.notifier.Subscribe(space_, [weak = weak_from_this()] {
        if (auto self = weak.lock()) self->Wake();
      });
    }
    generation_ = deps_.notifier.Generation(space_);
    // The token is checked on every wake-up and before every page (security audit H1): a stream
    // ends UNAUTHENTICATED once its token expired or was revoked.
    COFFER_RETURN_IF_ERROR(deps_.auth.Reverify(caller_));
    if (!first) {
      // Membership too (a membership change wakes the space): a member removed here or on
      // another shard stops receiving at once.
      absl::Status still = deps_.members
                               .Get(caller_.subject + '\n' + space_, generation_,
                                    [&] { return deps_.feed.ResolveSpace(caller_, space_); })
                               .status();
      if (!still.ok()) {
        if (absl::IsNotFound(still)) {
          return absl::PermissionDeniedError("you are no longer a member of this space");
        }
        return still;
      }
    }
    // Streams of this space at the same cursor share one query per generation.
    COFFER_ASSIGN_OR_RETURN(service::FeedPage page,
                            deps_.pages.Get(space_ + '\n' + cursor_, generation_,
                                            [&] { return deps_.feed.Page(space_, cursor_, 0); }));
    if (page.reset != service::FeedReset::kNone) {
      v1::WatchResponse out;
      out.mutable_reset()->set_reason(FeedResetToProto(page.reset));
      out_.push_back(std::move(out));
      finish_after_writes_ = true;
      return absl::OkStatus();
    }
    for (const service::FeedChange& c : page.changes) {
      v1::WatchResponse out;
      RevisionToProto(c.record, out.mutable_change()->mutable_record());
      out.mutable_change()->set_cursor(c.cursor);
      out_.push_back(std::move(out));
    }
    cursor_ = page.next_cursor;
    more_ = page.has_more;
    if (!more_) {
      // Caught up: the first time, and after `heartbeat` without anything sent, a heartbeat.
      const bool sent = !out_.empty();
      if (!caught_up_ || (!sent && Clock::now() - last_sent_ >= deps_.heartbeat)) {
        caught_up_ = true;
        out_.push_back(Heartbeat(cursor_));
      }
    }
    return absl::OkStatus();
  }

  // The busy owner: the next queued message, the end, another step, or idle.
  void WriteOrGoIdle() {
    if (!out_.empty()) {
      last_sent_ = Clock::now();
      StartWrite(&out_.front());  // out_.front() stays put until OnWriteDone
      return;
    }
    if (finish_after_writes_) return FinishOwned(grpc::Status::OK);
    // Read before the lock (the notifier calls Wake with its own lock held).
    const bool changed = deps_.notifier.Generation(space_) != generation_;
    std::optional<Clock::time_point> arm;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) {
        finished_ = true;
      } else if (more_ || dirty_ || changed) {
        dirty_ = false;
        // Stays busy; FIFO on the pool, so a long catch-up takes turns with other streams.
        Post();
        return;
      } else {
        // Going idle: from here a Wake may start a step, so no owner state after this block.
        busy_ = false;
        heartbeat_due_ = last_sent_ + deps_.heartbeat;
        if (timer_armed_) return;  // fires early, then re-arms for heartbeat_due_
        timer_armed_ = true;       // one pending timer per stream
        arm = heartbeat_due_;
      }
    }
    if (arm) return ArmTimer(*arm);
    slot_.reset();
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled"));
  }

  // Ends the stream from the busy owner: frees its slot first, so a client that reconnects as
  // soon as it has the status is not refused for its own old stream.
  void FinishOwned(const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;  // Start already finished it
      finished_ = true;
    }
    slot_.reset();
    Finish(status);
  }

  // Counts the call in WatchCalls from construction until every other member is destroyed
  // (first member: destroyed last), so Drain returns only when nothing of a call is left.
  struct Alive {
    explicit Alive(WatchCalls& calls) : calls(calls) { calls.Opened(); }
    ~Alive() { calls.Closed(); }
    Alive(const Alive&) = delete;
    Alive& operator=(const Alive&) = delete;
    WatchCalls& calls;
  };
  Alive alive_;
  const WatchDeps deps_;
  grpc::ServerContext context_;
  v1::WatchRequest request_;
  grpc::ServerAsyncWriter<v1::WatchResponse> writer_{&context_};
  // The tags handed to gRPC with this call's operations (grpcx::AsyncTag: the service's queue
  // threads run them).
  grpcx::AsyncTag accepted_tag_{[this](bool ok) { OnAccepted(ok); }};
  grpcx::AsyncTag written_tag_{[this](bool ok) { Held([&] { OnWriteDone(ok); }); }};
  grpcx::AsyncTag finished_tag_{[this](bool) { Held([&] { OnFinishDone(); }); }};
  grpcx::AsyncTag done_tag_{[this](bool) { Held([&] { OnCallDone(); }); }};
  std::shared_ptr<WatchCall> self_;  // held while gRPC holds a tag of this call
  bool started_ = false;             // the first step ran (authenticated)
  std::optional<StreamLimiter::Slot> slot_;
  service::Caller caller_;
  std::string requested_space_;

  // The busy owner's state (see the header): no lock needed.
  std::string space_;  // resolved by the first step
  uint64_t subscription_ = 0;
  std::string cursor_;
  bool caught_up_ = false;
  bool more_ = false;                 // the last page had more: step again
  bool finish_after_writes_ = false;  // a reset was queued: end after sending it
  uint64_t generation_ = 0;           // the space's generation read before the last page
  Clock::time_point last_sent_;
  std::deque<v1::WatchResponse> out_;

  std::mutex mu_;
  bool busy_ = true;  // the first step is queued by OnAccepted
  bool dirty_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
  bool timer_armed_ = false;         // a heartbeat timer is pending
  Clock::time_point heartbeat_due_;  // when an idle stream sends its next heartbeat
  bool finish_returned_ = false;     // gRPC gave back the finish tag
  bool done_returned_ = false;       // ... and the done tag
};

}  // namespace

v1::ResetReason FeedResetToProto(service::FeedReset reset) {
  switch (reset) {
    case service::FeedReset::kForeignShard:
      return v1::RESET_REASON_FOREIGN_SHARD;
    case service::FeedReset::kExpired:
      return v1::RESET_REASON_EXPIRED;
    case service::FeedReset::kNone:
      break;
  }
  return v1::RESET_REASON_UNSPECIFIED;
}

void WatchCalls::Start(RequestFn request) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    request_ = std::move(request);
  }
  RequestNext();
}

void WatchCalls::RequestNext() {
  RequestFn request;
  {
    std::lock_guard<std::mutex> lock(mu_);
    request = request_;
  }
  std::make_shared<WatchCall>(deps_, *this)->Request(request);
}

void WatchCalls::Opened() {
  std::lock_guard<std::mutex> lock(mu_);
  ++alive_;
}

void WatchCalls::Closed() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--alive_ == 0) none_alive_.notify_all();
}

void WatchCalls::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  none_alive_.wait(lock, [this] { return alive_ == 0; });
}

size_t WatchCalls::alive() {
  std::lock_guard<std::mutex> lock(mu_);
  return alive_;
}

}  // namespace coffer::vault::transport
