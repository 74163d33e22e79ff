// Failures: a routine's error meets its error strategy (error_handler.cpp has the strategies'
// data), and a worker that must stop drops what it has queued.
#include <algorithm>

#include "job_access.hpp"
#include "runtime_impl.hpp"
#include "worker_control.hpp"

namespace tendril {

using detail::FlowWorker;
using detail::JobAccess;
using Control = detail::FlowWorkerControl;

namespace {

// Every job an activation took items of, once each.
std::vector<std::shared_ptr<JobContext>> distinct_jobs(const detail::Activation& a) {
  std::vector<std::shared_ptr<JobContext>> jobs;
  for (const auto& j : a.item_jobs())
    if (std::find(jobs.begin(), jobs.end(), j) == jobs.end()) jobs.push_back(j);
  return jobs;
}

}  // namespace

// CONTINUE and SKIP let the jobs go on; RETRY parks the activation on a timer (its jobs stay
// under way) until its attempts are used up; STOP, used-up retries and a KillSwitch fail the
// jobs and stop the worker.
void Runtime::Impl::handle_failure(std::unique_ptr<Activation> a, const Error& failure) {
  RoutineCell& cell = a->cell();
  FlowWorker& worker = cell.worker;
  const std::string& id = cell.routine.id();
  const ErrorHandler& handler = cell.error_handler;
  const std::string& what = failure.message;
  const Json details = {{"error", what},
                        {"attempt", a->attempt},
                        {"job_id", a->job().job_id()},
                        {"strategy", to_string(handler.strategy)}};
  a->job().trace(id, "error", details);
  if (failure.kind == ErrorKind::kill_switch) {
    Control::record_execution(worker.state, id, "kill_switch", details);
    return stop_worker_after(std::move(a), failure);
  }
  switch (handler.strategy) {
    case ErrorStrategy::CONTINUE:
      for (const auto& job : distinct_jobs(*a))
        JobAccess::record_error(*job, {{"routine", id}, {"error", what}});
      Control::record_execution(worker.state, id, "error_continued", details);
      return finish(std::move(a));
    case ErrorStrategy::SKIP:
      for (const auto& job : distinct_jobs(*a)) {
        job->set_routine_data(id, "status", "skipped");
        job->set_routine_data(id, "error", what);
        job->trace(id, "skipped", {{"error", what}});
      }
      Control::record_execution(worker.state, id, "skipped", details);
      return finish(std::move(a));
    case ErrorStrategy::RETRY:
      if (const RetryPolicy policy = handler.retry_policy();
          policy.retries_after(a->attempt, failure)) {
        const auto delay = policy.delay_before(a->attempt + 1);
        Control::record_execution(worker.state, id, "retried", details);
        a->job().trace(id, "retry", {{"attempt", a->attempt + 1}, {"delay_ms", delay.count()}});
        ++a->attempt;
        a->restore_as_delivered();
        const auto due = clock_.now() + delay;
        timers_.add(due, ReadyTask{nullptr, std::move(a)});
        return;
      }
      return stop_worker_after(std::move(a), failure);
    case ErrorStrategy::STOP:
      return stop_worker_after(std::move(a), failure);
  }
}

void Runtime::Impl::stop_worker_after(std::unique_ptr<Activation> a, const Error& failure) {
  FlowWorker& worker = a->cell().worker;
  const std::string& id = a->cell().routine.id();
  const std::string reason = failure.describe();
  for (const auto& job : distinct_jobs(*a)) {
    JobAccess::fail(*job, failure);
    JobAccess::record_error(*job, {{"routine", id}, {"error", reason}});
  }
  Control::record_execution(worker.state, id, "failed",
                            {{"error", reason}, {"job_id", a->job().job_id()}});
  stop_worker(worker, WorkerStatus::failed, reason);
  finish(std::move(a));
}

std::string Runtime::Impl::stop_reason(FlowWorker& worker) {
  std::lock_guard lock(worker.mutex);
  return worker.stop_reason;
}

// No more activations; queued items are dropped (their jobs cancelled).
void Runtime::Impl::stop_worker(FlowWorker& worker, WorkerStatus status,
                                const std::string& reason) {
  if (worker.stopped.exchange(true)) return;
  {
    std::lock_guard lock(worker.mutex);
    worker.stop_reason = reason;
  }
  Control::set_status(worker.state, status);
  workers_.retire(worker);
  drop_queued(worker);
  end_worker(worker);
}

void Runtime::Impl::drop_queued(FlowWorker& worker) {
  for (auto& cell : worker.cells) {
    std::vector<std::shared_ptr<JobContext>> dropped;
    {
      std::lock_guard lock(cell->mutex);
      for (auto& queue : cell->queues) {
        for (auto& item : queue) dropped.push_back(std::move(item.job));
        queue.clear();
      }
    }
    for (const auto& job : dropped) {
      JobAccess::cancel(*job);
      job->trace(cell->routine.id(), "dropped", {{"reason", "worker stopped"}});
      release(worker, job);
    }
  }
}

void Runtime::Impl::end_worker(FlowWorker& worker) {
  {
    std::lock_guard lock(worker.mutex);
    if (std::exchange(worker.ended, true)) return;
  }
  if (options_.hooks.on_worker_end) options_.hooks.on_worker_end(worker.state);
}

void Runtime::Impl::cancel_timers() {
  for (ReadyTask& task : timers_.take_all()) {
    if (!task.retry) continue;  // a routine's timer is simply dropped
    for (const auto& job : distinct_jobs(*task.retry)) JobAccess::cancel(*job);
    finish(std::move(task.retry));
  }
}

}  // namespace tendril
