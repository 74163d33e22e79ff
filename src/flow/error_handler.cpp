#include "tendril/flow/error_handler.hpp"

#include <cmath>
#include <stdexcept>

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
  if (max_retries < 0)
    throw UsageError("ErrorHandler: max_retries must be >= 0, got " + std::to_string(max_retries));
  if (retry_delay.count() < 0)
    throw UsageError("ErrorHandler: retry_delay must be >= 0, got " +
                     std::to_string(retry_delay.count()) + " ms");
  if (!(retry_backoff >= 1.0))
    throw UsageError("ErrorHandler: retry_backoff must be >= 1, got " +
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
  if (auto it = json.find("max_retries"); it != json.end()) {
    if (!it->is_number_integer() || it->get<int>() < 0)
      return bad("/max_retries", "expected an integer >= 0");
    h.max_retries = it->get<int>();
  }
  if (auto it = json.find("retry_delay_ms"); it != json.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0)
      return bad("/retry_delay_ms", "expected an integer >= 0");
    h.retry_delay = std::chrono::milliseconds(it->get<std::int64_t>());
  }
  if (auto it = json.find("retry_backoff"); it != json.end()) {
    if (!it->is_number() || it->get<double>() < 1.0)
      return bad("/retry_backoff", "expected a number >= 1");
    h.retry_backoff = it->get<double>();
  }
  return h;
}

}  // namespace tendril
