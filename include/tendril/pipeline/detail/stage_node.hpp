// tendril/pipeline/detail/stage_node.hpp — one plain stage of a running pipeline: lanes, workers.
//
// A lane is a bounded queue with worker seat. Pool mode (`Fork` false): one lane of `buffer`
// items whose `num_workers` seats any thread may take. Fork mode (fork_merge): one lane per
// worker; fork_join.hpp numbers each item, copies it into every lane and merges its branches.
// The mode is chosen when the pipeline is built (the node's type), so the hot path checks one
// flag: one attempt, nothing kept, nothing ordered. Ordered mode passes items on in the order
// they took a seat, through a bounded reorder window.
//
// accept() runs an arriving item at once on the calling thread when a seat is free and nothing
// is queued before it; otherwise it queues the item, or, when the lane is full and every seat
// busy, waits (backpressure). At most buffer × lanes + workers + reorder window items are inside
// a stage at any time.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "tendril/core/clock.hpp"
#include "tendril/core/scheduler.hpp"
#include "tendril/core/worker_state.hpp"
#include "tendril/pipeline/detail/channel.hpp"
#include "tendril/pipeline/detail/fork_join.hpp"
#include "tendril/pipeline/detail/lane.hpp"
#include "tendril/pipeline/detail/reorderer.hpp"
#include "tendril/pipeline/detail/run_context.hpp"
#include "tendril/pipeline/detail/stage_spec.hpp"
#include "tendril/pipeline/detail/stage_worker.hpp"

namespace tendril::detail {

template <class In, class Out, bool Fork, class Handler = ErasedHandler<In, Out>>
class StageNode final : public Inlet<In>, public NodeBase, public Runner {
 public:
  // Worker i runs a copy of handlers[i % size], which takes upstream errors when
  // accepts_errors[i % size].
  StageNode(std::shared_ptr<const StageSpec<In, Out>> spec, const std::vector<Handler>& handlers,
            const std::vector<bool>& accepts_errors, std::string name, Inlet<Out>& downstream,
            RunContext& context)
      : spec_(std::move(spec)),
        core_(spec_->options, std::move(name), downstream, context),
        ordered_(core_.options.ordered && (Fork || core_.options.num_workers > 1)),
        simple_(!Fork && !ordered_ && core_.retry.attempts == 1 && !core_.options.dead_letter),
        discards_(downstream.discards()),
        fork_join_(core_.options, core_.name),
        reorderer_(2 * core_.options.num_workers + core_.options.buffer),
        long_call_(std::max(kShortCall, kClockShare * steady_clock_read_cost())) {
    const auto& options = core_.options;
    if constexpr (Fork) {
      for (std::size_t i = 0; i < options.num_workers; ++i)
        lanes_.push_back(std::make_unique<Lane<In>>(options.buffer, 1));
    } else {
      lanes_.push_back(std::make_unique<Lane<In>>(options.buffer, options.num_workers));
    }
    for (std::size_t i = 0; i < options.num_workers; ++i) {
      const std::size_t h = i % handlers.size();
      workers_.push_back(std::make_unique<Worker>(WorkerState(core_.name, i, context.stop_token()),
                                                  handlers[h], accepts_errors[h]));
    }
    context.on_abort([this] {
      for (auto& lane : lanes_) lane->abort();
      reorderer_.abort();
    });
  }

  // NodeBase
  std::size_t workers() const override { return workers_.size(); }
  Runner& runner() override { return *this; }
  void bind(Scheduler& scheduler) override {
    scheduler_ = &scheduler;
    for (auto& lane : lanes_) lane->bind(scheduler);
  }
  StageMetrics metrics() const override {
    std::size_t high_water = 0;
    for (const auto& lane : lanes_) high_water = std::max(high_water, lane->high_water());
    return core_.metrics(workers_, high_water);
  }

  // Inlet: an item arrives from upstream.
  void accept(Envelope<In>&& item, Lease& upstream) override {
    if constexpr (Fork) {
      if (fork_join_.dispatch(std::move(item), lanes_)) upstream.release();
    } else {
      // The common case costs no stack frame here: the seat is taken inline and run() lets the
      // upstream seat go; everything else is out of line.
      std::uint32_t seat;
      if (!ordered_ && lanes_.front()->try_seat_inline(seat)) [[likely]]
        return run(seat, std::move(item), &upstream);
      accept_queued(std::move(item), upstream);
    }
  }

  bool can_accept() const override {
    if constexpr (!Fork) {
      const Lane<In>& lane = *lanes_.front();
      return lane.has_room() || lane.has_free_seat();
    } else {  // an item is copied into every lane: each must have room
      for (const auto& lane : lanes_)
        if (!lane->has_room()) return false;
      return true;
    }
  }

  bool has_free_worker() const override {
    for (const auto& lane : lanes_)
      if (!lane->has_free_seat()) return false;
    return true;
  }

  // Runner: a thread looking for work.
  bool try_run() override {
    for (std::size_t i = 0; i < lanes_.size(); ++i) {
      std::uint32_t seat;
      Envelope<In> item;
      if (!lanes_[i]->take(seat, item, ordered_ && !Fork)) continue;
      run(Fork ? static_cast<std::uint32_t>(i) : seat, std::move(item), nullptr);
      return true;
    }
    return false;
  }
  bool runnable() const override {
    for (const auto& lane : lanes_)
      if (lane->runnable()) return true;
    return false;
  }
  bool drained() const override {
    for (const auto& lane : lanes_)
      if (!lane->empty()) return false;
    return true;
  }
  std::uint64_t cost_ns() const override { return cost_ns_.load(std::memory_order_relaxed); }

 private:
  using Clock = std::chrono::steady_clock;
  using Outcome = StageOutcome<In, Out>;

  // Handler time is measured on every call while calls are long, and on one call in
  // kSampleEvery while they are short: under 2 µs, or under kClockShare clock reads, where the
  // clock would cost a noticeable share of the call (under an instrumenter such as valgrind a
  // read takes microseconds, and timing every call would measure the clock, not the stage).
  struct Worker : StageWorker<Handler> {
    using StageWorker<Handler>::StageWorker;
    std::uint32_t sample_every = 1;
    std::uint32_t until_sample = 1;
  };
  static constexpr std::uint32_t kSampleEvery = 256;  // a clock read costs 25-55 ns on a VM
  static constexpr std::chrono::nanoseconds kShortCall{2000};
  static constexpr int kClockShare = 64;

  // Runs worker `index` on `item` and passes the outcome on; the worker's seat is held, and
  // `upstream`, when given, is let go first (the item is inside this stage now). The common case
  // (one attempt, nothing to keep or order, a value that succeeds) is kept small enough to inline;
  // everything else is out of line, off the hot path's registers.
  void run(std::uint32_t index, Envelope<In>&& item, Lease* upstream) {
    if (upstream) upstream->release();
    Worker& worker = *workers_[index];
    if (simple_ && item.value) [[likely]] {
      if (--worker.until_sample == 0) [[unlikely]]
        return run_timed(worker, index, std::move(item));
      Lease lease = seat_of(index);
      Scheduler::enter_handler();
      Envelope<Out> out{call_handler(worker.handler, std::move(item.value), worker.state)};
      Scheduler::leave_handler();
      return pass_on_once(worker, lease, item.seq, std::move(out));
    }
    run_general(worker, index, std::move(item));
  }

  // The simple case's outcome: a value goes downstream, an error to its policy.
  void pass_on_once(Worker& worker, Lease& lease, std::uint64_t seq, Envelope<Out>&& out) {
    if (out.value) [[likely]] {
      ++worker.counters.processed;
      if (discards_) return;  // the lease lets the seat go
      return core_.downstream.accept(std::move(out), lease);
    }
    fail_once(worker, lease, seq, std::move(out.value));
  }

  // The simple case with the call timed.
  [[gnu::noinline]] void run_timed(Worker& worker, std::uint32_t index, Envelope<In>&& item) {
    Lease lease = seat_of(index);
    Envelope<Out> out{invoke_timed(worker, std::move(item.value))};
    pass_on_once(worker, lease, item.seq, std::move(out));
  }

  // The held seat of worker `index`: its own lane's only seat in fork mode, else seat `index`
  // of the one lane. The lane takes it back (no call through this node).
  Lease seat_of(std::uint32_t index) {
    if constexpr (Fork) return Lease(lanes_[index].get(), 0);
    return Lease(lanes_.front().get(), index);
  }

  [[gnu::noinline]] void accept_queued(Envelope<In>&& item, Lease& upstream) {
    lanes_.front()->accept(std::move(item), upstream, ordered_,
                           [this](std::uint32_t seat, Envelope<In>&& admitted) {
                             run(seat, std::move(admitted), nullptr);
                           });
  }

  [[gnu::noinline]] void fail_once(Worker& worker, Lease& lease, std::uint64_t seq,
                                   Carried<Out>&& result) {
    pass_on(worker, lease, seq, failure(std::move(*result.error()), 1, nullptr));
  }

  [[gnu::noinline]] void run_general(Worker& worker, std::uint32_t index, Envelope<In>&& item) {
    Lease lease = seat_of(index);
    Outcome outcome = process(worker, std::move(item.value));
    if constexpr (Fork) {
      if (auto merged = fork_join_.join(item.seq, index, lanes_.size(), std::move(outcome)))
        pass_on(worker, lease, item.seq, std::move(*merged));
    } else {
      pass_on(worker, lease, item.seq, std::move(outcome));
    }
  }

  // Every attempt the retry policy allows; the item is copied for each but the last.
  Outcome process(Worker& worker, Carried<In>&& input) {
    if (!input && !worker.accepts_errors)  // an upstream error passes through untouched
      return Outcome{std::unexpected(std::move(input.error()))};
    const bool keep_item = static_cast<bool>(core_.options.dead_letter);
    for (int attempt = 1;; ++attempt) {
      const bool last_try = attempt >= core_.retry.attempts && !keep_item;
      Carried<Out> result =
          last_try ? invoke(worker, std::move(input)) : invoke(worker, copy(input));
      if (result) {
        Outcome ok{std::move(result)};
        if (keep_item && Fork && input) ok.item.emplace(std::move(*input));
        return ok;
      }
      if (last_try || !core_.retries_after(attempt, *result.error()))
        return failure(std::move(*result.error()), attempt, keep_item && input ? &*input : nullptr);
      ++worker.counters.retried;
    }
  }

  Outcome failure(Error&& error, int attempts, In* item) {
    Outcome failed{carried_error(core_.failed(std::move(error), attempts)), true};
    if (item) failed.item.emplace(std::move(*item));
    return failed;
  }

  static Carried<In> copy(const Carried<In>& input) {
    if constexpr (std::is_copy_constructible_v<In>) {
      if (input) return Carried<In>(*input);
      return carried_error(*input.error());
    } else {
      std::terminate();  // unreachable: validate() forbids retries and dead letters then
    }
  }

  Carried<Out> invoke(Worker& worker, Carried<In>&& input) {
    if (--worker.until_sample != 0) [[likely]] {
      Scheduler::enter_handler();
      Carried<Out> result = call_handler(worker.handler, std::move(input), worker.state);
      Scheduler::leave_handler();
      return result;
    }
    return invoke_timed(worker, std::move(input));
  }

  [[gnu::noinline]] Carried<Out> invoke_timed(Worker& worker, Carried<In>&& input) {
    Scheduler::enter_handler();
    const auto started = Clock::now();
    Carried<Out> result = call_handler(worker.handler, std::move(input), worker.state);
    const auto took = Clock::now() - started;
    Scheduler::leave_handler();
    worker.counters.busy += took * worker.sample_every;
    core_.latency.record(took);
    worker.sample_every = took >= long_call_ ? 1 : kSampleEvery;
    worker.until_sample = worker.sample_every;
    cost_ns_.store(static_cast<std::uint64_t>(std::chrono::nanoseconds(took).count()),
                   std::memory_order_relaxed);
    return result;
  }

  // Counts the outcome, applies the error policy and sends on what goes downstream. Failures
  // after the run was stopped are not counted, dead-lettered or passed on.
  void pass_on(Worker& worker, Lease& lease, std::uint64_t seq, Outcome&& outcome) {
    if (outcome.value && !ordered_) {  // the hot path
      ++worker.counters.processed;
      return core_.downstream.accept(Envelope<Out>{std::move(outcome.value)}, lease);
    }
    std::optional<Envelope<Out>> out;
    if (outcome.value) {
      ++worker.counters.processed;
      out.emplace(Envelope<Out>{std::move(outcome.value)});
    } else if (!outcome.failed_here) {
      out.emplace(Envelope<Out>{std::move(outcome.value)});
    } else if (core_.context.stopped()) {
      return;  // the run is ending: an item that failed meanwhile was abandoned, not failed
    } else {
      ++worker.counters.failed;
      if (core_.settle(*outcome.value.error(), outcome.item ? &*outcome.item : nullptr))
        out.emplace(Envelope<Out>{std::move(outcome.value)});
    }
    if (ordered_) {
      reorderer_.deliver(seq, std::move(out), core_.downstream, *scheduler_);
    } else if (out) {
      core_.downstream.accept(std::move(*out), lease);
    }
  }

  std::shared_ptr<const StageSpec<In, Out>> spec_;
  const StageCore<In, Out> core_;
  const bool ordered_;
  const bool simple_;    // no fork, no order, one attempt, no dead letter
  const bool discards_;  // the last stage of a run(): values go nowhere
  Scheduler* scheduler_ = nullptr;
  std::vector<std::unique_ptr<Lane<In>>> lanes_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<std::uint64_t> cost_ns_{0};
  ForkJoin<In, Out> fork_join_;  // fork mode only
  Reorderer<Out> reorderer_;
  const std::chrono::nanoseconds long_call_;  // a call this long is timed every time
};

// The node of a stage as built for one run: workers calling `handler` directly when the stage
// has one plain handler and no fork (work_pool knows its type), else through std::function.
template <class In, class Out, class F>
DirectNodeFactory<In, Out> direct_node_factory(F handler, bool accepts_errors) {
  return [handlers = std::vector<DirectHandler<F>>{DirectHandler<F>(std::move(handler))},
          errors = std::vector<bool>{accepts_errors}](
             const std::shared_ptr<const StageSpec<In, Out>>& spec, std::string name,
             InletBase& downstream, RunContext& context) {
    auto node = std::make_unique<StageNode<In, Out, false, DirectHandler<F>>>(
        spec, handlers, errors, std::move(name), static_cast<Inlet<Out>&>(downstream), context);
    InletBase* inlet = static_cast<Inlet<In>*>(node.get());
    return BuiltNode{std::move(node), inlet};
  };
}

}  // namespace tendril::detail
