#include "tendril/flow/error_handler.hpp"

#include <cmath>
#include <stdexcept>

#include "json_checks.hpp"

namespace tendril {

namespace {
constexpr const char* kStrategyNames[] = {"stop", "continue", "retry", "skip"};
}

const char* to_string(ErrorStrategy strategy) noexcept {
  return kStrategyNames[static_cast<int>(strategy)];
}

RetryPolicy ErrorHandler::retry_policy() const noexcept {
  return RetryPolicy{.attempts = max_retries + 1, .delay = retry_delay, .backoff = retry_backoff};
}

void ErrorHandler::check() const {
  if (max_retries < 0 || max_retries > kMaxRetries)
    throw UsageError("ErrorHandler: max_retries must be from 0 to " + std::to_string(kMaxRetries) +
                     ", got " + std::to_string(max_retries));
  if (retry_delay.count() < 0 || retry_delay > kMaxDelay)
    throw UsageError("ErrorHandler: retry_delay must be from 0 to " +
                     std::to_string(kMaxDelay.count()) + " ms, got " +
                     std::to_string(retry_delay.count()) + " ms");
  if (!(retry_backoff >= 1.0 && retry_backoff <= kMaxBackoff))
    throw UsageError("ErrorHandler: retry_backoff must be from 1 to " +
                     std::to_string(static_cast<int>(kMaxBackoff)) + ", got " +
                     std::to_string(retry_backoff));
}

Json ErrorHandler::to_json() const {
  return {{"strategy", to_string(strategy)},
          {"max_retries", max_retries},
          {"retry_delay_ms", retry_delay.count()},
          {"retry_backoff", retry_backoff}};
}

Result<ErrorHandler> ErrorHandler::from_json(const Json& json, const std::string& where) {
  auto bad = [&](const std::string& at, const std::string& what) {
    return std::unexpected(Error{.kind = ErrorKind::invalid, .message = where + at + ": " + what});
  };
  if (!json.is_object()) return bad("", "expected an object");
  ErrorHandler h;
  auto s = json.find("strategy");
  if (s == json.end() || !s->is_string())
    return bad("/strategy", "expected one of stop, continue, retry, skip");
  const auto name = s->get<std::string>();
  bool known = false;
  for (int i = 0; i < 4; ++i)
    if (name == kStrategyNames[i]) {
      h.strategy = static_cast<ErrorStrategy>(i);
      known = true;
    }
  if (!known)
    return bad("/strategy", "unknown strategy '" + name + "' (stop, continue, retry, skip)");
  if (auto ok = detail::only_keys(
          json, {"strategy", "max_retries", "retry_delay_ms", "retry_backoff"}, where);
      !ok)
    return std::unexpected(ok.error());
  auto retries = detail::integer_in(json, "max_retries", 0, kMaxRetries, h.max_retries, where);
  if (!retries) return std::unexpected(retries.error());
  h.max_retries = static_cast<int>(*retries);
  auto delay = detail::integer_in(json, "retry_delay_ms", 0, kMaxDelay.count(),
                                  h.retry_delay.count(), where);
  if (!delay) return std::unexpected(delay.error());
  h.retry_delay = std::chrono::milliseconds(*delay);
  auto backoff = detail::number_in(json, "retry_backoff", 1.0, kMaxBackoff, h.retry_backoff, where);
  if (!backoff) return std::unexpected(backoff.error());
  h.retry_backoff = *backoff;
  return h;
}

}  // namespace tendril
