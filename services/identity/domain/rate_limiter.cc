#include "services/identity/domain/rate_limiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace coffer::identity {

std::string AddressRateKey(std::string_view address) {
  std::string a(address);  // not const: the early returns move it
  unsigned char bytes[16];
  if (inet_pton(AF_INET6, a.c_str(), bytes) != 1) return a;  // IPv4, unix:..., or not an address
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char text[INET6_ADDRSTRLEN];
  if (std::memcmp(bytes, kMapped, sizeof kMapped) == 0) {
    return inet_ntop(AF_INET, bytes + 12, text, sizeof text) != nullptr ? std::string(text) : a;
  }
  std::memset(bytes + 8, 0, 8);
  if (inet_ntop(AF_INET6, bytes, text, sizeof text) == nullptr) return a;
  return std::string(text) + "/64";
}

RateLimiter::RateLimiter(RateLimit limit, std::size_t max_keys)
    : limit_(limit), max_keys_(std::max<std::size_t>(max_keys, 1)) {}

void RateLimiter::Refill(Bucket& b, Time now) const {
  if (now <= b.updated) return;  // clock went backwards or no time passed: no refill
  const double elapsed = std::chrono::duration<double>(now - b.updated).count();
  const double per_second =
      static_cast<double>(limit_.burst) / std::max<double>(1.0, double(limit_.period.count()));
  b.tokens = std::min<double>(limit_.burst, b.tokens + elapsed * per_second);
  b.updated = now;
}

RateLimiter::Decision RateLimiter::Acquire(const std::string& key, Time now) {
  if (limit_.burst <= 0) return {};
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) {
      for (auto i = buckets_.begin(); i != buckets_.end();) {
        Refill(i->second, now);
        i = i->second.tokens >= limit_.burst ? buckets_.erase(i) : std::next(i);
      }
      // Every tracked key is in use: new keys share the overflow bucket (never fail open, which
      // would give an attacker with many addresses unlimited tries).
      if (buckets_.size() >= max_keys_) {
        if (!overflow_used_) {
          overflow_ = Bucket{static_cast<double>(limit_.burst), now};
          overflow_used_ = true;
        }
        return Take(overflow_, now);
      }
    }
    it = buckets_.emplace(key, Bucket{static_cast<double>(limit_.burst), now}).first;
  }
  return Take(it->second, now);
}

RateLimiter::Decision RateLimiter::Take(Bucket& b, Time now) const {
  Refill(b, now);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return {};
  }
  const double per_second =
      static_cast<double>(limit_.burst) / std::max<double>(1.0, double(limit_.period.count()));
  const double wait = (1.0 - b.tokens) / per_second;
  const auto secs = static_cast<long long>(std::ceil(wait));
  return Decision{false, std::chrono::seconds(std::max<long long>(1, secs))};
}

std::size_t RateLimiter::SizeForTest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

}  // namespace coffer::identity
