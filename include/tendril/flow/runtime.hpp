// tendril/flow/runtime.hpp — runs flows on a pool of threads.
//
//   td::Runtime rt({.thread_pool_size = 2});
//   auto worker = rt.exec("cached_processor");              // a long-running worker
//   rt.post("cached_processor", "processor", "input", {{"data", "hello"}});
//   rt.wait_until_all_jobs_finished(10s);
//
// `exec` starts a worker: one FlowWorkerState shared by every routine of the flow for as long as it
// runs. `post` without a worker id goes to the flow's running worker (the newest one), so state
// is shared across posts. Each post is a job (JobContext); it completes when all the work it
// caused has finished. The pool's threads are Tendril's run-to-completion scheduler threads: a
// thread that finishes a routine goes on to the routines it emitted to, and more threads wake
// when routines are slow or block. Every member is thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tendril/core/clock.hpp"
#include "tendril/core/error.hpp"
#include "tendril/flow/flow.hpp"
#include "tendril/flow/job_context.hpp"
#include "tendril/flow/worker_state.hpp"

namespace tendril {

// Observers of what the runtime does. They run on the thread doing it: keep them short, and do
// not call the Runtime from them. `before_enqueue` may refuse an item (return false): a post is
// then an error, an emit drops the item (traced on the job).
struct RuntimeHooks {
  std::function<void(const FlowWorkerState&)> on_worker_start;
  std::function<void(const FlowWorkerState&)> on_worker_end;
  std::function<void(const JobContext&)> on_job_start;
  std::function<void(const JobContext&)> on_job_end;
  std::function<void(std::string_view routine, const JobContext&)> on_routine_start;
  // `error` is null when the logic succeeded.
  std::function<void(std::string_view routine, const JobContext&, const Error* error)>
      on_routine_end;
  std::function<void(std::string_view routine, std::string_view event, const Json& payload,
                     const JobContext&)>
      on_emit;
  std::function<bool(std::string_view routine, std::string_view slot, const Json& payload,
                     const JobContext&)>
      before_enqueue;
};

struct RuntimeOptions {
  std::size_t thread_pool_size = 10;  // >= 1; 0 only with help_while_waiting
  FlowRegistry* registry = nullptr;   // null: FlowRegistry::instance()
  Clock* clock = nullptr;             // null: the steady clock; a ManualClock in tests
  RuntimeHooks hooks = {};
  std::size_t history_limit = 1000;  // execution records kept per worker
  // How many routines one posted item may pass through: an item emitted further (a cycle
  // circling) is dropped and fails its job with a message naming the routine.
  std::uint32_t max_hops = 1000;
  // Each routine's start and end on its job's trace, and each completed activation in the
  // worker's history (errors, retries and skips are always recorded). Off: fewer allocations
  // per job, for the last bit of throughput.
  bool trace_routines = true;
  bool record_completions = true;
  // How long a pool thread that ran out of work keeps looking (yielding its core to any other
  // thread that wants it) before it sleeps: a job posted within it starts without waiting for
  // a thread to wake (tens of microseconds on a virtual machine). 0: sleep at once.
  std::chrono::microseconds idle_spin{100};
  // A thread that waits on the runtime runs ready routines itself meanwhile, as oneTBB's
  // wait_for_all does: wait_until_all_jobs_finished, shutdown's drain, and a post waiting for
  // room (PostOptions::wait_for_room; it runs the full slot's routine). User logic then runs on
  // the waiting thread too, not only on the pool's. With thread_pool_size 0 no pool exists and
  // routines run only on waiting threads: one thread for everything, no handoff at all. Not
  // from inside a routine: a wait there only waits.
  bool help_while_waiting = false;
};

struct PostOptions {
  std::string worker_id = {};  // empty: the flow's running worker
  std::string job_id = {};     // empty: made up ("<worker>-job-<n>")
  Json metadata = nullptr;
  // How long a post waits for room in a full slot before it is refused (queue_full). 0:
  // refused at once. With RuntimeOptions::help_while_waiting the waiting thread runs the full
  // slot's routine itself.
  std::chrono::milliseconds wait_for_room{0};
};

struct Posted {
  std::string worker_id;
  std::shared_ptr<JobContext> job;
};

struct SlotStatus {
  std::string routine, slot;
  std::size_t queued = 0, max_queue_length = 0;
  double usage = 0;      // queued / max_queue_length
  std::string pressure;  // low < 0.6 <= medium < watermark <= high < 1.0 <= critical
};

class Runtime {
 public:
  // thread_pool_size 0 without help_while_waiting is a UsageError.
  explicit Runtime(RuntimeOptions options = {});
  ~Runtime();  // shutdown(true)
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Starts a worker for the flow registered as `flow_name` (or for `flow`), optionally restoring
  // a FlowWorkerState saved with `FlowWorkerState::to_json`. Returns the worker id. Errors: unknown
  // flow, a flow whose validate() reports errors, a runtime shut down.
  Result<std::string> exec(std::string_view flow_name, const Json& restore = nullptr);
  Result<std::string> exec(const Flow& flow, const Json& restore = nullptr);

  // Puts `data` (a JSON object; null means {}) into `slot` of `routine` as a new job. Errors name
  // what is wrong: unknown flow, routine or slot; no running worker; a stopped worker; a full slot
  // (at once, or after `options.wait_for_room`); a refusal by before_enqueue; a runtime shut down.
  Result<Posted> post(std::string_view flow_name, std::string_view routine, std::string_view slot,
                      Json data, PostOptions options = {});

  // True when every job posted so far has finished (and all the work it caused); false when
  // `timeout` passed first.
  bool wait_until_all_jobs_finished(std::chrono::milliseconds timeout);

  // Holds (pause) or lets go (resume) a worker's dispatching; posts still queue meanwhile.
  Result<void> pause(std::string_view worker_id);
  Result<void> resume(std::string_view worker_id);

  // With `wait`: refuses new posts, lets every job finish (up to `timeout`), then stops the
  // workers (completed). Without, when the timeout passes, or when jobs are left that can never
  // finish (their items wait on a policy nothing can satisfy any more): drops queued work (those
  // jobs end cancelled), waits for running logic to return, and stops the workers (cancelled).
  // Idempotent. Not from inside a routine or hook.
  void shutdown(bool wait = true, std::chrono::milliseconds timeout = std::chrono::hours(24));

  // The worker's state (alive as long as the runtime), or null for an unknown id.
  FlowWorkerState* worker_state(std::string_view worker_id) const;
  std::vector<std::string> worker_ids() const;
  std::vector<SlotStatus> slot_status(std::string_view worker_id) const;
  std::size_t thread_pool_size() const noexcept;
  // Times a pool thread went to sleep for want of work: with idle_spin longer than the gaps
  // between posts, a steady trickle leaves it at 0.
  std::uint64_t pool_sleeps() const noexcept;

 private:
  class Impl;  // src/flow/runtime_impl.hpp
  std::unique_ptr<Impl> impl_;
};

}  // namespace tendril
