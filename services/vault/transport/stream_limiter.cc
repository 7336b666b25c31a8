#include "services/vault/transport/stream_limiter.h"

#include <utility>

#include "services/vault/service/retry_after.h"

namespace coffer::vault::transport {

StreamMetrics::StreamMetrics(prometheus::Registry& registry)
    : open_streams(prometheus::BuildGauge()
                       .Name("coffer_vault_open_streams")
                       .Help("Long-lived calls open on this replica, by kind (watch, upload, "
                             "download)")
                       .Register(registry)),
      refused_total(prometheus::BuildCounter()
                        .Name("coffer_vault_streams_refused_total")
                        .Help("Long-lived calls refused RESOURCE_EXHAUSTED by their cap, by kind "
                              "and limit (user, replica)")
                        .Register(registry)),
      idle_timeouts_total(prometheus::BuildCounter()
                              .Name("coffer_vault_stream_idle_timeouts_total")
                              .Help("Long-lived calls ended DEADLINE_EXCEEDED for making no "
                                    "progress (a stalled upload or download), by kind")
                              .Register(registry)) {}

// ---- Slot ----

StreamLimiter::Slot::Slot(Slot&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), subject_(std::move(other.subject_)) {}

StreamLimiter::Slot& StreamLimiter::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::exchange(other.owner_, nullptr);
    subject_ = std::move(other.subject_);
  }
  return *this;
}

StreamLimiter::Slot::~Slot() { Release(); }

void StreamLimiter::Slot::Release() {
  if (owner_ != nullptr) owner_->Release(subject_);
  owner_ = nullptr;
}

// ---- StreamLimiter ----

StreamLimiter::StreamLimiter(Options options, StreamMetrics* metrics)
    : options_(std::move(options)) {
  if (metrics != nullptr) {
    open_gauge_ = &metrics->open_streams.Add({{"kind", options_.kind}});
    refused_user_ = &metrics->refused_total.Add({{"kind", options_.kind}, {"limit", "user"}});
    refused_replica_ = &metrics->refused_total.Add({{"kind", options_.kind}, {"limit", "replica"}});
    idle_timeouts_ = &metrics->idle_timeouts_total.Add({{"kind", options_.kind}});
  }
}

absl::StatusOr<StreamLimiter::Slot> StreamLimiter::Acquire(const std::string& subject) {
  std::lock_guard<std::mutex> lock(mu_);
  if (options_.per_replica > 0 && open_ >= options_.per_replica) {
    if (refused_replica_ != nullptr) refused_replica_->Increment();
    return service::WithRetryAfter(
        absl::ResourceExhaustedError("this server has too many " + options_.description +
                                     " open (limit " + std::to_string(options_.per_replica) +
                                     " per server); retry later"),
        options_.retry_after);
  }
  auto it = by_user_.find(subject);
  const int mine = it == by_user_.end() ? 0 : it->second;
  if (options_.per_user > 0 && mine >= options_.per_user) {
    if (refused_user_ != nullptr) refused_user_->Increment();
    return service::WithRetryAfter(
        absl::ResourceExhaustedError(
            "too many " + options_.description + " open for this user (limit " +
            std::to_string(options_.per_user) + " per user on this server); close one, then retry"),
        options_.retry_after);
  }
  ++by_user_[subject];
  ++open_;
  if (open_gauge_ != nullptr) open_gauge_->Set(open_);
  return Slot(this, subject);
}

void StreamLimiter::Release(const std::string& subject) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_user_.find(subject);
  if (it != by_user_.end() && --it->second <= 0) by_user_.erase(it);
  --open_;
  if (open_gauge_ != nullptr) open_gauge_->Set(open_);
}

void StreamLimiter::CountIdleTimeout() {
  if (idle_timeouts_ != nullptr) idle_timeouts_->Increment();
}

int StreamLimiter::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

int StreamLimiter::open(const std::string& subject) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_user_.find(subject);
  return it == by_user_.end() ? 0 : it->second;
}

}  // namespace coffer::vault::transport
