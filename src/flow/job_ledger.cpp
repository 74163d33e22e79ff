#include "job_ledger.hpp"

#include "worker_control.hpp"

namespace tendril::detail {

// The counts are atomics so that a post and a job's end take no lock; the worker's status and
// the runtime's waiters are touched, under their locks, only when a count crosses zero. The
// status is set from the count read under the lock, so when a 1 -> 0 and a 0 -> 1 race, the
// one that locks last sees the other's count and the status ends right.
void JobLedger::begun(FlowWorker& worker) {
  active_.fetch_add(1);
  if (worker.jobs_in_flight.fetch_add(1) != 0) return;
  std::lock_guard lock(worker.mutex);
  if (worker.jobs_in_flight.load() > 0 && worker.state.status() == WorkerStatus::idle)
    FlowWorkerControl::set_status(worker.state, WorkerStatus::running);
}

void JobLedger::worker_done(FlowWorker& worker) {
  if (worker.jobs_in_flight.fetch_sub(1) != 1) return;
  std::lock_guard lock(worker.mutex);
  if (worker.jobs_in_flight.load() == 0 && worker.state.status() == WorkerStatus::running)
    FlowWorkerControl::set_status(worker.state, WorkerStatus::idle);
}

void JobLedger::done() {
  if (active_.fetch_sub(1) != 1) return;
  { std::lock_guard lock(mutex_); }  // a waiter is either before its look or already waiting
  ended_.notify_all();
}

bool JobLedger::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return ended_.wait_for(lock, timeout, [&] { return active_.load() == 0; });
}

// A nap's look and a waker's pairs like a sleeper's and before_blocking's: the napper counts
// itself, then looks under the lock; the waker queued its work, then looks at the count. One of
// the two sees the other, and a waker that sees a napper notifies under the lock it looks under.
void JobLedger::nap(std::chrono::steady_clock::time_point until,
                    const std::function<bool()>& work_ready) {
  napping_.fetch_add(1);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  {
    std::unique_lock lock(mutex_);
    ended_.wait_until(lock, until, [&] { return active_.load() == 0 || work_ready(); });
  }
  napping_.fetch_sub(1);
}

void JobLedger::work_arrived() {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // the work queued, then the look
  if (napping_.load(std::memory_order_relaxed) == 0) return;
  { std::lock_guard lock(mutex_); }
  ended_.notify_all();
}

}  // namespace tendril::detail
