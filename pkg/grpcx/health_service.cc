#include "pkg/grpcx/health_service.h"

namespace coffer::grpcx {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

void HealthService::Set(const std::string& service, bool serving) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    serving_[service] = serving;
    ++version_;
  }
  changed_.notify_all();
}

void HealthService::SetAll(bool serving) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    serving_[""] = serving;
    for (auto& [name, value] : serving_) value = serving;
    ++version_;
  }
  changed_.notify_all();
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

namespace {

// gRPC's peer string without the port ("ipv4:10.0.0.1:5000" -> "ipv4:10.0.0.1").
std::string PeerAddress(const std::string& peer) {
  const size_t colon = peer.rfind(':');
  const size_t bracket = peer.rfind(']');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) return peer;
  return peer.substr(0, colon);
}

}  // namespace

grpc::Status HealthService::Watch(grpc::ServerContext* context, const HealthCheckRequest* request,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  const std::string peer = PeerAddress(context->peer());
  std::unique_lock<std::mutex> lock(mu_);
  int& mine = watchers_by_peer_[peer];
  if (watchers_ >= kMaxWatchers || mine >= kMaxWatchersPerPeer) {
    if (mine == 0) watchers_by_peer_.erase(peer);
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many health watchers");
  }
  ++watchers_;
  ++mine;
  uint64_t sent_version = 0;
  HealthCheckResponse::ServingStatus sent = HealthCheckResponse::UNKNOWN;
  bool first = true;
  grpc::Status end = grpc::Status(grpc::StatusCode::CANCELLED, "health watch cancelled");
  while (!context->IsCancelled()) {
    if (first || version_ != sent_version) {
      sent_version = version_;
      const HealthCheckResponse::ServingStatus status = StatusLocked(request->service());
      if (first || status != sent) {
        first = false;
        sent = status;
        HealthCheckResponse response;
        response.set_status(status);
        lock.unlock();
        const bool written = writer->Write(response);
        lock.lock();
        if (!written) break;  // the client is gone
      }
    }
    changed_.wait_for(lock, cancel_check_, [&] { return version_ != sent_version; });
  }
  --watchers_;
  if (--watchers_by_peer_[peer] == 0) watchers_by_peer_.erase(peer);
  return end;
}

}  // namespace coffer::grpcx
