// src/flow/job_ledger.hpp — how many jobs are under way, runtime-wide and per worker. Internal.
//
// A job is counted from its post until it ends (all the work it caused has finished). A worker
// is `running` while any of its jobs is under way and `idle` when none is. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>

#include "worker.hpp"

namespace tendril::detail {

class JobLedger {
 public:
  void begun(FlowWorker& worker);  // a post was accepted
  // A job of `worker` ended (or a begun post was refused after all): first the worker's count,
  // then (after its waiters were told) the runtime's.
  void worker_done(FlowWorker& worker);
  void done();

  // True once no job is under way; false when `timeout` passed first.
  bool wait(std::chrono::milliseconds timeout);

  bool idle() const noexcept { return active_.load() == 0; }
  // For a thread that waits in steps (running routines between them, or looking whether
  // anything can still move): blocks until no job is under way, `work_ready()` holds, or
  // `until`. work_arrived() (after the work is queued) ends the nap.
  void nap(std::chrono::steady_clock::time_point until, const std::function<bool()>& work_ready);
  void work_arrived();

 private:
  std::mutex mutex_;
  std::condition_variable ended_;
  std::atomic<std::size_t> active_{0};   // its waiters wait under mutex_
  std::atomic<std::size_t> napping_{0};  // threads in nap()
};

}  // namespace tendril::detail
