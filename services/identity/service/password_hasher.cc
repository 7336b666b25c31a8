#include "services/identity/service/password_hasher.h"

#include <algorithm>
#include <utility>

namespace coffer::identity {

PasswordHasher::PasswordHasher(PasswordHasherOptions options, IdentityMetrics* metrics)
    : options_(options), metrics_(metrics) {}

absl::Status PasswordHasher::RunInSlot(const std::function<void()>& work) {
  std::function<void()> hook;
  {
    std::unique_lock<std::mutex> lock(mu_);
    const int limit = std::max(1, options_.max_concurrent);
    if (in_flight_ >= limit) {
      ++waiting_;
      if (metrics_ != nullptr) metrics_->password_hashes_waiting.Increment();
      const bool got =
          freed_.wait_for(lock, options_.queue_timeout, [&] { return in_flight_ < limit; });
      --waiting_;
      if (metrics_ != nullptr) metrics_->password_hashes_waiting.Decrement();
      if (!got) {
        ++refused_;
        if (metrics_ != nullptr) metrics_->password_hash_refusals.Increment();
        return absl::ResourceExhaustedError(kPasswordHashBusyMessage);
      }
    }
    ++in_flight_;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    if (metrics_ != nullptr) metrics_->password_hashes_in_flight.Increment();
    hook = slot_hook_;
  }
  // Released however `work` ends (it does not throw today; keep the slot count right anyway).
  struct Release {
    PasswordHasher* self;
    ~Release() {
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        --self->in_flight_;
        ++self->completed_;
        if (self->metrics_ != nullptr) self->metrics_->password_hashes_in_flight.Decrement();
      }
      self->freed_.notify_one();
    }
  } release{this};
  if (hook) hook();
  work();
  return absl::OkStatus();
}

absl::StatusOr<std::string> PasswordHasher::Hash(std::string_view password) {
  absl::StatusOr<std::string> hash = absl::InternalError("password hash did not run");
  absl::Status slot = RunInSlot([&] { hash = crypto::HashPassword(password, options_.params); });
  if (!slot.ok()) return slot;
  return hash;
}

absl::StatusOr<bool> PasswordHasher::Verify(std::string_view encoded, std::string_view password) {
  bool matches = false;
  absl::Status slot = RunInSlot([&] { matches = crypto::VerifyPassword(encoded, password); });
  if (!slot.ok()) return slot;
  return matches;
}

bool PasswordHasher::NeedsRehash(std::string_view encoded) const {
  return crypto::NeedsRehash(encoded, options_.params);
}

void PasswordHasher::SetSlotHookForTest(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  slot_hook_ = std::move(hook);
}

PasswordHasher::Stats PasswordHasher::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Stats{in_flight_, waiting_, max_in_flight_, refused_, completed_};
}

}  // namespace coffer::identity
