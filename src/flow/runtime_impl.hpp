// src/flow/runtime_impl.hpp — the flow runtime's engine, one part per lock. Internal.
//
// Routines with work wait in the ready queue; the scheduler's threads (the pool) take one, let
// its policy decide under the cell's lock, and run its logic. With help_while_waiting, threads
// waiting on the runtime (for jobs, for room in a slot) take ready routines too. Emit puts items
// straight into the connected cells and queues them as ready, so the thread that finishes a routine
// usually goes on with the next one (run-to-completion); the scheduler wakes more threads when
// routines are slow or block. One timer thread fires time_interval policies and delayed retries; no
// pool thread ever sleeps for them.
//
// The parts, each with its own lock, and where their code is:
//   ready queue       ready_queue.hpp       routines to look at, parked retries to run again
//   timers            timer_queue.hpp       on the runtime's Clock (a ManualClock in tests)
//   worker directory  worker_directory.cpp  workers by id and by flow; worker.cpp wires a flow
//   job ledger        job_ledger.cpp        jobs under way, a worker's running/idle status
//   delivery          delivery.cpp          post and emit into slots, backpressure
//   activations       activations.cpp       a policy's decision, a logic call, its end
//   failures          failures.cpp          error strategies, stopping a worker
//   lifecycle         runtime.cpp           exec, pause/resume, shutdown, the public API
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "activation.hpp"
#include "job_ledger.hpp"
#include "ready_queue.hpp"
#include "tendril/core/retry.hpp"
#include "tendril/core/scheduler.hpp"
#include "tendril/flow/runtime.hpp"
#include "timer_queue.hpp"
#include "worker.hpp"
#include "worker_directory.hpp"

namespace tendril {

class Runtime::Impl final : public detail::Runner, public detail::ActivationHost {
 public:
  using FlowWorker = detail::FlowWorker;
  using RoutineCell = detail::RoutineCell;
  using Activation = detail::Activation;
  using ReadyTask = detail::ReadyTask;

  explicit Impl(RuntimeOptions options);
  ~Impl();

  const RuntimeOptions& options() const noexcept { return options_; }
  std::uint64_t pool_sleeps() const noexcept { return scheduler_.sleeps(); }
  FlowRegistry& registry() const noexcept { return registry_; }

  // --- detail::Runner: what the scheduler's threads call (runtime.cpp) ---
  bool try_run() override;
  bool runnable() const override { return ready_.size() != 0; }
  bool drained() const override;
  std::uint64_t cost_ns() const override { return cost_ns_.load(std::memory_order_relaxed); }

  // --- lifecycle (runtime.cpp) ---
  Result<std::string> exec(std::string name, Flow flow, const Json& restore);
  Result<void> set_paused(std::string_view worker_id, bool paused);
  void shutdown(bool wait, std::chrono::milliseconds timeout);
  std::vector<SlotStatus> slot_status(std::string_view worker_id) const;
  // wait_until_all_jobs_finished: with help_while_waiting, runs ready routines meanwhile.
  bool wait_for_jobs(std::chrono::milliseconds timeout);
  detail::WorkerDirectory& workers() noexcept { return workers_; }
  const detail::WorkerDirectory& workers() const noexcept { return workers_; }

  // --- delivery (delivery.cpp) ---
  Result<Posted> post(std::string_view flow_name, std::string_view routine, std::string_view slot,
                      Json data, PostOptions options);
  void emit(Activation& from, const EventSpec& event, Json payload) override;

 private:
  // delivery.cpp
  // Puts one item into a cell's slot for `job` and makes the routine ready; `payload` is moved
  // from only when the item went in. True when this call queued the routine (a pool thread may
  // need waking); false when it was already queued, running or paused.
  Result<bool> deliver(RoutineCell& cell, std::size_t slot, Json& payload,
                       const std::shared_ptr<JobContext>& job, std::uint32_t hops);
  // deliver(), but a full slot is waited on for up to `patience` (then it is the error), this
  // thread running the full slot's routine meanwhile when `help`.
  Result<bool> deliver_waiting(RoutineCell& target, std::size_t slot, Json& payload,
                               const std::shared_ptr<JobContext>& job, std::uint32_t hops,
                               std::chrono::milliseconds patience, bool help);
  void make_ready(RoutineCell& cell);  // with cell.mutex held, when not yet scheduled
  // Runs one activation of `cell` on this thread if its policy and concurrency allow it now.
  bool run_here(RoutineCell& cell);

  // activations.cpp
  std::unique_ptr<Activation> prepare(RoutineCell& cell);  // the policy decides
  void run(std::unique_ptr<Activation> activation);        // the logic, then finish or fail
  void finish(std::unique_ptr<Activation> activation);     // frees its place, lets jobs go
  void release(FlowWorker& worker, const std::shared_ptr<JobContext>& job);
  void sample_cost(Clock::duration elapsed);  // for one activation in 16 (run() samples)

  // failures.cpp
  void handle_failure(std::unique_ptr<Activation> activation, const Error& error);
  void stop_worker_after(std::unique_ptr<Activation> activation, const Error& failure);
  void stop_worker(FlowWorker& worker, WorkerStatus status, const std::string& reason);
  void drop_queued(FlowWorker& worker);
  void end_worker(FlowWorker& worker);
  std::string stop_reason(FlowWorker& worker);
  void cancel_timers();  // parked retries end now, their jobs cancelled

  // runtime.cpp
  void fire_timer(ReadyTask task);
  std::optional<std::uint64_t> quiet_epoch();
  // Work arrived from outside any routine (a post, a timer, a resume): wake a pool thread, and
  // a helping waiter.
  void notify_work();
  // Whether a thread waiting on the runtime here runs routines meanwhile (help_while_waiting,
  // and not inside a routine's logic).
  bool helping_here() const;
  // Until no job is under way (true) or `deadline` passed (false); with `end_when_quiet` also
  // false once nothing can move any more (nothing ready, running or timed, twice 10 ms apart).
  // With `help` it runs ready routines on this thread meanwhile, napping between them until
  // work arrives.
  bool await_jobs(std::chrono::steady_clock::time_point deadline, bool help, bool end_when_quiet);

  RuntimeOptions options_;
  FlowRegistry& registry_;
  Clock& clock_;
  detail::Scheduler scheduler_;
  detail::ReadyQueue ready_;
  detail::WorkerDirectory workers_;
  detail::JobLedger jobs_;
  detail::TimerQueue<ReadyTask> timers_;

  std::atomic<std::size_t> alive_{0};  // activations prepared and not yet finished
  std::atomic<std::uint64_t> cost_ns_{0};

  std::atomic<bool> closing_{false};
  std::atomic<bool> closed_{false};
  std::mutex shutdown_mutex_;
};

}  // namespace tendril
