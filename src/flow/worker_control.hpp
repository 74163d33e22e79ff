// src/flow/worker_control.hpp — the runtime's hand on a FlowWorkerState's bookkeeping. Internal.
#pragma once

#include <string>
#include <utility>

#include "tendril/flow/worker_state.hpp"

namespace tendril::detail {

struct FlowWorkerControl {
  static void set_status(FlowWorkerState& s, WorkerStatus status) noexcept { s.set_status(status); }
  static void count_job(FlowWorkerState& s, bool failed) noexcept { s.count_job(failed); }
  static void record_execution(FlowWorkerState& s, std::string routine, std::string action,
                               Json details = {}) {
    s.record_execution(std::move(routine), std::move(action), std::move(details));
  }
  static void record_completion(FlowWorkerState& s, const std::string& routine,
                                const std::string& job_id, std::int64_t duration_us,
                                std::chrono::system_clock::time_point at) {
    s.record_completion(routine, job_id, duration_us, at);
  }
};

}  // namespace tendril::detail
