// Background upkeep of one identity replica, on a thread of its own:
//   * every KeyMaintenancePeriod (the key reload interval, at least every 10 s):
//     SigningKeyManager::Tick (reload, scheduled rotation, deletion of unneeded keys);
//   * every 10 minutes: the purge of revoked-access-token entries and refresh tokens that expired
//     more than clock leeway + 5 minutes ago (past the leeway no verifier accepts them anyway).
// A failed step is logged as a warning and tried again on the next round.
//
// Lifecycle: construct, Start() once, Stop() (also run by the destructor) before the keys and
// the session repository go away; both must outlive it. Threading: Start and Stop from one
// thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "pkg/auth/clock.h"
#include "services/identity/repository/session_repository.h"
#include "services/identity/service/signing_key_manager.h"

namespace coffer::identity {

class IdentityMaintenance {
 public:
  IdentityMaintenance(SigningKeyManager& keys, SessionRepository& sessions,
                      const auth::Clock& clock, std::chrono::seconds key_reload_interval,
                      std::chrono::seconds clock_leeway);
  ~IdentityMaintenance();
  IdentityMaintenance(const IdentityMaintenance&) = delete;
  IdentityMaintenance& operator=(const IdentityMaintenance&) = delete;

  // Starts the thread; its first round comes one period later.
  void Start();
  // Stops the thread and waits for it (a round under way finishes first). Idempotent.
  void Stop();

 private:
  void Loop();

  SigningKeyManager& keys_;
  SessionRepository& sessions_;
  const auth::Clock& clock_;
  const std::chrono::seconds period_;
  const std::chrono::seconds purge_retention_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace coffer::identity
