// tendril/pipeline/detail/stage_worker.hpp — what plain and coroutine stages share.
//
// A worker (its WorkerState, its own copy of the handler, its counters), the call of a plain
// handler (an exception becomes an Error there, through the one mapping, error_from), and the
// stage core: its options, retry policy and error policy, and its metrics. A worker's counters
// are touched only by whoever holds the worker (its seat, or its coroutine) and read after the
// run; the core is read-only while the run goes, apart from what settle() hands to the context.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tendril/core/error.hpp"
#include "tendril/core/retry.hpp"
#include "tendril/core/scheduler.hpp"
#include "tendril/core/worker_state.hpp"
#include "tendril/pipeline/detail/channel.hpp"
#include "tendril/pipeline/detail/latency.hpp"
#include "tendril/pipeline/detail/run_context.hpp"
#include "tendril/pipeline/detail/stage_spec.hpp"

namespace tendril::detail {

struct WorkerCounters {
  std::uint64_t processed = 0;
  std::uint64_t failed = 0;
  std::uint64_t retried = 0;
  std::chrono::nanoseconds busy{0};
};

// A multi_proc worker's count of its worker processes, kept in its WorkerState by the process
// proxy (<tendril/pipeline/process.hpp>) and summed into the stage's metrics.
struct ProcessCounters {
  std::uint64_t started = 0;   // worker processes started
  std::uint64_t crashes = 0;   // ...that died by themselves on an item (a signal, an exit)
  std::uint64_t restarts = 0;  // ...started to replace one that ended (crashed, timed out)
};
inline constexpr std::string_view kProcessCountersKey = "tendril.process.counters";

template <class Handler>
struct StageWorker {
  StageWorker(WorkerState s, Handler h, bool errors)
      : state(std::move(s)), handler(std::move(h)), accepts_errors(errors) {}
  WorkerState state;
  Handler handler;  // each worker owns a copy of the callable
  bool accepts_errors;
  WorkerCounters counters;
};

// What one worker made of one item: a value or an error, and whether the error arose here (an
// upstream error passed through does not count as this stage's failure).
template <class In, class Out>
struct StageOutcome {
  Carried<Out> value;
  bool failed_here = false;
  std::optional<In> item = {};  // kept for the dead letter
};

// One call of a plain handler (an ErasedHandler or a DirectHandler); whatever it throws comes
// back as an Error.
template <class Handler, class In>
auto call_handler(Handler& handler, Carried<In>&& input, WorkerState& state) noexcept
    -> decltype(handler(std::move(input), state)) {
  try {
    return handler(std::move(input), state);
  } catch (...) {
    return carried_error(error_from(std::current_exception()));
  }
}

// The stage's decisions about outcomes, the same for every kind of node.
template <class In, class Out>
class StageCore {
 public:
  StageCore(const PoolOptions<In, Out>& options, std::string name, Inlet<Out>& downstream,
            RunContext& context)
      : options(options),
        name(std::move(name)),
        retry{.attempts = options.retries},
        downstream(downstream),
        context(context) {}

  // Whether attempt number `attempt`, failed with `error`, is tried again (never once the run
  // is stopping).
  bool retries_after(int attempt, const Error& error) const noexcept {
    return retry.retries_after(attempt, error) && !context.stopped();
  }

  // The error of an item that failed here, after `attempts` attempts.
  Error failed(Error&& error, int attempts) const {
    error.stage = name;
    error.attempts = attempts;
    return std::move(error);
  }

  // An item failed every attempt and was counted: hands it to the dead letter (when there is one
  // and the item was kept) and applies the error policy. True when the error is to travel
  // downstream as a value.
  bool settle(const Error& error, const In* item) const {
    if (options.dead_letter && item) {
      try {
        options.dead_letter(*item, error);
      } catch (...) {  // a failing dead-letter sink must not take the stage down
      }
    }
    if (error.kind == ErrorKind::kill_switch || options.on_error == OnError::fail_fast) {
      context.fail(error);
      return false;
    }
    return options.on_error == OnError::pass;
  }

  // The stage's metrics: its workers' counters summed.
  template <class Worker>
  StageMetrics metrics(const std::vector<std::unique_ptr<Worker>>& workers,
                       std::size_t queue_high_water) const {
    StageMetrics m{.name = name,
                   .workers = workers.size(),
                   .queue_capacity = options.buffer,
                   .queue_high_water = queue_high_water};
    latency.fill(m);
    for (const auto& w : workers) {
      m.processed += w->counters.processed;
      m.failed += w->counters.failed;
      m.retried += w->counters.retried;
      m.busy += w->counters.busy;
      if (const auto* processes = w->state.template get<ProcessCounters>(kProcessCountersKey)) {
        m.worker_crashes += processes->crashes;
        m.worker_restarts += processes->restarts;
      }
    }
    return m;
  }

  const PoolOptions<In, Out>& options;
  const std::string name;
  const RetryPolicy retry;
  Inlet<Out>& downstream;
  RunContext& context;
  mutable LatencyHistogram latency;  // the timed handler calls, from every worker
};

}  // namespace tendril::detail
