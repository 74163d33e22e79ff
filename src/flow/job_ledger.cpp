#include "job_ledger.hpp"

#include "worker_control.hpp"

namespace tendril::detail {

void JobLedger::begun(FlowWorker& worker) {
  {
    std::lock_guard lock(mutex_);
    ++active_;
  }
  std::lock_guard lock(worker.mutex);
  if (++worker.jobs_in_flight == 1 && worker.state.status() == WorkerStatus::idle)
    FlowWorkerControl::set_status(worker.state, WorkerStatus::running);
}

void JobLedger::worker_done(FlowWorker& worker) {
  std::lock_guard lock(worker.mutex);
  if (--worker.jobs_in_flight == 0 && worker.state.status() == WorkerStatus::running)
    FlowWorkerControl::set_status(worker.state, WorkerStatus::idle);
}

void JobLedger::done() {
  std::lock_guard lock(mutex_);
  --active_;
  ended_.notify_all();
}

bool JobLedger::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return ended_.wait_for(lock, timeout, [&] { return active_ == 0; });
}

bool JobLedger::wait_or_quiet(std::chrono::milliseconds timeout,
                              const std::function<std::optional<std::uint64_t>()>& quiet_epoch) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<std::uint64_t> quiet_since;  // the epoch when it last looked quiet
  std::unique_lock lock(mutex_);
  while (active_ != 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    ended_.wait_for(lock, std::chrono::milliseconds(10));
    if (active_ == 0) break;
    // Quiet twice, 10 ms apart, with nothing happening in between: those reads agree.
    const auto epoch = quiet_epoch();
    if (!epoch) {
      quiet_since.reset();
    } else if (quiet_since == epoch) {
      return false;
    } else {
      quiet_since = epoch;
    }
  }
  return true;
}

}  // namespace tendril::detail
