// Where TokenVerifier gets the issuer's public keys. Production implementations (identity gRPC
// GetJwks, an OIDC jwks_uri over HTTPS) live with their transports; StaticJwksSource serves
// tests and fixed-key deployments.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pkg/auth/jwks.h"

namespace coffer::auth {

// Fetches the current key set. Called by TokenVerifier without its locks held, possibly from
// several threads (implementations must be thread-safe); may block on the network. Errors
// (UNAVAILABLE, DEADLINE_EXCEEDED, ...) are reported to callers as a JWKS outage.
class JwksSource {
 public:
  virtual ~JwksSource() = default;
  virtual absl::StatusOr<JwkSet> Fetch() = 0;
};

// An in-memory key set that tests can replace or make fail; counts fetches. Thread-safe.
class StaticJwksSource final : public JwksSource {
 public:
  StaticJwksSource() = default;
  explicit StaticJwksSource(JwkSet keys) : keys_(std::move(keys)) {}

  absl::StatusOr<JwkSet> Fetch() override;

  // Replaces the set that later fetches return.
  void Set(JwkSet keys);
  // Makes every later Fetch fail with `error` (OkStatus() to recover).
  void SetError(absl::Status error);
  // Fetch calls so far, failed ones included.
  int64_t fetch_count() const;

 private:
  mutable absl::Mutex mu_;
  JwkSet keys_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  int64_t fetches_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace coffer::auth
