#include "tendril/pipeline/detail/run_context.hpp"

namespace tendril::detail {

bool RunContext::fail(Error error) {
  {
    std::lock_guard lock(mutex_);
    if (fatal_) return false;
    fatal_ = std::move(error);
  }
  stopped_.store(true, std::memory_order_relaxed);
  stop_.request_stop();
  for (auto& hook : abort_hooks_) hook();
  return true;
}

void RunContext::source_failed(Error error) {
  std::lock_guard lock(mutex_);
  if (!source_error_) source_error_ = std::move(error);
}

std::optional<Error> RunContext::outcome() const {
  std::lock_guard lock(mutex_);
  return fatal_ ? fatal_ : source_error_;
}

}  // namespace tendril::detail
