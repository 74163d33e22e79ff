// Activations: a routine's policy decides under its cell's lock, its logic runs on a pool
// thread, and its end frees its place and lets its jobs go.
#include <algorithm>

#include "job_access.hpp"
#include "runtime_impl.hpp"
#include "worker_control.hpp"

namespace tendril {

using detail::FlowWorker;
using detail::JobAccess;
using Control = detail::FlowWorkerControl;

namespace {

thread_local detail::Activation* current_activation = nullptr;

// The wall-clock time of a steady-clock reading, through an offset between the two clocks that
// each thread reads again once a millisecond: a trace's timestamps without a wall-clock read
// per activation (tens of nanoseconds on a virtual machine). A step of the wall clock shows
// within a millisecond.
std::chrono::system_clock::time_point wall_time_of(std::chrono::steady_clock::time_point t) {
  using std::chrono::system_clock;
  constexpr auto kResync = std::chrono::milliseconds(1);
  thread_local std::chrono::steady_clock::time_point synced{};
  thread_local system_clock::duration offset{};  // wall minus steady, at `synced`
  const auto since_epoch = std::chrono::duration_cast<system_clock::duration>(t.time_since_epoch());
  if (t - synced > kResync || t < synced) {
    offset = system_clock::now().time_since_epoch() - since_epoch;
    synced = t;
  }
  return system_clock::time_point(since_epoch + offset);
}

// Sets the thread's current activation and job for the duration of a logic call.
class ActivationScope {
 public:
  explicit ActivationScope(detail::Activation& a)
      : previous_(current_activation), previous_job_(detail::current_job_slot()) {
    current_activation = &a;
    detail::current_job_slot() = &a.job();
  }
  ~ActivationScope() {
    current_activation = previous_;
    detail::current_job_slot() = previous_job_;
  }
  ActivationScope(const ActivationScope&) = delete;
  ActivationScope& operator=(const ActivationScope&) = delete;

 private:
  detail::Activation* previous_;
  JobContext* previous_job_;
};

}  // namespace

namespace detail {

namespace {
constexpr std::size_t kSpareActivations = 4;  // per thread: one per routine of a short chain
thread_local std::vector<std::unique_ptr<Activation>> spare_activations;
}  // namespace

std::unique_ptr<Activation> Activation::make(RoutineCell& cell) {
  if (spare_activations.empty()) return std::unique_ptr<Activation>(new Activation(cell));
  auto a = std::move(spare_activations.back());
  spare_activations.pop_back();
  a->cell_ = &cell;
  return a;
}

void Activation::recycle(std::unique_ptr<Activation> a) noexcept {
  a->data_.clear_items();
  a->as_delivered_.clear_items();
  a->item_jobs_.clear();
  a->message_.reset();
  a->job_.reset();
  a->attempt = 1;
  a->hops = 0;
  if (spare_activations.size() < kSpareActivations) spare_activations.push_back(std::move(a));
}

Activation* Activation::current() noexcept { return current_activation; }
const Routine* Activation::routine() const noexcept { return &cell_->routine; }
void Activation::emit(const EventSpec& event, Json payload) {
  cell_->worker.host.emit(*this, event, std::move(payload));
}

}  // namespace detail

std::unique_ptr<detail::Activation> Runtime::Impl::prepare(RoutineCell& cell) {
  std::lock_guard lock(cell.mutex);
  cell.scheduled = false;
  FlowWorker& worker = cell.worker;
  if (worker.paused.load() || worker.stopped.load()) return nullptr;
  if (cell.running >= cell.routine.concurrency()) return nullptr;  // finish() looks again
  // Only time_interval looks at the time (a clock read costs tens of ns on a virtual machine).
  const ActivationPolicy& policy = cell.routine.activation_policy();
  const bool timed = policy.kind() == ActivationPolicy::Kind::time_interval;
  const auto now = timed ? clock_.now() : Clock::time_point{};
  thread_local ActivationPolicy::Decision decision;  // its take buffer kept between calls
  policy.decide(cell, now, cell.last_run, decision);
  if (decision.verdict == ActivationPolicy::Decision::wait) return nullptr;
  if (decision.verdict == ActivationPolicy::Decision::run_later) {
    if (!cell.timer_armed) {
      cell.timer_armed = true;
      timers_.add(decision.due, ReadyTask{&cell, nullptr});
    }
    return nullptr;
  }
  auto activation = Activation::make(cell);
  SlotData& data = activation->data();
  auto& item_jobs = activation->item_jobs();
  data.resize(cell.queues.size());
  std::uint32_t hops = 0;
  for (std::size_t s = 0; s < cell.queues.size(); ++s) {
    auto& queue = cell.queues[s];
    const std::size_t n = std::min(decision.take[s], queue.size());
    auto& items = data.slot(s, cell.routine.slots()[s].name);
    items.reserve(n);
    for (std::size_t k = 0; k < n; ++k) {
      hops = std::max(hops, queue.front().hops);
      items.push_back(std::move(queue.front().payload));
      item_jobs.push_back(std::move(queue.front().job));
      queue.pop_front();
    }
  }
  if (item_jobs.empty()) {  // a custom policy said yes to empty slots: no job
    Activation::recycle(std::move(activation));
    return nullptr;
  }
  ++cell.running;
  if (timed) cell.last_run = now;
  alive_.fetch_add(1);
  auto job = item_jobs.front();  // the oldest item's job, in slot order
  JobAccess::add_work(*job);     // the activation itself
  if (cell.running < cell.routine.concurrency() && cell.any_queued())
    make_ready(cell);  // another activation may start beside this one
  activation->begin(std::move(decision.message), std::move(job));
  activation->hops = hops;
  return activation;
}

void Runtime::Impl::run(std::unique_ptr<Activation> a) {
  RoutineCell& cell = a->cell();
  FlowWorker& worker = cell.worker;
  const std::string& id = cell.routine.id();
  if (a->attempt == 1)
    for (const auto& job : a->item_jobs())
      if (JobAccess::start(*job) && options_.hooks.on_job_start) options_.hooks.on_job_start(*job);
  if (options_.hooks.on_routine_start) options_.hooks.on_routine_start(id, a->job());
  // The steady clock is read only when something keeps the time: the trace, the history, or
  // one call in 16 for the scheduler's cost estimate; the wall times come from it.
  thread_local unsigned calls = 0;
  const bool sampled = (++calls & 15) == 0;
  const bool timed = options_.trace_routines || options_.record_completions || sampled;
  const auto started =
      timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  const auto wall_start = options_.trace_routines || options_.record_completions
                              ? wall_time_of(started)
                              : std::chrono::system_clock::time_point{};
  if (options_.trace_routines)
    JobAccess::trace(a->job(), id, "start", a->attempt == 1 ? nullptr : "attempt", a->attempt,
                     wall_start);

  if (a->attempt == 1 && cell.error_handler.strategy == ErrorStrategy::RETRY &&
      cell.error_handler.max_retries > 0)
    a->keep_as_delivered();  // logic may move items out; a retry gets them as delivered

  std::optional<Error> failure;
  {
    ActivationScope scope(*a);
    detail::Scheduler::enter_handler();
    try {
      cell.routine.logic()(a->data(), a->message(), worker.state);
    } catch (...) {
      failure = detail::error_from(std::current_exception());
      failure->routine = id;
      failure->attempts = a->attempt;
    }
    detail::Scheduler::leave_handler();
  }
  const auto elapsed =
      timed ? std::chrono::steady_clock::now() - started : std::chrono::steady_clock::duration{};
  if (sampled) sample_cost(elapsed);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  const auto wall_end =
      wall_start + std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed);
  if (options_.hooks.on_routine_end)
    options_.hooks.on_routine_end(id, a->job(), failure ? &*failure : nullptr);
  if (failure) return handle_failure(std::move(a), *failure);
  if (options_.trace_routines)
    JobAccess::trace(a->job(), id, "end", "duration_us", micros, wall_end);
  if (options_.record_completions)
    Control::record_completion(worker.state, id, a->job().job_id(), micros, wall_end);
  finish(std::move(a));
}

void Runtime::Impl::finish(std::unique_ptr<Activation> a) {
  RoutineCell& cell = a->cell();
  {
    std::lock_guard lock(cell.mutex);
    --cell.running;
    if (!cell.scheduled && cell.any_queued() && !cell.worker.paused.load()) make_ready(cell);
  }
  for (const auto& job : a->item_jobs()) release(cell.worker, job);
  release(cell.worker, a->job_ptr());
  Activation::recycle(std::move(a));
  alive_.fetch_sub(1);
  if (closed_.load()) scheduler_.notify_work();  // a draining scheduler may now end
}

// One piece of a job's work is done; when it was the last, the job ends here.
void Runtime::Impl::release(FlowWorker& worker, const std::shared_ptr<JobContext>& job) {
  const auto end = JobAccess::finish_work(*job);
  if (end == JobAccess::End::none) return;
  if (end != JobAccess::End::cancelled)
    Control::count_job(worker.state, end == JobAccess::End::failed);
  if (options_.hooks.on_job_end) options_.hooks.on_job_end(*job);
  jobs_.worker_done(worker);
  JobAccess::announce(*job);
  jobs_.done();
}

void Runtime::Impl::sample_cost(Clock::duration elapsed) {
  const auto ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
  const auto old = cost_ns_.load(std::memory_order_relaxed);
  cost_ns_.store(old == 0 ? ns : (old * 7 + ns) / 8, std::memory_order_relaxed);
}

}  // namespace tendril
