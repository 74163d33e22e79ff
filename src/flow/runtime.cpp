// The flow runtime's lifecycle and public API: starting workers, pausing them, shutting down,
// and the scheduler's view of the runtime (runtime_impl.hpp has the map of the parts).
#include "tendril/flow/runtime.hpp"

#include <thread>

#include "flow_data.hpp"
#include "names.hpp"
#include "runtime_impl.hpp"
#include "unexpected.hpp"
#include "worker_control.hpp"

namespace tendril {

using detail::FlowWorker;
using Control = detail::FlowWorkerControl;

using detail::unexpected_error;

namespace {

RuntimeOptions checked(RuntimeOptions options) {
  if (options.thread_pool_size == 0 && !options.help_while_waiting)
    throw UsageError(
        "Runtime: thread_pool_size must be at least 1, got 0 (0 only with help_while_waiting: "
        "routines then run on the threads that wait)");
  if (options.idle_spin.count() < 0)
    throw UsageError("Runtime: idle_spin must not be negative, got " +
                     std::to_string(options.idle_spin.count()) + " us");
  return options;
}

// now + timeout, held below the clock's limit (a timeout of years means "no limit").
std::chrono::steady_clock::time_point deadline_after(std::chrono::milliseconds timeout) {
  constexpr auto kForever = std::chrono::hours(24 * 365 * 100);
  return std::chrono::steady_clock::now() +
         std::min<std::chrono::steady_clock::duration>(timeout, kForever);
}

}  // namespace

Runtime::Impl::Impl(RuntimeOptions options)
    : options_(std::move(options)),
      registry_(options_.registry ? *options_.registry : FlowRegistry::instance()),
      clock_(options_.clock ? *options_.clock : Clock::steady()),
      scheduler_(options_.thread_pool_size, {}, options_.idle_spin),
      timers_(clock_, [this](ReadyTask task) { fire_timer(std::move(task)); }) {
  scheduler_.set_source(this);
  scheduler_.start();
}

Runtime::Impl::~Impl() { shutdown(true, std::chrono::hours(24)); }

// --- what the scheduler's threads call ------------------------------------------------------

bool Runtime::Impl::try_run() {
  auto task = ready_.take();
  if (!task) return false;
  if (task->retry) {
    run(std::move(task->retry));
  } else if (auto activation = prepare(*task->cell)) {
    run(std::move(activation));
  }
  ready_.done_dispatching();
  return true;
}

bool Runtime::Impl::drained() const {
  return closed_.load() && ready_.empty() && alive_.load() == 0;
}

// A due timer: a routine whose policy wanted to look again, or a retry whose delay is over.
void Runtime::Impl::fire_timer(ReadyTask task) {
  if (task.cell) {
    std::lock_guard lock(task.cell->mutex);
    task.cell->timer_armed = false;
    if (!task.cell->scheduled) {
      task.cell->scheduled = true;
      ready_.push(std::move(task));
    }
  } else {
    ready_.push(std::move(task));
  }
  notify_work();
}

void Runtime::Impl::notify_work() {
  if (options_.thread_pool_size > 0) scheduler_.notify_work();
  if (options_.help_while_waiting) jobs_.work_arrived();
}

bool Runtime::Impl::helping_here() const {
  return options_.help_while_waiting && detail::Activation::current() == nullptr;
}

bool Runtime::Impl::wait_for_jobs(std::chrono::milliseconds timeout) {
  if (!helping_here()) return jobs_.wait(timeout);
  return await_jobs(deadline_after(timeout), true, false);
}

bool Runtime::Impl::await_jobs(std::chrono::steady_clock::time_point deadline, bool help,
                               bool end_when_quiet) {
  using std::chrono::steady_clock;
  constexpr auto kQuietLook = std::chrono::milliseconds(10);
  std::optional<std::uint64_t> quiet_since;  // the epoch when it last looked quiet
  const auto work_ready = [this, help] { return help && ready_.size() != 0; };
  for (;;) {
    // What is ready, routine after routine; the clock read once every 16.
    if (help)
      for (unsigned ran = 1; !jobs_.idle() && try_run(); ++ran)
        if (ran % 16 == 0 && steady_clock::now() >= deadline) return jobs_.idle();
    if (jobs_.idle()) return true;
    const auto now = steady_clock::now();
    if (now >= deadline) return false;
    auto until = deadline;
    if (end_when_quiet) {
      // Quiet twice, 10 ms apart, with nothing happening in between: the jobs left can never
      // finish.
      const auto epoch = quiet_epoch();
      if (epoch && quiet_since == epoch) return false;
      quiet_since = epoch;
      until = std::min(deadline, now + kQuietLook);
    }
    jobs_.nap(until, work_ready);
  }
}

// The epoch while nothing is ready, running or waiting on a timer; nullopt otherwise.
std::optional<std::uint64_t> Runtime::Impl::quiet_epoch() {
  const std::uint64_t epoch = ready_.epoch();
  if (alive_.load() != 0 || ready_.size() != 0 || ready_.dispatching() != 0 || !timers_.empty())
    return std::nullopt;
  return epoch;
}

// --- workers ----------------------------------------------------------------------------------

Result<std::string> Runtime::Impl::exec(std::string name, Flow flow, const Json& restore) {
  if (closing_.load())
    return unexpected_error(ErrorKind::stopped, "exec: the runtime is shut down");
  std::string problems;
  for (const auto& issue : flow.validate())
    if (issue.severity == ValidationIssue::Severity::error)
      problems += (problems.empty() ? "" : "; ") + issue.describe();
  if (!problems.empty())
    return unexpected_error(ErrorKind::invalid,
                            "exec: flow '" + flow.flow_id() + "' is not valid: " + problems);
  flow.data()->frozen.store(true);

  const std::string worker_id = workers_.next_id(flow.flow_id());
  FlowWorkerState state(flow.flow_id(), worker_id, options_.history_limit);
  if (!restore.is_null()) {
    if (auto loaded = state.load(restore); !loaded)
      return unexpected_error(ErrorKind::invalid,
                              "exec: cannot restore the worker state: " + loaded.error().message);
  }
  auto worker = std::make_unique<FlowWorker>(*this, std::move(name), flow, std::move(state));
  Control::set_status(worker->state, WorkerStatus::idle);
  if (options_.hooks.on_worker_start) options_.hooks.on_worker_start(worker->state);
  workers_.add(std::move(worker));
  return worker_id;
}

Result<void> Runtime::Impl::set_paused(std::string_view worker_id, bool paused) {
  FlowWorker* worker = workers_.by_id(worker_id);
  if (!worker)
    return unexpected_error(ErrorKind::not_found, "no worker '" + std::string(worker_id) + "'");
  if (worker->stopped.load())
    return unexpected_error(ErrorKind::stopped,
                            "worker '" + std::string(worker_id) + "' has stopped");
  worker->paused.store(paused);
  {
    std::lock_guard lock(worker->mutex);
    Control::set_status(worker->state, paused                              ? WorkerStatus::paused
                                       : worker->jobs_in_flight.load() > 0 ? WorkerStatus::running
                                                                           : WorkerStatus::idle);
  }
  if (!paused) {
    for (auto& cell : worker->cells) {
      std::lock_guard lock(cell->mutex);
      if (!cell->scheduled && cell->any_queued()) make_ready(*cell);
    }
    notify_work();
  }
  return {};
}

// Stop admitting, drain (or give up on what can never finish), then stop the threads.
void Runtime::Impl::shutdown(bool wait, std::chrono::milliseconds timeout) {
  if (closing_.exchange(true)) {
    std::lock_guard lock(shutdown_mutex_);  // a second caller waits for the first
    return;
  }
  std::lock_guard lock(shutdown_mutex_);
  const bool drained = wait && await_jobs(deadline_after(timeout), helping_here(), true);
  const std::vector<FlowWorker*> workers = workers_.all();
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
  timers_.stop();
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

std::vector<SlotStatus> Runtime::Impl::slot_status(std::string_view worker_id) const {
  std::vector<SlotStatus> out;
  FlowWorker* worker = workers_.by_id(worker_id);
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

// --- Runtime ------------------------------------------------------------------------------------

Runtime::Runtime(RuntimeOptions options)
    : impl_(std::make_unique<Impl>(checked(std::move(options)))) {}
Runtime::~Runtime() = default;

Result<std::string> Runtime::exec(std::string_view flow_name, const Json& restore) {
  FlowRegistry& registry = impl_->registry();
  auto flow = registry.get(flow_name);
  if (!flow)
    return unexpected_error(ErrorKind::not_found,
                            "exec: no flow '" + std::string(flow_name) +
                                "' (registered: " + detail::join_names(registry.names()) + ")");
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
  FlowWorker* worker = impl_->workers().by_id(worker_id);
  return worker ? &worker->state : nullptr;
}

std::vector<std::string> Runtime::worker_ids() const { return impl_->workers().ids(); }

std::vector<SlotStatus> Runtime::slot_status(std::string_view worker_id) const {
  return impl_->slot_status(worker_id);
}

std::size_t Runtime::thread_pool_size() const noexcept { return impl_->options().thread_pool_size; }
std::uint64_t Runtime::pool_sleeps() const noexcept { return impl_->pool_sleeps(); }

}  // namespace tendril
