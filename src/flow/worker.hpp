// src/flow/worker.hpp — a running flow: its FlowWorkerState and one cell per routine. Internal.
//
// A cell holds a routine's slot queues for one worker and decides, under its lock, when the
// routine runs (its activation policy) and what it takes. Cells live as long as the Runtime.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "activation.hpp"
#include "tendril/flow/flow.hpp"
#include "tendril/flow/worker_state.hpp"

namespace tendril::detail {

struct FlowWorker;
class Activation;

// What a running routine may ask of the runtime that runs it: the narrow way from a worker
// back to its engine.
class ActivationHost {
 public:
  // Delivers `payload` to every slot connected to `event` of the activation's routine.
  virtual void emit(Activation& from, const EventSpec& event, Json payload) = 0;

 protected:
  ~ActivationHost() = default;
};

struct QueuedItem {
  Json payload;
  std::shared_ptr<JobContext> job;
  std::uint32_t hops = 0;  // routines it passed through since its post
};

struct Target {
  RoutineCell* cell;
  std::size_t slot;
};

struct RoutineCell final : SlotsView {
  using Clock = std::chrono::steady_clock;
  RoutineCell(FlowWorker& w, Routine& r, const ErrorHandler& handler)
      : worker(w), routine(r), error_handler(handler), queues(r.slots().size()) {}

  FlowWorker& worker;
  Routine& routine;
  const ErrorHandler error_handler;  // the routine's, else the flow's, else STOP
  std::unordered_map<std::string, std::vector<Target>> outputs;  // event -> slots; fixed

  std::mutex mutex;
  std::vector<std::deque<QueuedItem>> queues;  // guarded by mutex, like the rest
  std::size_t running = 0;                     // activations under way, a parked retry included
  bool scheduled = false;                      // in the runtime's ready queue
  bool timer_armed = false;                    // a time_interval timer will look again
  std::optional<Clock::time_point> last_run;

  std::size_t slot_count() const override { return queues.size(); }
  const std::string& slot_name(std::size_t i) const override { return routine.slots()[i].name; }
  std::size_t queued(std::size_t i) const override { return queues[i].size(); }
  const Json& peek(std::size_t i, std::size_t position) const override {
    return queues[i].at(position).payload;
  }
  using SlotsView::queued;
};

struct FlowWorker {
  // Makes a cell per routine of `flow` and wires every connection to its target slot.
  FlowWorker(ActivationHost& host, std::string name, Flow flow, FlowWorkerState state);

  ActivationHost& host;
  const std::string name;  // the flow's name in the registry (what post() names)
  const Flow flow;
  FlowWorkerState state;
  std::vector<std::unique_ptr<RoutineCell>> cells;
  std::map<std::string, RoutineCell*, std::less<>> by_routine;
  std::atomic<bool> stopped{false};
  std::atomic<bool> paused{false};
  std::atomic<std::uint64_t> next_job{0};
  // Jobs under way; a change to or from 0 sets the status under `mutex` (JobLedger).
  std::atomic<std::int64_t> jobs_in_flight{0};

  std::mutex mutex;  // guards the members below
  std::string stop_reason;
  bool ended = false;  // on_worker_end ran
};

}  // namespace tendril::detail
