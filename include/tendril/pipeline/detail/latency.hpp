// tendril/pipeline/detail/latency.hpp — a stage's handler latencies, as a histogram.
//
// Lock-free and shared by a stage's workers: record() is two relaxed atomic operations (and a
// compare-exchange when a new maximum is seen). Buckets are log-linear: exact below 8 ns, then
// 8 per power of two, so a percentile read from them is within 12.5% of the true value; the
// maximum is exact. Callers record the calls they time (a stage times one short call in 256).
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>

#include "tendril/pipeline/metrics.hpp"

namespace tendril::detail {

class LatencyHistogram {
 public:
  void record(std::chrono::nanoseconds took) noexcept {
    const auto ns = static_cast<std::uint64_t>(took.count() > 0 ? took.count() : 0);
    counts_[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
    std::uint64_t seen = max_.load(std::memory_order_relaxed);
    while (ns > seen && !max_.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
    }
  }

  // Sets m's latency_p50, latency_p99, latency_max and latency_samples; after the run.
  void fill(StageMetrics& m) const;

  static constexpr int kSubBits = 3;  // 2^3 buckets per power of two
  static constexpr std::size_t kBuckets = (64 - kSubBits + 1) << kSubBits;
  static constexpr std::size_t bucket_of(std::uint64_t ns) noexcept {
    if (ns < (1u << kSubBits)) return static_cast<std::size_t>(ns);
    const int top = 63 - std::countl_zero(ns);  // >= kSubBits
    const auto sub = static_cast<std::size_t>((ns >> (top - kSubBits)) & ((1u << kSubBits) - 1));
    return (static_cast<std::size_t>(top - kSubBits + 1) << kSubBits) + sub;
  }
  // The smallest value in bucket `b`, and the width of the bucket.
  static constexpr std::uint64_t bucket_floor(std::size_t b) noexcept {
    if (b < (1u << kSubBits)) return b;
    const int top = static_cast<int>(b >> kSubBits) + kSubBits - 1;
    const std::uint64_t sub = b & ((1u << kSubBits) - 1);
    return (std::uint64_t{1} << top) + (sub << (top - kSubBits));
  }
  static constexpr std::uint64_t bucket_width(std::size_t b) noexcept {
    if (b < (1u << kSubBits)) return 1;
    return std::uint64_t{1} << (static_cast<int>(b >> kSubBits) - 1);
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> counts_{};
  std::atomic<std::uint64_t> max_{0};
};

}  // namespace tendril::detail
