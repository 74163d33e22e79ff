// The flow runtime: workers, jobs, dispatching on the scheduler's threads, timers.
//
// Routines with work are put on one ready queue; the scheduler's threads (the pool) take a
// routine from it, let its policy decide under the cell's lock, and run its logic. Emit puts
// items straight into the connected cells and queues them as ready, so the thread that finishes
// a routine usually goes on with the next one (run-to-completion), and the scheduler wakes more
// threads when routines are slow or block. One timer thread fires time_interval policies and
// delayed retries; no pool thread ever sleeps for them.
#include "tendril/flow/runtime.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <thread>

#include "flow_data.hpp"
#include "job_access.hpp"
#include "names.hpp"
#include "tendril/core/scheduler.hpp"
#include "worker.hpp"
#include "worker_control.hpp"

namespace tendril {

using detail::Activation;
using Control = detail::FlowWorkerControl;
using detail::FlowWorker;
using detail::JobAccess;
using detail::join_names;
using detail::QueuedItem;
using detail::RoutineCell;

namespace {

thread_local Activation* current_activation = nullptr;

using Clock = std::chrono::steady_clock;

std::unexpected<Error> error(ErrorKind kind, std::string message) {
  return std::unexpected(Error{.kind = kind, .message = std::move(message)});
}

// Sets the thread's current activation and job for the duration of a logic call.
class ActivationScope {
 public:
  explicit ActivationScope(Activation& a)
      : previous_(current_activation), previous_job_(detail::current_job_slot()) {
    current_activation = &a;
    detail::current_job_slot() = &a.job();
  }
  ~ActivationScope() {
    current_activation = previous_;
    detail::current_job_slot() = previous_job_;
  }

 private:
  Activation* previous_;
  JobContext* previous_job_;
};

}  // namespace

Activation* Activation::current() noexcept { return current_activation; }
const Routine* Activation::routine() const noexcept { return &cell_.routine; }

// --- the runtime's core -------------------------------------------------------------------------

class Runtime::Impl final : public detail::Runner {
 public:
  explicit Impl(RuntimeOptions options)
      : options_(std::move(options)),
        registry_(options_.registry ? *options_.registry : FlowRegistry::instance()),
        scheduler_(options_.thread_pool_size) {
    scheduler_.set_source(this);
    scheduler_.start();
    timer_thread_ = std::thread([this] { timer_main(); });
  }

  ~Impl() override { shutdown(true, std::chrono::hours(24)); }

  const RuntimeOptions& options() const { return options_; }

  // --- Runner: what the scheduler's threads call ---

  bool try_run() override {
    Task task;
    {
      std::lock_guard lock(ready_mutex_);
      if (ready_.empty()) return false;
      task = std::move(ready_.front());
      ready_.pop_front();
      ready_size_.store(ready_.size(), std::memory_order_relaxed);
      dispatching_.fetch_add(1);
    }
    epoch_.fetch_add(1, std::memory_order_relaxed);
    if (task.retry) {
      run(std::move(task.retry));
    } else if (auto activation = prepare(*task.cell)) {
      run(std::move(activation));
    }
    dispatching_.fetch_sub(1);
    return true;
  }
  bool runnable() const override { return ready_size_.load(std::memory_order_relaxed) != 0; }
  bool drained() const override {
    if (!closed_.load()) return false;
    std::lock_guard lock(ready_mutex_);
    return ready_.empty() && alive_.load() == 0;
  }
  std::uint64_t cost_ns() const override { return cost_ns_.load(std::memory_order_relaxed); }

  // --- workers ---

  Result<std::string> exec(std::string name, Flow flow, const Json& restore) {
    if (closing_.load()) return error(ErrorKind::stopped, "exec: the runtime is shut down");
    std::string problems;
    for (const auto& issue : flow.validate())
      if (issue.severity == ValidationIssue::Severity::error)
        problems += (problems.empty() ? "" : "; ") + issue.describe();
    if (!problems.empty())
      return error(ErrorKind::invalid,
                   "exec: flow '" + flow.flow_id() + "' is not valid: " + problems);
    flow.data()->frozen.store(true);

    std::string worker_id;
    {
      std::lock_guard lock(workers_mutex_);
      worker_id = flow.flow_id() + "#" + std::to_string(++worker_counter_);
    }
    FlowWorkerState state(flow.flow_id(), worker_id, options_.history_limit);
    if (!restore.is_null()) {
      try {
        state.load(restore);
      } catch (const std::exception& e) {
        return error(ErrorKind::invalid,
                     std::string("exec: cannot restore the worker state: ") + e.what());
      }
    }
    auto worker = std::make_unique<FlowWorker>(*this, name, flow, std::move(state));
    const auto& data = *flow.data();
    for (const auto& [id, routine] : data.routines) {
      const ErrorHandler handler = routine->error_handler() ? *routine->error_handler()
                                   : data.error_handler     ? *data.error_handler
                                                            : ErrorHandler{};
      worker->cells.push_back(std::make_unique<RoutineCell>(*worker, *routine, handler));
      worker->by_routine[id] = worker->cells.back().get();
    }
    for (const auto& c : data.connections) {
      RoutineCell* to = worker->by_routine.at(c.to);
      const std::size_t slot = to->routine.find_slot(c.slot) - to->routine.slots().data();
      worker->by_routine.at(c.from)->outputs[c.event].push_back({to, slot});
    }
    Control::set_status(worker->state, WorkerStatus::idle);
    if (options_.hooks.on_worker_start) options_.hooks.on_worker_start(worker->state);
    std::lock_guard lock(workers_mutex_);
    running_by_name_[name] = worker.get();
    by_id_[worker_id] = worker.get();
    workers_.push_back(std::move(worker));
    return worker_id;
  }

  Result<FlowWorker*> find_worker(std::string_view flow_name, std::string_view worker_id) {
    std::lock_guard lock(workers_mutex_);
    if (!worker_id.empty()) {
      auto it = by_id_.find(worker_id);
      if (it == by_id_.end())
        return error(ErrorKind::not_found, "no worker '" + std::string(worker_id) + "'");
      if (it->second->name != flow_name)
        return error(ErrorKind::invalid, "worker '" + std::string(worker_id) + "' runs flow '" +
                                             it->second->name + "', not '" +
                                             std::string(flow_name) + "'");
      return it->second;
    }
    auto it = running_by_name_.find(flow_name);
    if (it != running_by_name_.end()) return it->second;
    if (registry_.get(flow_name))
      return error(ErrorKind::stopped, "flow '" + std::string(flow_name) +
                                           "' has no running worker: call exec(\"" +
                                           std::string(flow_name) + "\") first");
    return error(ErrorKind::not_found, "no flow '" + std::string(flow_name) +
                                           "' (registered: " + join_names(registry_.names()) + ")");
  }

  FlowWorker* worker_by_id(std::string_view id) const {
    std::lock_guard lock(workers_mutex_);
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
  }

  std::vector<std::string> worker_ids() const {
    std::lock_guard lock(workers_mutex_);
    std::vector<std::string> ids;
    for (const auto& w : workers_) ids.push_back(w->state.worker_id());
    return ids;
  }

  // --- posting and delivering ---

  Result<Posted> post(std::string_view flow_name, std::string_view routine, std::string_view slot,
                      Json data, PostOptions options) {
    if (closing_.load()) return error(ErrorKind::stopped, "post: the runtime is shut down");
    if (data.is_null()) data = Json::object();  // post(..., {}) means an empty object
    if (!data.is_object())
      return error(ErrorKind::invalid,
                   std::string("post: the data must be a JSON object, not ") + data.type_name());
    auto found = find_worker(flow_name, options.worker_id);
    if (!found) return std::unexpected(found.error());
    FlowWorker& worker = **found;
    auto cell_it = worker.by_routine.find(routine);
    if (cell_it == worker.by_routine.end())
      return error(ErrorKind::not_found,
                   "post: flow '" + worker.name + "' has no routine '" + std::string(routine) +
                       "' (routines: " + join_names(worker.flow.routine_ids()) + ")");
    RoutineCell& cell = *cell_it->second;
    const SlotSpec* slot_spec = cell.routine.find_slot(slot);
    if (!slot_spec)
      return error(ErrorKind::not_found, "post: routine '" + std::string(routine) +
                                             "' has no slot '" + std::string(slot) + "' (slots: " +
                                             detail::join_names_of(cell.routine.slots()) + ")");
    std::string job_id = std::move(options.job_id);
    if (job_id.empty())
      job_id = worker.state.worker_id() + "-job-" + std::to_string(++worker.next_job);
    auto job = std::make_shared<JobContext>(std::move(job_id), worker.flow.flow_id(),
                                            worker.state.worker_id(), std::move(options.metadata));
    job_begun(worker);
    if (auto delivered = deliver(cell, slot_spec - cell.routine.slots().data(), data, job);
        !delivered) {
      job_abandoned(worker);
      return std::unexpected(delivered.error());
    }
    scheduler_.notify_work();
    return Posted{worker.state.worker_id(), std::move(job)};
  }

  // Puts one item into a cell's slot for `job` and makes the routine ready.
  // `payload` is moved from only when the item went in.
  Result<void> deliver(RoutineCell& cell, std::size_t slot, Json& payload,
                       const std::shared_ptr<JobContext>& job) {
    FlowWorker& worker = cell.worker;
    const SlotSpec& spec = cell.routine.slots()[slot];
    if (worker.stopped.load())
      return error(ErrorKind::stopped,
                   "worker '" + worker.state.worker_id() + "' has stopped: " + stop_reason(worker));
    if (options_.hooks.before_enqueue &&
        !options_.hooks.before_enqueue(cell.routine.id(), spec.name, payload, *job))
      return error(ErrorKind::invalid, "slot '" + spec.name + "' of routine '" + cell.routine.id() +
                                           "': the before_enqueue hook refused the item");
    {
      std::lock_guard lock(cell.mutex);
      auto& queue = cell.queues[slot];
      if (queue.size() >= spec.max_queue_length)
        return error(ErrorKind::queue_full, "slot '" + spec.name + "' of routine '" +
                                                cell.routine.id() + "' is full (" +
                                                std::to_string(spec.max_queue_length) + " items)");
      JobAccess::add_work(*job);
      queue.push_back({std::move(payload), job});
      if (!cell.scheduled && !worker.paused.load()) {
        cell.scheduled = true;
        push_ready(Task{&cell, nullptr});
      }
    }
    return {};
  }

  void emit(Activation& a, const EventSpec& event, Json payload) {
    RoutineCell& cell = a.cell();
    if (options_.hooks.on_emit)
      options_.hooks.on_emit(cell.routine.id(), event.name, payload, a.job());
    auto it = cell.outputs.find(event.name);
    if (it == cell.outputs.end()) return;  // connected to nothing
    const auto& targets = it->second;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      // The last target takes the payload itself; the others a copy. (One conditional
      // expression would copy both ways: an lvalue and an xvalue meet as a prvalue.)
      Json copy;
      if (i + 1 < targets.size()) copy = payload;
      Json& item = i + 1 < targets.size() ? copy : payload;
      auto delivered = deliver_waiting(*targets[i].cell, targets[i].slot, item, a.job_ptr());
      if (delivered) continue;
      switch (delivered.error().kind) {
        case ErrorKind::queue_full:  // full for too long: the routine's error strategy decides
          throw FlowError("emit('" + event.name + "'): " + delivered.error().message);
        case ErrorKind::stopped:
          a.job().trace(cell.routine.id(), "emit_dropped", {{"reason", delivered.error().message}});
          JobAccess::cancel(a.job());
          break;
        default:
          a.job().trace(cell.routine.id(), "emit_refused",
                        {{"event", event.name}, {"reason", delivered.error().message}});
          break;
      }
    }
  }

  // Backpressure for emit: while the target slot is full, this thread runs other ready routines
  // (the full slot's consumer among them), or waits a moment when there are none; only a slot
  // that stays full for kEmitPatience (a cycle feeding itself, a stuck consumer) is an error.
  static constexpr auto kEmitPatience = std::chrono::seconds(30);
  static inline thread_local int help_depth = 0;

  Result<void> deliver_waiting(RoutineCell& target, std::size_t slot, Json& payload,
                               const std::shared_ptr<JobContext>& job) {
    std::optional<Clock::time_point> since;
    for (;;) {
      auto delivered = deliver(target, slot, payload, job);
      if (delivered || delivered.error().kind != ErrorKind::queue_full) return delivered;
      if (!since) since = Clock::now();
      if (Clock::now() - *since > kEmitPatience || closed_.load())
        return std::unexpected(Error{.kind = ErrorKind::queue_full,
                                     .message = delivered.error().message + " for " +
                                                std::to_string(kEmitPatience.count()) + " s"});
      bool helped = false;
      if (help_depth < 4) {
        ++help_depth;
        helped = try_run();
        --help_depth;
      }
      if (!helped) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  // --- activations ---

  // Under the cell's lock: lets the policy decide; takes the items when the routine runs.
  std::unique_ptr<Activation> prepare(RoutineCell& cell) {
    std::lock_guard lock(cell.mutex);
    cell.scheduled = false;
    FlowWorker& worker = cell.worker;
    if (worker.paused.load() || worker.stopped.load()) return nullptr;
    if (cell.running >= cell.routine.concurrency()) return nullptr;  // finish() looks again
    const auto now = Clock::now();
    auto decision = cell.routine.activation_policy().decide(cell, now, cell.last_run);
    if (decision.verdict == ActivationPolicy::Decision::wait) return nullptr;
    if (decision.verdict == ActivationPolicy::Decision::run_later) {
      if (!cell.timer_armed) {
        cell.timer_armed = true;
        add_timer(decision.due, Task{&cell, nullptr});
      }
      return nullptr;
    }
    SlotData data;
    std::vector<std::shared_ptr<JobContext>> item_jobs;
    for (std::size_t s = 0; s < cell.queues.size(); ++s) {
      auto& queue = cell.queues[s];
      const std::size_t n = std::min(decision.take[s], queue.size());
      std::vector<Json> items;
      items.reserve(n);
      for (std::size_t k = 0; k < n; ++k) {
        items.push_back(std::move(queue.front().payload));
        item_jobs.push_back(std::move(queue.front().job));
        queue.pop_front();
      }
      data.add(cell.routine.slots()[s].name, std::move(items));
    }
    if (item_jobs.empty()) return nullptr;  // a custom policy said yes to empty slots: no job
    ++cell.running;
    cell.last_run = now;
    alive_.fetch_add(1);
    auto job = item_jobs.front();  // the oldest item's job, in slot order
    JobAccess::add_work(*job);     // the activation itself
    if (cell.running < cell.routine.concurrency() && cell.any_queued()) {
      cell.scheduled = true;  // another activation may start beside this one
      push_ready(Task{&cell, nullptr});
    }
    return std::make_unique<Activation>(cell, std::move(data), std::move(decision.message),
                                        std::move(job), std::move(item_jobs));
  }

  void run(std::unique_ptr<Activation> a) {
    RoutineCell& cell = a->cell();
    FlowWorker& worker = cell.worker;
    const std::string& id = cell.routine.id();
    if (a->attempt == 1)
      for (const auto& job : a->item_jobs())
        if (JobAccess::start(*job) && options_.hooks.on_job_start)
          options_.hooks.on_job_start(*job);
    if (options_.hooks.on_routine_start) options_.hooks.on_routine_start(id, a->job());
    if (options_.trace_routines)
      a->job().trace(id, "start", a->attempt == 1 ? Json() : Json{{"attempt", a->attempt}});

    std::optional<std::string> failure;
    const auto started = Clock::now();
    {
      ActivationScope scope(*a);
      detail::Scheduler::enter_handler();
      try {
        cell.routine.logic()(a->data(), a->message(), worker.state);
      } catch (const std::exception& e) {
        failure = e.what();
      } catch (...) {
        failure = "unknown exception";
      }
      detail::Scheduler::leave_handler();
    }
    const auto elapsed = Clock::now() - started;
    sample_cost(elapsed);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    if (options_.hooks.on_routine_end)
      options_.hooks.on_routine_end(id, a->job(), failure ? &*failure : nullptr);
    if (!failure) {
      if (options_.trace_routines) a->job().trace(id, "end", {{"duration_us", micros}});
      if (options_.record_completions)
        Control::record_execution(worker.state, id, "completed",
                                  {{"job_id", a->job().job_id()}, {"duration_us", micros}});
      return finish(std::move(a));
    }
    handle_failure(std::move(a), *failure);
  }

  void handle_failure(std::unique_ptr<Activation> a, const std::string& what) {
    RoutineCell& cell = a->cell();
    FlowWorker& worker = cell.worker;
    const std::string& id = cell.routine.id();
    const ErrorHandler& handler = cell.error_handler;
    const Json details = {{"error", what},
                          {"attempt", a->attempt},
                          {"job_id", a->job().job_id()},
                          {"strategy", to_string(handler.strategy)}};
    a->job().trace(id, "error", details);
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
        if (a->attempt <= handler.max_retries) {
          const auto delay = handler.delay_before(a->attempt);
          Control::record_execution(worker.state, id, "retried", details);
          a->job().trace(id, "retry", {{"attempt", a->attempt + 1}, {"delay_ms", delay.count()}});
          ++a->attempt;
          add_timer(Clock::now() + delay, Task{nullptr, std::move(a)});
          return;
        }
        {
          std::string reason = "routine '" + id + "' failed after " + std::to_string(a->attempt) +
                               " attempts: " + what;
          return stop_worker_after(std::move(a), reason);
        }
      case ErrorStrategy::STOP: {
        std::string reason = "routine '" + id + "' failed: " + what;
        return stop_worker_after(std::move(a), reason);
      }
    }
  }

  void stop_worker_after(std::unique_ptr<Activation> a, const std::string& reason) {
    FlowWorker& worker = a->cell().worker;
    for (const auto& job : distinct_jobs(*a)) {
      JobAccess::fail(*job, reason);
      JobAccess::record_error(*job, {{"routine", a->cell().routine.id()}, {"error", reason}});
    }
    Control::record_execution(worker.state, a->cell().routine.id(), "failed",
                              {{"error", reason}, {"job_id", a->job().job_id()}});
    stop_worker(worker, WorkerStatus::failed, reason);
    finish(std::move(a));
  }

  // Ends an activation: frees its place, looks at the routine again, and lets its jobs go.
  void finish(std::unique_ptr<Activation> a) {
    RoutineCell& cell = a->cell();
    {
      std::lock_guard lock(cell.mutex);
      --cell.running;
      if (!cell.scheduled && cell.any_queued() && !cell.worker.paused.load()) {
        cell.scheduled = true;
        push_ready(Task{&cell, nullptr});
      }
    }
    for (const auto& job : a->item_jobs()) release(cell.worker, job);
    release(cell.worker, a->job_ptr());
    alive_.fetch_sub(1);
    if (closed_.load()) scheduler_.notify_work();  // a draining scheduler may now end
  }

  static std::vector<std::shared_ptr<JobContext>> distinct_jobs(const Activation& a) {
    std::vector<std::shared_ptr<JobContext>> jobs;
    for (const auto& j : a.item_jobs())
      if (std::find(jobs.begin(), jobs.end(), j) == jobs.end()) jobs.push_back(j);
    return jobs;
  }

  // --- jobs ---

  void job_begun(FlowWorker& worker) {
    {
      std::lock_guard lock(jobs_mutex_);
      ++active_jobs_;
    }
    std::lock_guard lock(worker.mutex);
    if (++worker.jobs_in_flight == 1 && worker.state.status() == WorkerStatus::idle)
      Control::set_status(worker.state, WorkerStatus::running);
  }

  void job_abandoned(FlowWorker& worker) {
    worker_job_done(worker);
    std::lock_guard lock(jobs_mutex_);
    --active_jobs_;
    jobs_cv_.notify_all();
  }

  void release(FlowWorker& worker, const std::shared_ptr<JobContext>& job) {
    const auto end = JobAccess::finish_work(*job);
    if (end == JobAccess::End::none) return;
    if (end != JobAccess::End::cancelled)
      Control::count_job(worker.state, end == JobAccess::End::failed);
    if (options_.hooks.on_job_end) options_.hooks.on_job_end(*job);
    worker_job_done(worker);
    JobAccess::announce(*job);
    std::lock_guard lock(jobs_mutex_);
    --active_jobs_;
    jobs_cv_.notify_all();
  }

  void worker_job_done(FlowWorker& worker) {
    std::lock_guard lock(worker.mutex);
    if (--worker.jobs_in_flight == 0 && worker.state.status() == WorkerStatus::running)
      Control::set_status(worker.state, WorkerStatus::idle);
  }

  bool wait_for_jobs(std::chrono::milliseconds timeout) {
    std::unique_lock lock(jobs_mutex_);
    return jobs_cv_.wait_for(lock, timeout, [&] { return active_jobs_ == 0; });
  }

  // Like wait_for_jobs, but also ends once nothing can move any more (no routine ready or
  // running, no timer pending): jobs whose items wait on a policy that no post can satisfy now.
  bool wait_for_jobs_or_quiet(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::optional<std::uint64_t> quiet_since;  // the epoch when it last looked quiet
    std::unique_lock lock(jobs_mutex_);
    while (active_jobs_ != 0) {
      if (Clock::now() >= deadline) return false;
      jobs_cv_.wait_for(lock, std::chrono::milliseconds(10));
      if (active_jobs_ == 0) break;
      // Quiet twice, 10 ms apart, with nothing happening in between: those reads agree.
      const std::uint64_t epoch = epoch_.load();
      if (!quiet()) {
        quiet_since.reset();
      } else if (quiet_since == epoch) {
        return false;
      } else {
        quiet_since = epoch;
      }
    }
    return true;
  }

  bool quiet() {
    if (alive_.load() != 0 || ready_size_.load() != 0 || dispatching_.load() != 0) return false;
    std::lock_guard lock(timer_mutex_);
    return timers_.empty();
  }

  // --- stopping ---

  std::string stop_reason(FlowWorker& worker) {
    std::lock_guard lock(worker.mutex);
    return worker.stop_reason;
  }

  // Stops a worker: no more activations, queued items dropped (their jobs cancelled).
  void stop_worker(FlowWorker& worker, WorkerStatus status, const std::string& reason) {
    if (worker.stopped.exchange(true)) return;
    {
      std::lock_guard lock(worker.mutex);
      worker.stop_reason = reason;
    }
    Control::set_status(worker.state, status);
    {
      std::lock_guard lock(workers_mutex_);
      auto it = running_by_name_.find(worker.name);
      if (it != running_by_name_.end() && it->second == &worker) running_by_name_.erase(it);
    }
    drop_queued(worker);
    end_worker(worker);
  }

  void drop_queued(FlowWorker& worker) {
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

  void end_worker(FlowWorker& worker) {
    {
      std::lock_guard lock(worker.mutex);
      if (std::exchange(worker.ended, true)) return;
    }
    if (options_.hooks.on_worker_end) options_.hooks.on_worker_end(worker.state);
  }

  Result<void> set_paused(std::string_view worker_id, bool paused) {
    FlowWorker* worker = worker_by_id(worker_id);
    if (!worker) return error(ErrorKind::not_found, "no worker '" + std::string(worker_id) + "'");
    if (worker->stopped.load())
      return error(ErrorKind::stopped, "worker '" + std::string(worker_id) + "' has stopped");
    worker->paused.store(paused);
    {
      std::lock_guard lock(worker->mutex);
      Control::set_status(worker->state, paused                       ? WorkerStatus::paused
                                         : worker->jobs_in_flight > 0 ? WorkerStatus::running
                                                                      : WorkerStatus::idle);
    }
    if (!paused) {
      for (auto& cell : worker->cells) {
        std::lock_guard lock(cell->mutex);
        if (!cell->scheduled && cell->any_queued()) {
          cell->scheduled = true;
          push_ready(Task{cell.get(), nullptr});
        }
      }
      scheduler_.notify_work();
    }
    return {};
  }

  void shutdown(bool wait, std::chrono::milliseconds timeout) {
    if (closing_.exchange(true)) {
      std::lock_guard lock(shutdown_mutex_);  // a second caller waits for the first
      return;
    }
    std::lock_guard lock(shutdown_mutex_);
    const bool drained = wait && wait_for_jobs_or_quiet(timeout);
    std::vector<FlowWorker*> workers;
    {
      std::lock_guard wl(workers_mutex_);
      for (auto& w : workers_) workers.push_back(w.get());
    }
    if (!drained) {
      for (FlowWorker* w : workers) {
        w->stopped.store(true);
        if (w->state.status() != WorkerStatus::failed)
          Control::set_status(w->state, WorkerStatus::cancelled);
        drop_queued(*w);
      }
      cancel_timers();
      while (alive_.load() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    {
      std::lock_guard tl(timer_mutex_);
      timer_stop_ = true;
    }
    timer_cv_.notify_all();
    if (timer_thread_.joinable()) timer_thread_.join();
    closed_.store(true);
    scheduler_.stop();
    scheduler_.wait();
    for (FlowWorker* w : workers) {
      w->stopped.store(true);
      if (drained && w->state.status() != WorkerStatus::failed)
        Control::set_status(w->state, WorkerStatus::completed);
      end_worker(*w);
    }
  }

  std::vector<SlotStatus> slot_status(std::string_view worker_id) const {
    std::vector<SlotStatus> out;
    FlowWorker* worker = worker_by_id(worker_id);
    if (!worker) return out;
    for (auto& cell : worker->cells) {
      std::lock_guard lock(cell->mutex);
      for (std::size_t s = 0; s < cell->queues.size(); ++s) {
        const SlotSpec& spec = cell->routine.slots()[s];
        SlotStatus st{cell->routine.id(),    spec.name, cell->queues[s].size(),
                      spec.max_queue_length, 0.0,       ""};
        st.usage = static_cast<double>(st.queued) / static_cast<double>(st.max_queue_length);
        st.pressure = st.usage >= 1.0              ? "critical"
                      : st.usage >= spec.watermark ? "high"
                      : st.usage >= 0.6            ? "medium"
                                                   : "low";
        out.push_back(std::move(st));
      }
    }
    return out;
  }

 private:
  struct Task {
    RoutineCell* cell = nullptr;             // look at this routine
    std::unique_ptr<Activation> retry = {};  // or run this parked activation again
  };

  void push_ready(Task task) {
    epoch_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(ready_mutex_);
    ready_.push_back(std::move(task));
    ready_size_.store(ready_.size(), std::memory_order_relaxed);
  }

  void sample_cost(Clock::duration elapsed) {
    if ((samples_.fetch_add(1, std::memory_order_relaxed) & 15) != 0) return;
    const auto ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
    const auto old = cost_ns_.load(std::memory_order_relaxed);
    cost_ns_.store(old == 0 ? ns : (old * 7 + ns) / 8, std::memory_order_relaxed);
  }

  void add_timer(Clock::time_point due, Task task) {
    {
      std::lock_guard lock(timer_mutex_);
      timers_.emplace(due, std::move(task));
    }
    timer_cv_.notify_one();
  }

  void timer_main() {
    std::unique_lock lock(timer_mutex_);
    while (!timer_stop_) {
      if (timers_.empty()) {
        timer_cv_.wait(lock);
        continue;
      }
      const auto due = timers_.begin()->first;
      if (Clock::now() < due) {
        timer_cv_.wait_until(lock, due);
        continue;
      }
      Task task = std::move(timers_.begin()->second);
      timers_.erase(timers_.begin());
      lock.unlock();
      if (task.cell) {
        std::lock_guard cl(task.cell->mutex);
        task.cell->timer_armed = false;
        if (!task.cell->scheduled) {
          task.cell->scheduled = true;
          push_ready(std::move(task));
        }
      } else {
        push_ready(std::move(task));
      }
      scheduler_.notify_work();
      lock.lock();
    }
  }

  // Parked retries end now, their jobs cancelled; routine timers are simply dropped.
  void cancel_timers() {
    std::multimap<Clock::time_point, Task> pending;
    {
      std::lock_guard lock(timer_mutex_);
      pending.swap(timers_);
    }
    for (auto& [due, task] : pending) {
      if (!task.retry) continue;
      for (const auto& job : distinct_jobs(*task.retry)) JobAccess::cancel(*job);
      finish(std::move(task.retry));
    }
  }

  RuntimeOptions options_;
  FlowRegistry& registry_;
  detail::Scheduler scheduler_;

  mutable std::mutex ready_mutex_;
  std::deque<Task> ready_;
  std::atomic<std::size_t> ready_size_{0};
  std::atomic<std::size_t> alive_{0};        // activations prepared and not yet finished
  std::atomic<std::size_t> dispatching_{0};  // threads between taking a task and finishing it
  std::atomic<std::uint64_t> epoch_{0};      // advances with every task taken or queued
  std::atomic<std::uint64_t> cost_ns_{0};
  std::atomic<std::uint64_t> samples_{0};

  std::mutex timer_mutex_;
  std::condition_variable timer_cv_;
  std::multimap<Clock::time_point, Task> timers_;
  bool timer_stop_ = false;
  std::thread timer_thread_;

  mutable std::mutex workers_mutex_;
  std::vector<std::unique_ptr<FlowWorker>> workers_;
  std::map<std::string, FlowWorker*, std::less<>> by_id_;  // transparent: no key copies
  std::map<std::string, FlowWorker*, std::less<>> running_by_name_;
  std::uint64_t worker_counter_ = 0;

  std::mutex jobs_mutex_;
  std::condition_variable jobs_cv_;
  std::size_t active_jobs_ = 0;

  std::atomic<bool> closing_{false};
  std::atomic<bool> closed_{false};
  std::mutex shutdown_mutex_;
};

void Activation::emit(const EventSpec& event, Json payload) {
  cell_.worker.runtime.emit(*this, event, std::move(payload));
}

// --- Runtime ------------------------------------------------------------------------------------

namespace {
RuntimeOptions checked(RuntimeOptions options) {
  if (options.thread_pool_size == 0)
    throw std::invalid_argument("Runtime: thread_pool_size must be at least 1, got 0");
  return options;
}
}  // namespace

Runtime::Runtime(RuntimeOptions options)
    : impl_(std::make_unique<Impl>(checked(std::move(options)))) {}
Runtime::~Runtime() = default;

Result<std::string> Runtime::exec(std::string_view flow_name, const Json& restore) {
  FlowRegistry& registry =
      impl_->options().registry ? *impl_->options().registry : FlowRegistry::instance();
  auto flow = registry.get(flow_name);
  if (!flow)
    return error(ErrorKind::not_found, "exec: no flow '" + std::string(flow_name) +
                                           "' (registered: " + join_names(registry.names()) + ")");
  return impl_->exec(std::string(flow_name), std::move(*flow), restore);
}

Result<std::string> Runtime::exec(const Flow& flow, const Json& restore) {
  return impl_->exec(flow.flow_id(), flow, restore);
}

Result<Posted> Runtime::post(std::string_view flow_name, std::string_view routine,
                             std::string_view slot, Json data, PostOptions options) {
  return impl_->post(flow_name, routine, slot, std::move(data), std::move(options));
}

bool Runtime::wait_until_all_jobs_finished(std::chrono::milliseconds timeout) {
  return impl_->wait_for_jobs(timeout);
}

Result<void> Runtime::pause(std::string_view worker_id) {
  return impl_->set_paused(worker_id, true);
}
Result<void> Runtime::resume(std::string_view worker_id) {
  return impl_->set_paused(worker_id, false);
}

void Runtime::shutdown(bool wait, std::chrono::milliseconds timeout) {
  impl_->shutdown(wait, timeout);
}

FlowWorkerState* Runtime::worker_state(std::string_view worker_id) const {
  FlowWorker* worker = impl_->worker_by_id(worker_id);
  return worker ? &worker->state : nullptr;
}

std::vector<std::string> Runtime::worker_ids() const { return impl_->worker_ids(); }

std::vector<SlotStatus> Runtime::slot_status(std::string_view worker_id) const {
  return impl_->slot_status(worker_id);
}

std::size_t Runtime::thread_pool_size() const noexcept { return impl_->options().thread_pool_size; }

}  // namespace tendril
