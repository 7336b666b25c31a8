#include "pkg/grpcx/health_service.h"

namespace coffer::grpcx {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

namespace {

// gRPC's peer string without the port ("ipv4:10.0.0.1:5000" -> "ipv4:10.0.0.1").
std::string PeerAddress(const std::string& peer) {
  const size_t colon = peer.rfind(':');
  const size_t bracket = peer.rfind(']');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) return peer;
  return peer.substr(0, colon);
}

}  // namespace

// One Watch call. Its tags run on the service's queue thread; Set/SetAll reach it from any
// thread; all its state is guarded by the service's mu_. It keeps itself alive (self_) until
// gRPC has given back its finish and done tags; each tag handler holds it while it runs.
class HealthService::Watcher : public std::enable_shared_from_this<Watcher> {
  // Counts the object in alive_ from construction until every other member is destroyed (the
  // first member is destroyed last), so Drain returns only when nothing of a call is left.
  struct Alive {
    explicit Alive(HealthService& s) : service(s) {
      std::lock_guard<std::mutex> lock(service.mu_);
      ++service.alive_;
    }
    ~Alive() {
      std::lock_guard<std::mutex> lock(service.mu_);
      if (--service.alive_ == 0) service.none_alive_.notify_all();
    }
    Alive(const Alive&) = delete;
    Alive& operator=(const Alive&) = delete;
    HealthService& service;
  };
  Alive alive_;

 public:
  explicit Watcher(HealthService& service) : alive_(service), service_(service) {}

  void Request() {
    self_ = shared_from_this();
    context_.AsyncNotifyWhenDone(&done_tag_);  // delivered only if the call starts
    service_.RequestWatch(&context_, &request_, &writer_, service_.cq_, service_.cq_,
                          &accepted_tag_);
  }

  // Sends the current status unless it was sent last or a write is in flight (mu_ held).
  void SendLocked() {
    if (writing_ || finished_) return;
    const HealthCheckResponse::ServingStatus status = service_.StatusLocked(request_.service());
    if (sent_ && status == last_) return;
    sent_ = true;
    last_ = status;
    writing_ = true;
    response_.set_status(status);
    writer_.Write(response_, &written_tag_);
  }

 private:
  void OnAccepted(bool ok) {
    std::shared_ptr<Watcher> keep = shared_from_this();
    if (!ok) {  // the server is shutting down: no other tag comes
      std::lock_guard<std::mutex> lock(service_.mu_);
      self_.reset();
      return;
    }
    service_.RequestNext();
    peer_ = PeerAddress(context_.peer());
    std::lock_guard<std::mutex> lock(service_.mu_);
    int& mine = service_.watchers_by_peer_[peer_];
    if (static_cast<int>(service_.watchers_.size()) >= kMaxWatchers ||
        mine >= kMaxWatchersPerPeer) {
      if (mine == 0) service_.watchers_by_peer_.erase(peer_);
      FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many health watchers"));
      return;
    }
    ++mine;
    admitted_ = true;
    service_.watchers_.insert(keep);
    SendLocked();
  }

  void OnWritten(bool ok) {
    std::shared_ptr<Watcher> keep = shared_from_this();
    std::lock_guard<std::mutex> lock(service_.mu_);
    writing_ = false;
    if (!ok || cancelled_) {  // the client is gone, or the call was cancelled meanwhile
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "health watch cancelled"));
      return;
    }
    SendLocked();  // a change that came during the write
  }

  void OnDone() {
    std::shared_ptr<Watcher> keep = shared_from_this();
    std::lock_guard<std::mutex> lock(service_.mu_);
    done_returned_ = true;
    cancelled_ = context_.IsCancelled();
    LeaveLocked();
    // A write in flight fails now and finishes the call (OnWritten).
    if (!writing_)
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "health watch cancelled"));
    ReleaseIfDoneLocked();
  }

  void OnFinished() {
    std::shared_ptr<Watcher> keep = shared_from_this();
    std::lock_guard<std::mutex> lock(service_.mu_);
    finish_returned_ = true;
    ReleaseIfDoneLocked();
  }

  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    LeaveLocked();
    writer_.Finish(status, &finished_tag_);
  }

  // No longer counted against the caps nor sent changes.
  void LeaveLocked() {
    if (!admitted_) return;
    admitted_ = false;
    service_.watchers_.erase(shared_from_this());
    if (--service_.watchers_by_peer_[peer_] == 0) service_.watchers_by_peer_.erase(peer_);
  }

  void ReleaseIfDoneLocked() {
    // The handler's `keep` frees the object after the lock is released.
    if (finish_returned_ && done_returned_) self_.reset();
  }

  HealthService& service_;
  grpc::ServerContext context_;
  HealthCheckRequest request_;
  HealthCheckResponse response_;  // the message being written
  grpc::ServerAsyncWriter<HealthCheckResponse> writer_{&context_};
  AsyncTag accepted_tag_{[this](bool ok) { OnAccepted(ok); }};
  AsyncTag written_tag_{[this](bool ok) { OnWritten(ok); }};
  AsyncTag done_tag_{[this](bool) { OnDone(); }};
  AsyncTag finished_tag_{[this](bool) { OnFinished(); }};
  std::shared_ptr<Watcher> self_;  // while gRPC holds a tag of this call
  std::string peer_;
  bool admitted_ = false;
  bool writing_ = false;
  bool finished_ = false;
  bool cancelled_ = false;
  bool sent_ = false;
  HealthCheckResponse::ServingStatus last_ = HealthCheckResponse::UNKNOWN;
  bool finish_returned_ = false;
  bool done_returned_ = false;
};

HealthService::~HealthService() = default;

void HealthService::Set(const std::string& service, bool serving) {
  std::lock_guard<std::mutex> lock(mu_);
  serving_[service] = serving;
  NotifyLocked();
}

void HealthService::SetAll(bool serving) {
  std::lock_guard<std::mutex> lock(mu_);
  serving_[""] = serving;
  for (auto& [name, value] : serving_) value = serving;
  NotifyLocked();
}

void HealthService::NotifyLocked() {
  for (const std::shared_ptr<Watcher>& w : watchers_) w->SendLocked();
}

HealthCheckResponse::ServingStatus HealthService::StatusLocked(const std::string& service) {
  auto it = serving_.find(service);
  if (it == serving_.end()) return HealthCheckResponse::SERVICE_UNKNOWN;
  return it->second ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

grpc::Status HealthService::Check(grpc::ServerContext* /*context*/,
                                  const HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  const HealthCheckResponse::ServingStatus status = StatusLocked(request->service());
  // The name is not echoed: it is the caller's input.
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
  }
  response->set_status(status);
  return grpc::Status::OK;
}

void HealthService::RequestNext() { std::make_shared<Watcher>(*this)->Request(); }

AsyncServiceHooks HealthService::Hooks() {
  return {.threads = 1,
          .start =
              [this](grpc::ServerCompletionQueue* cq) {
                {
                  std::lock_guard<std::mutex> lock(mu_);
                  cq_ = cq;
                }
                RequestNext();
              },
          .drain =
              [this] {
                std::unique_lock<std::mutex> lock(mu_);
                none_alive_.wait(lock, [this] { return alive_ == 0; });
              }};
}

int HealthService::watchers() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(watchers_.size());
}

}  // namespace coffer::grpcx
