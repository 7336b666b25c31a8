// A lock-free log-linear latency histogram for coffer-bench (HdrHistogram-like, ~1.6% relative
// precision, 1 ns .. ~2^40 ns). Any thread may Record() concurrently; read it (Percentile, Max)
// after the recording threads are done. Merge() adds another histogram's counts.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace coffer::bench {

// Histogram of nanosecond values: exact below 128 ns, then 64 sub-buckets per power of two.
class Histogram {
 public:
  // Adds one value (nanoseconds).
  void Record(uint64_t ns) {
    counts_[Index(ns)].fetch_add(1, std::memory_order_relaxed);
    total_.fetch_add(1, std::memory_order_relaxed);
    uint64_t prev = max_.load(std::memory_order_relaxed);
    while (prev < ns && !max_.compare_exchange_weak(prev, ns, std::memory_order_relaxed)) {
    }
  }

  // Adds every count of `other` (not concurrently with writers of `other`).
  void Merge(const Histogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) {
      counts_[i].fetch_add(other.counts_[i].load(std::memory_order_relaxed),
                           std::memory_order_relaxed);
    }
    total_.fetch_add(other.Count(), std::memory_order_relaxed);
    const uint64_t m = other.Max();
    if (m > Max()) max_.store(m, std::memory_order_relaxed);
  }

  // Number of recorded values.
  uint64_t Count() const { return total_.load(std::memory_order_relaxed); }
  // Largest recorded value (exact).
  uint64_t Max() const { return max_.load(std::memory_order_relaxed); }

  // The value at quantile q (0..1): the upper bound of the bucket holding it, capped by Max().
  uint64_t Percentile(double q) const {
    const uint64_t n = Count();
    if (n == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(n));
    rank = std::clamp<uint64_t>(rank, 1, n);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i].load(std::memory_order_relaxed);
      if (seen >= rank) return std::min(UpperBound(i), Max());
    }
    return Max();
  }

  // Bucket of a value (exposed for tests).
  static size_t Index(uint64_t v) {
    const int e = std::max(0, static_cast<int>(std::bit_width(v)) - 7);
    const size_t idx = e == 0 ? static_cast<size_t>(v) : static_cast<size_t>(e) * 64 + (v >> e);
    return std::min(idx, kBuckets - 1);
  }

 private:
  static constexpr size_t kBuckets = 64 * 42;

  static uint64_t UpperBound(size_t idx) {
    if (idx < 128) return idx;
    const size_t e = idx / 64 - 1;
    const uint64_t sub = idx - e * 64;  // in [64, 128)
    return ((sub + 1) << e) - 1;
  }

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> max_{0};
};

}  // namespace coffer::bench
