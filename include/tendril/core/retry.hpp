// tendril/core/retry.hpp — one retry policy: how many attempts, and how long between them.
//
// Under every retry of Tendril: a pipeline stage (`retries` = total attempts, no delay), a flow
// error handler's RETRY (`max_retries` after the first attempt, `retry_delay`, `retry_backoff`)
// and the publisher's redelivery to Redis (unbounded attempts, 50 ms doubling to 5 s). Only an
// `Error` that is `retryable()` is tried again. A plain value; thread-safe to read.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>

#include "tendril/core/error.hpp"

namespace tendril {

struct RetryPolicy {
  static constexpr int kUnbounded = std::numeric_limits<int>::max();

  int attempts = 1;                    // total attempts, >= 1 (1: never retry)
  std::chrono::milliseconds delay{0};  // before the first retry
  double backoff = 1.0;                // each later retry waits this many times longer, >= 1
  std::chrono::milliseconds max_delay = std::chrono::hours(24);

  // Whether `error`, on attempt number `attempt` (1-based), is followed by another attempt.
  bool retries_after(int attempt, const Error& error) const noexcept {
    return attempt < attempts && error.retryable();
  }
  // The wait before attempt number `attempt` (2 or more): delay × backoff^(attempt − 2), at
  // most max_delay.
  std::chrono::milliseconds delay_before(int attempt) const noexcept {
    const double ms =
        static_cast<double>(delay.count()) * std::pow(backoff, std::max(attempt - 2, 0));
    const double cap = static_cast<double>(max_delay.count());
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(ms, cap)));
  }
};

}  // namespace tendril
