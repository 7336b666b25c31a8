#include "pkg/auth/jwks_source.h"

namespace coffer::auth {

absl::StatusOr<JwkSet> StaticJwksSource::Fetch() {
  absl::MutexLock lock(&mu_);
  ++fetches_;
  if (!error_.ok()) return error_;
  return keys_;
}

void StaticJwksSource::Set(JwkSet keys) {
  absl::MutexLock lock(&mu_);
  keys_ = std::move(keys);
}

void StaticJwksSource::SetError(absl::Status error) {
  absl::MutexLock lock(&mu_);
  error_ = std::move(error);
}

int64_t StaticJwksSource::fetch_count() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

}  // namespace coffer::auth
