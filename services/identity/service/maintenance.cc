#include "services/identity/service/maintenance.h"

#include "absl/time/time.h"
#include "pkg/log/log.h"
#include "services/identity/domain/key_schedule.h"

namespace coffer::identity {
namespace {

constexpr std::chrono::minutes kPurgeInterval{10};
constexpr std::chrono::minutes kPurgeMargin{5};

// Named as when the loop lived in the composition root, so its log lines stay the same.
const log::Logger& Log() {
  static const log::Logger logger("app");
  return logger;
}

}  // namespace

IdentityMaintenance::IdentityMaintenance(SigningKeyManager& keys, SessionRepository& sessions,
                                         const auth::Clock& clock,
                                         std::chrono::seconds key_reload_interval,
                                         std::chrono::seconds clock_leeway)
    : keys_(keys),
      sessions_(sessions),
      clock_(clock),
      period_(KeyMaintenancePeriod(key_reload_interval)),
      purge_retention_(clock_leeway + kPurgeMargin) {}

IdentityMaintenance::~IdentityMaintenance() { Stop(); }

void IdentityMaintenance::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void IdentityMaintenance::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void IdentityMaintenance::Loop() {
  auto last_purge = std::chrono::steady_clock::time_point{};
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, period_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (absl::Status s = keys_.Tick(); !s.ok()) {
      Log().Warn("signing key maintenance failed", {{"status", s}});
    }
    const auto steady_now = std::chrono::steady_clock::now();
    if (steady_now - last_purge >= kPurgeInterval) {
      last_purge = steady_now;
      const Time cutoff = absl::ToChronoTime(clock_.Now()) - purge_retention_;
      if (absl::Status s = sessions_.PurgeExpired(cutoff); !s.ok()) {
        Log().Warn("purging expired tokens failed", {{"status", s}});
      }
    }
    lock.lock();
  }
}

}  // namespace coffer::identity
