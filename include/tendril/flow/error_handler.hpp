// tendril/flow/error_handler.hpp — what a flow does when a routine's logic fails.
//
// A routine's handler wins over its flow's; with neither, STOP.
// - STOP: the job fails, and the worker stops: its queued work is dropped (those jobs end
//   `cancelled`), and posts to it are refused. `Runtime::exec` starts a fresh one.
// - CONTINUE: the error is recorded on the job (`errors()`) and in the worker's history; the job
//   goes on and can still complete. Nothing is emitted for the failed activation beyond what it
//   emitted before failing.
// - RETRY: the logic runs again on the same slot data after retry_delay × retry_backoff^(n−1)
//   (no pool thread sleeps meanwhile), up to max_retries more times; then it acts as STOP.
//   Emits of a failed attempt are not recalled.
// - SKIP: the routine is marked skipped for the job (routine data "status":"skipped", trace,
//   history); the job goes on. The worker's routine states are never touched.
#pragma once

#include <chrono>
#include <string>

#include "tendril/core/error.hpp"
#include "tendril/core/retry.hpp"
#include "tendril/flow/json.hpp"

namespace tendril {

enum class ErrorStrategy { STOP, CONTINUE, RETRY, SKIP };
const char* to_string(ErrorStrategy strategy) noexcept;

struct ErrorHandler {
  // The bounds a handler is checked against (check(), and loading a flow file).
  static constexpr int kMaxRetries = 1000;
  static constexpr std::chrono::milliseconds kMaxDelay = std::chrono::hours(24);
  static constexpr double kMaxBackoff = 1000.0;

  ErrorStrategy strategy = ErrorStrategy::STOP;
  int max_retries = 3;
  std::chrono::milliseconds retry_delay{1000};
  double retry_backoff = 2.0;

  // RETRY as the one retry policy: max_retries + 1 attempts, retry_delay before the first
  // retry, each later one retry_backoff times longer.
  RetryPolicy retry_policy() const noexcept;
  // The wait before retry number `n` (1-based): retry_delay × retry_backoff^(n−1).
  std::chrono::milliseconds delay_before(int n) const { return retry_policy().delay_before(n + 1); }
  // Throws UsageError naming the field: max_retries outside [0, kMaxRetries], retry_delay
  // outside [0, kMaxDelay], retry_backoff outside [1, kMaxBackoff].
  void check() const;

  Json to_json() const;
  static Result<ErrorHandler> from_json(const Json& json, const std::string& where);
};

}  // namespace tendril
