// Delivery: a post or an emit puts items into routines' slots, and a full slot is backpressure.
#include <charconv>
#include <iterator>
#include <optional>
#include <thread>

#include "job_access.hpp"
#include "names.hpp"
#include "runtime_impl.hpp"
#include "unexpected.hpp"

namespace tendril {

using detail::FlowWorker;
using detail::JobAccess;

using detail::unexpected_error;

namespace {

// How long an emit waits on a full slot (a cycle feeding itself, a stuck consumer) before it is
// the emitting routine's error, and how deep a waiting thread may nest running other routines.
constexpr auto kEmitPatience = std::chrono::milliseconds(30'000);
constexpr int kHelpDepth = 4;
thread_local int help_depth = 0;

// "30 s", "250 ms".
std::string describe_wait(std::chrono::milliseconds wait) {
  const auto ms = wait.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// "<worker id>-job-<n>", built in one allocation.
std::string next_job_id(FlowWorker& worker) {
  constexpr std::string_view kInfix = "-job-";
  char digits[20];
  const auto n = std::to_chars(digits, std::end(digits), ++worker.next_job).ptr - digits;
  const std::string& worker_id = worker.state.worker_id();
  std::string id;
  id.reserve(worker_id.size() + kInfix.size() + n);
  id.append(worker_id).append(kInfix).append(digits, n);
  return id;
}

}  // namespace

Result<Posted> Runtime::Impl::post(std::string_view flow_name, std::string_view routine,
                                   std::string_view slot, Json data, PostOptions options) {
  if (closing_.load())
    return unexpected_error(ErrorKind::stopped, "post: the runtime is shut down");
  if (data.is_null()) data = Json::object();  // post(..., {}) means an empty object
  if (!data.is_object())
    return unexpected_error(
        ErrorKind::invalid,
        std::string("post: the data must be a JSON object, not ") + data.type_name());
  auto found = workers_.find(flow_name, options.worker_id, registry_);
  if (!found) return std::unexpected(found.error());
  FlowWorker& worker = **found;
  auto cell_it = worker.by_routine.find(routine);
  if (cell_it == worker.by_routine.end())
    return unexpected_error(
        ErrorKind::not_found,
        "post: flow '" + worker.name + "' has no routine '" + std::string(routine) +
            "' (routines: " + detail::join_names(worker.flow.routine_ids()) + ")");
  RoutineCell& cell = *cell_it->second;
  const SlotSpec* slot_spec = cell.routine.find_slot(slot);
  if (!slot_spec)
    return unexpected_error(ErrorKind::not_found,
                            "post: routine '" + std::string(routine) + "' has no slot '" +
                                std::string(slot) +
                                "' (slots: " + detail::join_names_of(cell.routine.slots()) + ")");
  std::string job_id = std::move(options.job_id);
  if (job_id.empty()) job_id = next_job_id(worker);
  auto job = std::make_shared<JobContext>(std::move(job_id), worker.flow.flow_id(),
                                          worker.state.worker_id(), std::move(options.metadata));
  jobs_.begun(worker);
  const std::size_t slot_index = slot_spec - cell.routine.slots().data();
  auto delivered = options.wait_for_room.count() > 0
                       ? deliver_waiting(cell, slot_index, data, job, 0, options.wait_for_room,
                                         options_.help_while_waiting)
                       : deliver(cell, slot_index, data, job, 0);
  if (!delivered) {
    jobs_.worker_done(worker);
    jobs_.done();
    return std::unexpected(delivered.error());
  }
  if (*delivered) notify_work();  // else the routine is queued or running already
  return Posted{worker.state.worker_id(), std::move(job)};
}

bool Runtime::Impl::run_here(RoutineCell& cell) {
  auto activation = prepare(cell);
  if (!activation) return false;
  run(std::move(activation));
  return true;
}

void Runtime::Impl::make_ready(RoutineCell& cell) {
  cell.scheduled = true;
  ready_.push(ReadyTask{&cell, nullptr});
}

Result<bool> Runtime::Impl::deliver(RoutineCell& cell, std::size_t slot, Json& payload,
                                    const std::shared_ptr<JobContext>& job, std::uint32_t hops) {
  FlowWorker& worker = cell.worker;
  const SlotSpec& spec = cell.routine.slots()[slot];
  if (worker.stopped.load())
    return unexpected_error(ErrorKind::stopped, "worker '" + worker.state.worker_id() +
                                                    "' has stopped: " + stop_reason(worker));
  if (options_.hooks.before_enqueue &&
      !options_.hooks.before_enqueue(cell.routine.id(), spec.name, payload, *job))
    return unexpected_error(ErrorKind::invalid, "slot '" + spec.name + "' of routine '" +
                                                    cell.routine.id() +
                                                    "': the before_enqueue hook refused the item");
  std::lock_guard lock(cell.mutex);
  auto& queue = cell.queues[slot];
  if (queue.size() >= spec.max_queue_length)
    return unexpected_error(ErrorKind::queue_full,
                            "slot '" + spec.name + "' of routine '" + cell.routine.id() +
                                "' is full (" + std::to_string(spec.max_queue_length) + " items)");
  JobAccess::add_work(*job);
  queue.push_back({std::move(payload), job, hops});
  if (cell.scheduled || worker.paused.load()) return false;
  make_ready(cell);
  return true;
}

void Runtime::Impl::emit(Activation& a, const EventSpec& event, Json payload) {
  RoutineCell& cell = a.cell();
  if (options_.hooks.on_emit)
    options_.hooks.on_emit(cell.routine.id(), event.name, payload, a.job());
  auto it = cell.outputs.find(event.name);
  if (it == cell.outputs.end()) return;  // connected to nothing
  if (a.hops >= options_.max_hops) {     // a cycle circling: end it here, and say so
    const std::string reason = "emit('" + event.name + "') from routine '" + cell.routine.id() +
                               "': the item passed " + std::to_string(options_.max_hops) +
                               " routines (the hop limit; is the flow a cycle?)";
    a.job().trace(cell.routine.id(), "hop_limit", {{"event", event.name}});
    JobAccess::fail(
        a.job(),
        Error{.kind = ErrorKind::invalid, .message = reason, .routine = cell.routine.id()});
    return;
  }
  const auto& targets = it->second;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    // The last target takes the payload itself; the others a copy. (One conditional
    // expression would copy both ways: an lvalue and an xvalue meet as a prvalue.)
    Json copy;
    if (i + 1 < targets.size()) copy = payload;
    Json& item = i + 1 < targets.size() ? copy : payload;
    auto delivered = deliver_waiting(*targets[i].cell, targets[i].slot, item, a.job_ptr(),
                                     a.hops + 1, kEmitPatience, true);
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

Result<bool> Runtime::Impl::deliver_waiting(RoutineCell& target, std::size_t slot, Json& payload,
                                            const std::shared_ptr<JobContext>& job,
                                            std::uint32_t hops, std::chrono::milliseconds patience,
                                            bool help) {
  std::optional<std::chrono::steady_clock::time_point> since;
  for (unsigned idle = 0;;) {
    auto delivered = deliver(target, slot, payload, job, hops);
    if (delivered || delivered.error().kind != ErrorKind::queue_full) return delivered;
    const auto now = std::chrono::steady_clock::now();
    if (!since) since = now;
    if (now - *since > patience || closed_.load())
      return unexpected_error(ErrorKind::queue_full,
                              delivered.error().message + " for " + describe_wait(patience));
    // Help only the routine that drains the full slot. Running any other ready routine here
    // could start work that emits into a slot that only this thread's own suspended activation
    // would drain: both wait out the patience, and an error strategy then re-runs work that
    // had already succeeded.
    bool helped = false;
    if (help && help_depth < kHelpDepth) {
      ++help_depth;
      helped = run_here(target);
      --help_depth;
    }
    // The drainer is busy on another thread, or its policy waits: its slot frees within
    // microseconds as a rule, so yield first and back off to 200 µs sleeps only if it does not.
    if (helped) {
      idle = 0;
    } else if (++idle < 64) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(
          std::chrono::microseconds(std::min(200u, 10u << std::min(idle - 64, 5u))));
    }
  }
}

}  // namespace tendril
