// Argon2id with a concurrency bound: every password hash and verification of the identity
// service goes through one PasswordHasher, which lets at most `max_concurrent` of them run at
// once. Each costs `params.mem_limit` bytes (64 MiB by default) while it runs, so the bound caps
// the memory that logins can take: max_concurrent × mem_limit on top of the process baseline
// (README "Memory budget"). Without it, a dozen concurrent Logins, even for unknown logins (they
// verify against a dummy hash), exceed the pod's memory limit.
//
// A caller that finds every slot busy waits up to `queue_timeout` for one; then it gets
// RESOURCE_EXHAUSTED (kPasswordHashBusyMessage) and should retry a moment later. Waiting is
// not FIFO (a condition variable), which is fine for a short queue.
//
// Lifecycle: one per IdentityService, built from its config; `metrics` (may be null) must outlive
// it. Threading: every method is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/crypto/password.h"
#include "services/identity/service/identity_metrics.h"

namespace coffer::identity {

struct PasswordHasherOptions {
  crypto::PasswordHashParams params;
  // Argon2id computations allowed at once (>= 1).
  int max_concurrent = 4;
  // How long a caller waits for a free slot before it is refused (0 = refuse at once).
  std::chrono::milliseconds queue_timeout{2000};
};

class PasswordHasher {
 public:
  // Counters for tests (the metrics carry the same numbers).
  struct Stats {
    int in_flight = 0;      // slots held now
    int waiting = 0;        // callers waiting for a slot now
    int max_in_flight = 0;  // the most slots ever held at once
    std::uint64_t refused = 0;
    std::uint64_t completed = 0;  // slots released
  };

  PasswordHasher(PasswordHasherOptions options, IdentityMetrics* metrics);

  PasswordHasher(const PasswordHasher&) = delete;
  PasswordHasher& operator=(const PasswordHasher&) = delete;

  // crypto::HashPassword in a slot. RESOURCE_EXHAUSTED when no slot was free in time (or when the
  // memory could not be allocated).
  absl::StatusOr<std::string> Hash(std::string_view password);

  // crypto::VerifyPassword in a slot: whether `password` matches `encoded`. RESOURCE_EXHAUSTED
  // when no slot was free in time.
  absl::StatusOr<bool> Verify(std::string_view encoded, std::string_view password);

  // Whether `encoded` was made with other parameters than ours. Parses only: no slot needed.
  bool NeedsRehash(std::string_view encoded) const;

  // Runs `work` while holding a slot; RESOURCE_EXHAUSTED (work not run) when no slot was free
  // within the queue timeout. Hash and Verify are built on it; exposed for tests.
  absl::Status RunInSlot(const std::function<void()>& work);

  // Test hook: runs inside every slot, before the work (a latch lets a test hold slots open while
  // real requests occupy them). Set it before the hasher is used concurrently; empty = none.
  void SetSlotHookForTest(std::function<void()> hook);

  // A snapshot of the counters.
  Stats stats() const;
  const PasswordHasherOptions& options() const { return options_; }

 private:
  const PasswordHasherOptions options_;
  IdentityMetrics* const metrics_;

  mutable std::mutex mu_;
  std::condition_variable freed_;
  int in_flight_ = 0;                // guarded by mu_
  int waiting_ = 0;                  // guarded by mu_
  int max_in_flight_ = 0;            // guarded by mu_
  std::uint64_t refused_ = 0;        // guarded by mu_
  std::uint64_t completed_ = 0;      // guarded by mu_
  std::function<void()> slot_hook_;  // guarded by mu_ (copied out before use)
};

// The message of a refusal for lack of a slot. Callers put their own noun in front
// ("too many logins in progress; retry after 1s").
inline constexpr char kPasswordHashBusyMessage[] = "too many password checks in progress";

}  // namespace coffer::identity
