// tendril/detail/stage_node.hpp — one stage of a running pipeline: its queue(s) and workers.
//
// Pool mode: one input queue of `buffer` items shared by `num_workers` threads. Fork mode
// (fork_merge): every worker has its own queue of `buffer` items; each item is numbered and
// copied to all of them, and the worker that delivers the last branch of an item merges the
// branches of that item — matched by number, never by arrival. Ordered mode passes items on in
// the order they entered the stage, through a bounded reorder window.
//
// At most buffer×queues + workers + reorder window items are inside a stage at any time.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "tendril/bounded_queue.hpp"
#include "tendril/detail/channel.hpp"
#include "tendril/detail/run_context.hpp"
#include "tendril/stage.hpp"
#include "tendril/worker_state.hpp"

namespace tendril::detail {

// Passes items on in `seq` order. A deliverer whose seq is `window` or more ahead of the next
// one waits; the holder of the next seq never waits, so the window cannot deadlock.
template <class Out>
class Reorderer {
 public:
  explicit Reorderer(std::size_t window) : window_(window) {}

  void deliver(std::uint64_t seq, std::optional<Envelope<Out>>&& item, Inlet<Out>& downstream) {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return seq < next_ + window_ || aborted_; });
    if (aborted_) return;
    if (seq != next_) {
      waiting_.emplace(seq, std::move(item));
      return;
    }
    if (item) downstream.push(std::move(*item));
    ++next_;
    for (auto it = waiting_.find(next_); it != waiting_.end(); it = waiting_.find(next_)) {
      if (it->second) downstream.push(std::move(*it->second));
      waiting_.erase(it);
      ++next_;
    }
    lock.unlock();
    room_.notify_all();
  }

  void abort() {
    {
      std::lock_guard lock(mutex_);
      aborted_ = true;
    }
    room_.notify_all();
  }

 private:
  const std::size_t window_;
  std::mutex mutex_;
  std::condition_variable room_;
  std::map<std::uint64_t, std::optional<Envelope<Out>>> waiting_;  // guarded by mutex_
  std::uint64_t next_ = 0;                                          // guarded by mutex_
  bool aborted_ = false;                                            // guarded by mutex_
};

template <class In, class Out>
class StageNode final : public NodeBase, public Inlet<In> {
 public:
  StageNode(std::shared_ptr<const StageSpec<In, Out>> spec, std::string name,
            Inlet<Out>& downstream, RunContext& context)
      : spec_(std::move(spec)),
        options_(spec_->options),
        name_(std::move(name)),
        fork_(spec_->fork()),
        downstream_(downstream),
        context_(context),
        reorderer_(2 * options_.num_workers + options_.buffer) {
    const std::size_t queue_count = fork_ ? options_.num_workers : 1;
    for (std::size_t i = 0; i < queue_count; ++i)
      queues_.push_back(std::make_unique<BoundedQueue<Envelope<In>>>(options_.buffer));
    for (std::size_t i = 0; i < options_.num_workers; ++i) {
      const std::size_t h = i % spec_->handlers.size();
      workers_.push_back(std::make_unique<Worker>(
          WorkerState(name_, i, context_.stop_token()), spec_->handlers[h],
          spec_->accepts_errors[h]));
    }
    context_.on_abort([this] {
      for (auto& queue : queues_) queue->abort();
      reorderer_.abort();
    });
  }

  ~StageNode() override { join(); }

  // Inlet side: called by the upstream producers.
  void expect_producers(std::size_t count) override { producers_.expect(count); }
  void producer_done() override {
    if (producers_.done())
      for (auto& queue : queues_) queue->close();
  }
  bool push(Envelope<In>&& item) override {
    if (!fork_) return queues_.front()->push(std::move(item));
    std::lock_guard lock(dispatch_mutex_);
    item.seq = next_seq_++;
    if constexpr (std::is_copy_constructible_v<In>) {
      for (std::size_t i = 0; i + 1 < queues_.size(); ++i)
        if (!queues_[i]->push(Envelope<In>{item.value, item.seq})) return false;
    }
    return queues_.back()->push(std::move(item));
  }

  // Node side: called by the run.
  std::size_t workers() const override { return workers_.size(); }
  void start() override {
    for (std::size_t i = 0; i < workers_.size(); ++i) threads_.emplace_back([this, i] { work(i); });
  }
  void join() override {
    for (auto& thread : threads_)
      if (thread.joinable()) thread.join();
  }
  StageMetrics metrics() const override {
    StageMetrics m{.name = name_, .workers = workers_.size(), .queue_capacity = options_.buffer};
    for (const auto& w : workers_) {
      m.processed += w->counters.processed;
      m.failed += w->counters.failed;
      m.retried += w->counters.retried;
      m.busy += w->counters.busy;
    }
    for (const auto& queue : queues_)
      m.queue_high_water = std::max(m.queue_high_water, queue->high_water());
    return m;
  }

 private:
  using Clock = std::chrono::steady_clock;

  struct alignas(64) Counters {  // written by its worker only; read after join
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
  };
  // What became of one item in one worker.
  struct Outcome {
    Result<Out> value;
    bool failed_here = false;  // false for an upstream error passed through
    std::optional<In> item = {};  // kept for dead_letter
  };
  struct Cohort {  // the branches of one item in fork mode
    std::vector<std::optional<Result<Out>>> parts = {};
    std::size_t arrived = 0;
    bool failed_here = false;
    std::optional<In> item = {};
  };

  void work(std::size_t index) {
    Worker& worker = *workers_[index];
    auto& queue = *queues_[fork_ ? index : 0];
    std::uint64_t ticket = 0;
    while (auto envelope = queue.pop(&ticket)) {
      const std::uint64_t seq = fork_ ? envelope->seq : ticket;
      Outcome outcome = process(worker, std::move(envelope->value));
      if (!fork_) {
        pass_on(worker, seq, std::move(outcome));
      } else if (auto cohort = join_cohort(seq, index, std::move(outcome))) {
        pass_on(worker, seq, merge(std::move(*cohort)));
      }
    }
    downstream_.producer_done();
  }

  Outcome process(Worker& worker, Result<In>&& input) {
    if (!input && !worker.accepts_errors)  // an upstream error passes through untouched
      return Outcome{std::unexpected(std::move(input.error()))};
    const bool keep_item = static_cast<bool>(options_.dead_letter);
    Error last;
    int attempts = 0;
    while (attempts < options_.retries) {
      if (attempts > 0) {
        if (context_.stopped()) break;
        ++worker.counters.retried;
      }
      ++attempts;
      const bool last_try = attempts == options_.retries && !keep_item;
      Result<Out> result = last_try ? invoke(worker, std::move(input)) : invoke(worker, copy(input));
      if (result) {
        Outcome ok{std::move(result)};
        if (keep_item && fork_ && input) ok.item.emplace(std::move(*input));
        return ok;
      }
      last = std::move(result.error());
      if (last.kind == ErrorKind::kill_switch) break;
    }
    last.stage = name_;
    last.attempts = attempts;
    Outcome failed{std::unexpected(std::move(last)), true};
    if (keep_item && input) failed.item.emplace(std::move(*input));
    return failed;
  }

  static Result<In> copy(const Result<In>& input) {
    if constexpr (std::is_copy_constructible_v<In>) {
      return input;
    } else {
      std::terminate();  // unreachable: validate() forbids retries and dead letters then
    }
  }

  static Result<Out> invoke(Worker& worker, Result<In>&& input) {
    const auto started = Clock::now();
    Result<Out> result = [&]() -> Result<Out> {
      try {
        return worker.handler(std::move(input), worker.state);
      } catch (const KillSwitch& stop) {
        return std::unexpected(Error{.kind = ErrorKind::kill_switch, .message = stop.what()});
      } catch (const std::exception& e) {
        return std::unexpected(Error{.kind = ErrorKind::handler, .message = e.what()});
      } catch (...) {
        return std::unexpected(Error{.kind = ErrorKind::handler, .message = "unknown exception"});
      }
    }();
    worker.counters.busy += Clock::now() - started;
    return result;
  }

  std::optional<Cohort> join_cohort(std::uint64_t seq, std::size_t branch, Outcome&& outcome) {
    std::lock_guard lock(cohorts_mutex_);
    Cohort& cohort = cohorts_[seq];
    if (cohort.parts.empty()) cohort.parts.resize(queues_.size());
    cohort.parts[branch].emplace(std::move(outcome.value));
    cohort.failed_here |= outcome.failed_here;
    if (!cohort.item && outcome.item) cohort.item = std::move(outcome.item);
    if (++cohort.arrived < queues_.size()) return std::nullopt;
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
      return Outcome{std::unexpected(Error{.kind = ErrorKind::handler,
                                           .message = std::string("fork_merge failed: ") + e.what(),
                                           .stage = name_,
                                           .attempts = 1}),
                     true, std::move(cohort.item)};
    }
  }

  // Counts the outcome, applies the error policy and sends on what goes downstream. Failures
  // after the run was stopped are not counted, dead-lettered or passed on.
  void pass_on(Worker& worker, std::uint64_t seq, Outcome&& outcome) {
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
      const Error& error = outcome.value.error();
      if (options_.dead_letter && outcome.item) {
        try {
          options_.dead_letter(*outcome.item, error);
        } catch (...) {  // a failing dead-letter sink must not take the stage down
        }
      }
      if (error.kind == ErrorKind::kill_switch || options_.on_error == OnError::fail_fast) {
        context_.fail(error);
      } else if (options_.on_error == OnError::pass) {
        out.emplace(Envelope<Out>{std::move(outcome.value)});
      }
    }
    if (options_.ordered) {
      reorderer_.deliver(seq, std::move(out), downstream_);
    } else if (out) {
      downstream_.push(std::move(*out));
    }
  }

  std::shared_ptr<const StageSpec<In, Out>> spec_;
  const PoolOptions<In, Out>& options_;
  const std::string name_;
  const bool fork_;
  Inlet<Out>& downstream_;
  RunContext& context_;
  std::vector<std::unique_ptr<BoundedQueue<Envelope<In>>>> queues_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  ProducerCount producers_;
  std::mutex dispatch_mutex_;                                // fork mode: numbers items
  std::uint64_t next_seq_ = 0;                               // guarded by dispatch_mutex_
  std::mutex cohorts_mutex_;
  std::unordered_map<std::uint64_t, Cohort> cohorts_;        // guarded by cohorts_mutex_
  Reorderer<Out> reorderer_;
};

}  // namespace tendril::detail
