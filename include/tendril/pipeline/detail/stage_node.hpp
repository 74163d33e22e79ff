// tendril/pipeline/detail/stage_node.hpp — one stage of a running pipeline: its lanes and workers.
//
// A lane is a bounded queue with worker slots. Pool mode: one lane of `buffer` items whose
// `num_workers` slots any thread may take. Fork mode (fork_merge): one lane per worker; each
// item is numbered and copied into every lane, and the thread that finishes an item's last
// branch merges its branches — matched by number, never by arrival. Ordered mode passes items
// on in the order they took a slot, through a bounded reorder window.
//
// accept() runs an arriving item at once on the calling thread when a slot is free and nothing
// is queued before it; otherwise it queues the item, or, when the lane is full and every slot
// busy, waits (backpressure). At most buffer × lanes + workers + reorder window items are inside
// a stage at any time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "tendril/core/scheduler.hpp"
#include "tendril/core/worker_state.hpp"
#include "tendril/pipeline/detail/channel.hpp"
#include "tendril/pipeline/detail/lane.hpp"
#include "tendril/pipeline/detail/reorderer.hpp"
#include "tendril/pipeline/detail/run_context.hpp"
#include "tendril/pipeline/stage.hpp"

namespace tendril::detail {

// What a stage does with an item that failed every attempt, once the caller has counted it:
// hands it to the dead letter (when there is one and the item was kept) and applies the error
// policy. Returns true when the error is to travel downstream as a value.
template <class In, class Out>
bool settle_failure(const PoolOptions<In, Out>& options, RunContext& context, const Error& error,
                    const In* item) {
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

template <class In, class Out>
class StageNode final : public NodeBase, public Inlet<In>, public Runner, public SlotOwner {
 public:
  StageNode(std::shared_ptr<const StageSpec<In, Out>> spec, std::string name,
            Inlet<Out>& downstream, RunContext& context)
      : spec_(std::move(spec)),
        options_(spec_->options),
        name_(std::move(name)),
        fork_(spec_->fork()),
        ordered_(options_.ordered && (fork_ || options_.num_workers > 1)),
        simple_(!fork_ && !ordered_ && options_.retries == 1 && !options_.dead_letter),
        downstream_(downstream),
        context_(context),
        reorderer_(2 * options_.num_workers + options_.buffer) {
    if (fork_) {
      for (std::size_t i = 0; i < options_.num_workers; ++i)
        lanes_.push_back(std::make_unique<Lane<In>>(options_.buffer, 1));
    } else {
      lanes_.push_back(std::make_unique<Lane<In>>(options_.buffer, options_.num_workers));
    }
    for (std::size_t i = 0; i < options_.num_workers; ++i) {
      const std::size_t h = i % spec_->handlers.size();
      workers_.push_back(std::make_unique<Worker>(WorkerState(name_, i, context_.stop_token()),
                                                  spec_->handlers[h], spec_->accepts_errors[h]));
    }
    context_.on_abort([this] {
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
    StageMetrics m{.name = name_, .workers = workers_.size(), .queue_capacity = options_.buffer};
    for (const auto& w : workers_) {
      m.processed += w->counters.processed;
      m.failed += w->counters.failed;
      m.retried += w->counters.retried;
      m.busy += w->counters.busy;
    }
    for (const auto& lane : lanes_)
      m.queue_high_water = std::max(m.queue_high_water, lane->high_water());
    return m;
  }

  // Inlet: an item arrives from upstream.
  void accept(Envelope<In>&& item, Lease& upstream) override {
    if (fork_) return dispatch(std::move(item), upstream);
    lanes_.front()->accept(
        std::move(item), upstream, ordered_,
        [this](std::uint32_t slot, Envelope<In>&& admitted) { run(slot, std::move(admitted)); });
  }

  bool can_accept() const override {
    for (const auto& lane : lanes_)
      if (!lane->has_room() && (fork_ || !lane->has_free_slot())) return false;
    return true;
  }

  bool has_free_worker() const override {
    for (const auto& lane : lanes_)
      if (!lane->has_free_slot()) return false;
    return true;
  }

  // Runner: a thread looking for work.
  bool try_run() override {
    for (std::size_t i = 0; i < lanes_.size(); ++i) {
      std::uint32_t slot;
      Envelope<In> item;
      if (!lanes_[i]->take(slot, item, ordered_ && !fork_)) continue;
      run(fork_ ? static_cast<std::uint32_t>(i) : slot, std::move(item));
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

  // SlotOwner: `slot` is the worker's index.
  void release_slot(std::uint32_t worker) override {
    if (fork_) return lanes_[worker]->release(0);
    lanes_.front()->release(worker);
  }

 private:
  using Clock = std::chrono::steady_clock;

  struct Counters {  // touched only by the thread holding the worker's slot
    std::uint64_t processed = 0;
    std::uint64_t failed = 0;
    std::uint64_t retried = 0;
    std::chrono::nanoseconds busy{0};
  };
  struct Worker {
    Worker(WorkerState s, ErasedHandler<In, Out> h, bool errors)
        : state(std::move(s)), handler(std::move(h)), accepts_errors(errors) {}
    WorkerState state;
    ErasedHandler<In, Out> handler;  // each worker owns a copy of the callable
    bool accepts_errors;
    Counters counters;
    // Handler time is measured on every call while calls are long, and on one call in
    // kSampleEvery while they are short (the clock would cost more than the handler).
    std::uint32_t sample_every = 1;
    std::uint32_t until_sample = 1;
  };
  static constexpr std::uint32_t kSampleEvery = 16;
  static constexpr std::chrono::nanoseconds kShortCall{2000};

  struct Outcome {
    Carried<Out> value;
    bool failed_here = false;     // false for an upstream error passed through
    std::optional<In> item = {};  // kept for dead_letter
  };
  struct Cohort {  // the branches of one item in fork mode
    std::vector<std::optional<Carried<Out>>> parts = {};
    std::size_t arrived = 0;
    bool failed_here = false;
    std::optional<In> item = {};
  };

  // Fork mode: number the item and queue a copy in every worker's lane.
  void dispatch(Envelope<In>&& item, Lease& upstream) {
    std::lock_guard dispatch_lock(dispatch_mutex_);
    item.seq = next_seq_++;
    for (std::size_t i = 0; i + 1 < lanes_.size(); ++i) {
      if constexpr (std::is_copy_constructible_v<In>) {
        if (!lanes_[i]->enqueue(Envelope<In>{copy(item.value), item.seq})) return;
      }
    }
    if (!lanes_.back()->enqueue(std::move(item))) return;
    upstream.release();
  }

  // Runs worker `index` on `item` and passes the outcome on; the worker's slot is held.
  void run(std::uint32_t index, Envelope<In>&& item) {
    Worker& worker = *workers_[index];
    Lease lease(this, index);
    if (simple_ && item.value) {  // the hot path: one attempt, nothing to keep, nothing to order
      Carried<Out> result = invoke(worker, std::move(item.value));
      if (result) {
        ++worker.counters.processed;
        return downstream_.accept(Envelope<Out>{std::move(result)}, lease);
      }
      return pass_on(worker, lease, item.seq, failure(std::move(*result.error()), 1, nullptr));
    }
    Outcome outcome = process(worker, std::move(item.value));
    if (!fork_) return pass_on(worker, lease, item.seq, std::move(outcome));
    if (auto cohort = join_cohort(item.seq, index, std::move(outcome)))
      pass_on(worker, lease, item.seq, merge(std::move(*cohort)));
  }

  Outcome process(Worker& worker, Carried<In>&& input) {
    if (!input && !worker.accepts_errors)  // an upstream error passes through untouched
      return Outcome{std::unexpected(std::move(input.error()))};
    const bool keep_item = static_cast<bool>(options_.dead_letter);
    if (options_.retries == 1 && !keep_item) {  // the common case: one attempt, item moved in
      Carried<Out> result = invoke(worker, std::move(input));
      if (result) return Outcome{std::move(result)};
      return failure(std::move(*result.error()), 1, nullptr);
    }
    std::optional<Error> last;
    int attempts = 0;
    while (attempts < options_.retries) {
      if (attempts > 0) {
        if (context_.stopped()) break;
        ++worker.counters.retried;
      }
      ++attempts;
      const bool last_try = attempts == options_.retries && !keep_item;
      Carried<Out> result =
          last_try ? invoke(worker, std::move(input)) : invoke(worker, copy(input));
      if (result) {
        Outcome ok{std::move(result)};
        if (keep_item && fork_ && input) ok.item.emplace(std::move(*input));
        return ok;
      }
      last = std::move(*result.error());
      if (last->kind == ErrorKind::kill_switch) break;
    }
    if (!last) last = Error{.kind = ErrorKind::cancelled, .message = "run stopped before retrying"};
    return failure(std::move(*last), attempts, keep_item && input ? &*input : nullptr);
  }

  Outcome failure(Error&& error, int attempts, In* item) {
    error.stage = name_;
    error.attempts = attempts;
    Outcome failed{carried_error(std::move(error)), true};
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

  static Carried<Out> call(Worker& worker, Carried<In>&& input) {
    try {
      return worker.handler(std::move(input), worker.state);
    } catch (const KillSwitch& stop) {
      return carried_error(Error{.kind = ErrorKind::kill_switch, .message = stop.what()});
    } catch (const std::exception& e) {
      return carried_error(Error{.kind = ErrorKind::handler, .message = e.what()});
    } catch (...) {
      return carried_error(Error{.kind = ErrorKind::handler, .message = "unknown exception"});
    }
  }

  Carried<Out> invoke(Worker& worker, Carried<In>&& input) {
    Scheduler::enter_handler();
    if (--worker.until_sample != 0) {
      Carried<Out> result = call(worker, std::move(input));
      Scheduler::leave_handler();
      return result;
    }
    const auto started = Clock::now();
    Carried<Out> result = call(worker, std::move(input));
    const auto took = Clock::now() - started;
    Scheduler::leave_handler();
    worker.counters.busy += took * worker.sample_every;
    worker.sample_every = took >= kShortCall ? 1 : kSampleEvery;
    worker.until_sample = worker.sample_every;
    cost_ns_.store(static_cast<std::uint64_t>(std::chrono::nanoseconds(took).count()),
                   std::memory_order_relaxed);
    return result;
  }

  std::optional<Cohort> join_cohort(std::uint64_t seq, std::size_t branch, Outcome&& outcome) {
    std::lock_guard lock(cohorts_mutex_);
    Cohort& cohort = cohorts_[seq];
    if (cohort.parts.empty()) cohort.parts.resize(lanes_.size());
    cohort.parts[branch].emplace(std::move(outcome.value));
    cohort.failed_here |= outcome.failed_here;
    if (!cohort.item && outcome.item) cohort.item = std::move(outcome.item);
    if (++cohort.arrived < lanes_.size()) return std::nullopt;
    std::optional<Cohort> complete(std::move(cohort));
    cohorts_.erase(seq);
    return complete;
  }

  Outcome merge(Cohort&& cohort) {
    std::vector<Out> values;
    values.reserve(cohort.parts.size());
    for (auto& part : cohort.parts) {
      if (!*part) return Outcome{std::move(*part), cohort.failed_here, std::move(cohort.item)};
      values.push_back(std::move(**part));
    }
    try {
      return Outcome{options_.fork_merge(std::move(values))};
    } catch (const std::exception& e) {
      return Outcome{carried_error(Error{.kind = ErrorKind::handler,
                                         .message = std::string("fork_merge failed: ") + e.what(),
                                         .stage = name_,
                                         .attempts = 1}),
                     true, std::move(cohort.item)};
    }
  }

  // Counts the outcome, applies the error policy and sends on what goes downstream. Failures
  // after the run was stopped are not counted, dead-lettered or passed on.
  void pass_on(Worker& worker, Lease& lease, std::uint64_t seq, Outcome&& outcome) {
    if (outcome.value && !ordered_) {  // the hot path
      ++worker.counters.processed;
      return downstream_.accept(Envelope<Out>{std::move(outcome.value)}, lease);
    }
    std::optional<Envelope<Out>> out;
    if (outcome.value) {
      ++worker.counters.processed;
      out.emplace(Envelope<Out>{std::move(outcome.value)});
    } else if (!outcome.failed_here) {
      out.emplace(Envelope<Out>{std::move(outcome.value)});
    } else if (context_.stopped()) {
      return;  // the run is ending: an item that failed meanwhile was abandoned, not failed
    } else {
      ++worker.counters.failed;
      if (settle_failure(options_, context_, *outcome.value.error(),
                         outcome.item ? &*outcome.item : nullptr))
        out.emplace(Envelope<Out>{std::move(outcome.value)});
    }
    if (ordered_) {
      reorderer_.deliver(seq, std::move(out), downstream_, *scheduler_);
    } else if (out) {
      downstream_.accept(std::move(*out), lease);
    }
  }

  std::shared_ptr<const StageSpec<In, Out>> spec_;
  const PoolOptions<In, Out>& options_;
  const std::string name_;
  const bool fork_;
  const bool ordered_;
  const bool simple_;  // no fork, no order, one attempt, no dead letter
  Inlet<Out>& downstream_;
  RunContext& context_;
  Scheduler* scheduler_ = nullptr;
  std::vector<std::unique_ptr<Lane<In>>> lanes_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<std::uint64_t> cost_ns_{0};
  std::mutex dispatch_mutex_;   // fork mode: numbers and copies items
  std::uint64_t next_seq_ = 0;  // guarded by dispatch_mutex_
  std::mutex cohorts_mutex_;
  std::unordered_map<std::uint64_t, Cohort> cohorts_;  // guarded by cohorts_mutex_
  Reorderer<Out> reorderer_;
};

}  // namespace tendril::detail
