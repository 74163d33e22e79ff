// tendril/pipeline/detail/async_stage.hpp — a stage whose handler is a coroutine (Task<Out>).
//
// Its workers are coroutine frames, not threads: `num_workers` bounds how many items are in
// flight at once, and each worker keeps its own WorkerState across the items it handles. A run
// with such a stage has one event-loop thread (Asio's io_context) on which the coroutines run
// and wait; their results are handed back to the run's scheduler threads, which count them,
// apply the error policy and carry them downstream. Cancelling the run stops its event loop and
// destroys every suspended coroutine: their timers and sockets close with them at once (the
// code after their pending co_await does not run; their destructors do).
//
// Thread-safety: accept/try_run run on scheduler threads and spawn coroutines onto the loop;
// coroutines and retries run on the event-loop thread; the two meet only in the lane, under
// `done_mutex_`, in atomics, and in Asio's own queue.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tendril/core/scheduler.hpp"
#include "tendril/pipeline/detail/channel.hpp"
#include "tendril/pipeline/detail/lane.hpp"
#include "tendril/pipeline/detail/run_context.hpp"
#include "tendril/pipeline/detail/stage_spec.hpp"
#include "tendril/pipeline/detail/stage_worker.hpp"

namespace tendril::detail {

// The run's event loop: one io_context and the thread that runs it.
//
// Teardown order matters: coroutines a stop left suspended are destroyed in finish(), while
// the stages they point into still exist; the io_context itself goes with the run context,
// after the stages, so that sockets kept in a WorkerState close against a live context.
class AsioLoop final : public EventLoop {
 public:
  AsioLoop() : work_(asio::make_work_guard(io_)) {}
  ~AsioLoop() override { finish(); }
  void start() override {
    thread_ = std::thread([this] { io_.run(); });
  }
  // Ends the loop at once; suspended coroutines are destroyed by finish().
  void stop() { io_.stop(); }
  void finish() override {
    work_.reset();
    if (thread_.joinable()) thread_.join();
    io_.destroy_pending_work();
  }
  asio::io_context& io() noexcept { return io_; }

 private:
  // An io_context whose pending work (suspended coroutines among it) can be destroyed
  // without destroying the context.
  struct Context : asio::io_context {
    Context() : asio::io_context(1) {}
    void destroy_pending_work() { shutdown(); }
  };
  Context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

// Where a coroutine stage hears that an attempt ended (on the event-loop thread).
template <class Out>
class AsyncDone {
 public:
  virtual ~AsyncDone() = default;
  virtual void finished(std::uint32_t worker, Carried<Out>&& value) = 0;
};

// A coroutine handler in the one shape the stage calls: it spawns one attempt on the loop and
// reports its result to `done`. The user's coroutine is spawned as it is when its result type
// can be default-constructed (what Asio needs), else inside a thin wrapper.
template <class In, class Out>
using AsyncHandler = std::function<void(asio::io_context&, Carried<In>&&, WorkerState&,
                                        AsyncDone<Out>*, std::uint32_t)>;

template <class F>
auto erase_async_handler(F fn) {
  using traits = handler_traits<F>;
  using In = typename traits::input;
  using Out = typename traits::output;
  using Raw = typename traits::raw_output;
  auto convert = [](Raw&& raw) -> Carried<Out> {
    if constexpr (traits::returns_result) {
      return to_carried<Out>(std::move(raw));
    } else {
      return Carried<Out>(std::move(raw));
    }
  };
  return AsyncHandler<In, Out>(
      [fn = std::move(fn), convert](asio::io_context& io, Carried<In>&& input, WorkerState& state,
                                    AsyncDone<Out>* done, std::uint32_t worker) mutable {
        auto call = [&](auto&& arg) {
          if constexpr (traits::takes_state) {
            return std::invoke(fn, std::forward<decltype(arg)>(arg), state);
          } else {
            return std::invoke(fn, std::forward<decltype(arg)>(arg));
          }
        };
        try {
          auto task = [&] {
            if constexpr (traits::accepts_errors) {
              return call(to_result(std::move(input)));
            } else {
              return call(std::move(*input));
            }
          }();
          if constexpr (std::is_default_constructible_v<Raw>) {
            asio::co_spawn(io, std::move(task), [=](std::exception_ptr error, Raw raw) {
              done->finished(worker,
                             error ? carried_error(error_from(error)) : convert(std::move(raw)));
            });
          } else {
            auto wrapped = [](asio::awaitable<Raw> inner) -> asio::awaitable<std::optional<Raw>> {
              co_return co_await std::move(inner);
            };
            asio::co_spawn(io, wrapped(std::move(task)),
                           [=](std::exception_ptr error, std::optional<Raw> raw) {
                             done->finished(worker, error ? carried_error(error_from(error))
                                                          : convert(std::move(*raw)));
                           });
          }
        } catch (...) {  // making the coroutine threw before it could start
          done->finished(worker, carried_error(error_from(std::current_exception())));
        }
      });
}

template <class In, class Out>
class AsyncStageNode final : public NodeBase,
                             public Inlet<In>,
                             public Runner,
                             public AsyncDone<Out> {
 public:
  AsyncStageNode(const PoolOptions<In, Out>& options, const AsyncHandler<In, Out>& handler,
                 bool accepts_errors, std::string name, Inlet<Out>& downstream, RunContext& context)
      : core_(options, std::move(name), downstream, context),
        keep_item_(options.retries > 1 || static_cast<bool>(options.dead_letter)),
        loop_(context.event_loop<AsioLoop>()),
        lane_(options.buffer, options.num_workers) {
    for (std::size_t i = 0; i < options.num_workers; ++i)
      workers_.push_back(std::make_unique<Worker>(WorkerState(core_.name, i, context.stop_token()),
                                                  handler, accepts_errors));
    context.on_abort([this] { abort(); });
  }

  // NodeBase
  std::size_t workers() const override { return workers_.size(); }
  // Its workers are frames, not threads; one thread is the stage's, for the one that carries
  // its results on (try_run) and may wait for room downstream meanwhile: with none, two
  // coroutine stages back to back could both wait for ever.
  std::size_t threads() const override { return 1; }
  Runner& runner() override { return *this; }
  void bind(Scheduler& scheduler) override {
    scheduler_ = &scheduler;
    queued_items_ = &scheduler.queued_items();
    lane_.bind(scheduler);
  }
  StageMetrics metrics() const override { return core_.metrics(workers_, lane_.high_water()); }

  // Inlet
  bool can_accept() const override { return lane_.has_free_seat() || lane_.has_room(); }
  bool has_free_worker() const override { return lane_.has_free_seat(); }
  void accept(Envelope<In>&& item, Lease& upstream) override {
    lane_.accept(std::move(item), upstream, false,
                 [this](std::uint32_t worker, Envelope<In>&& admitted) {
                   start(worker, std::move(admitted.value));
                 });
  }

  // Runner: results of finished coroutines first, then items waiting for a worker. One thread
  // at a time carries results on (it may wait for room downstream), so a run needs one thread
  // for this stage however many coroutines it has in flight.
  bool try_run() override {
    if (done_size_.load(std::memory_order_acquire) > 0 &&
        !carrying_.exchange(true, std::memory_order_acquire)) {
      std::unique_lock lock(done_mutex_);
      if (!done_.empty()) {
        Done done = std::move(done_.front());
        done_.pop_front();
        done_size_.fetch_sub(1, std::memory_order_relaxed);
        queued_items_->fetch_sub(1, std::memory_order_relaxed);
        lock.unlock();
        pass_on(done.worker, std::move(done.value));
        carrying_.store(false, std::memory_order_release);
        return true;
      }
      lock.unlock();
      carrying_.store(false, std::memory_order_release);
    }
    std::uint32_t worker;
    Envelope<In> item;
    if (!lane_.take(worker, item, false)) return false;
    start(worker, std::move(item.value));
    return true;
  }
  bool runnable() const override {
    return done_size_.load(std::memory_order_relaxed) > 0 || lane_.runnable();
  }
  bool drained() const override {
    // In flight first: a coroutine reports its result before it stops counting as in flight.
    return in_flight_.load() == 0 && done_size_.load() == 0 && lane_.empty();
  }

 private:
  using Clock = std::chrono::steady_clock;

  // Counters: processed and failed by the scheduler thread holding the worker, retried and
  // busy by the event-loop thread while its coroutine runs; read after the run.
  struct Worker : StageWorker<AsyncHandler<In, Out>> {
    using StageWorker<AsyncHandler<In, Out>>::StageWorker;
    std::optional<In> item;  // kept for retries and the dead letter
    int attempts = 0;
    Clock::time_point started;
  };
  struct Done {
    std::uint32_t worker;
    Carried<Out> value;
  };

  // On a scheduler thread, worker seat held: begin the item's first attempt.
  void start(std::uint32_t index, Carried<In>&& input) {
    Worker& worker = *workers_[index];
    if (!input && !worker.accepts_errors)  // an upstream error passes through untouched
      return forward(index, std::move(input));
    worker.attempts = 0;
    worker.item.reset();
    if constexpr (std::is_copy_constructible_v<In>) {
      if (keep_item_ && input) worker.item.emplace(*input);
    }
    in_flight_.fetch_add(1);
    spawn(index, std::move(input));
  }

  // One attempt, spawned onto the event loop (from any thread).
  void spawn(std::uint32_t index, Carried<In>&& input) {
    Worker& worker = *workers_[index];
    worker.started = Clock::now();
    worker.handler(loop_.io(), std::move(input), worker.state, this, index);
  }

  // On the event loop: an attempt ended. Retry it, or hand the result to the scheduler.
  void finished(std::uint32_t index, Carried<Out>&& value) override {
    Worker& worker = *workers_[index];
    const auto took = Clock::now() - worker.started;
    worker.counters.busy += took;
    core_.latency.record(took);
    ++worker.attempts;
    if (!value) {
      if (core_.retries_after(worker.attempts, *value.error()) && worker.item) {
        ++worker.counters.retried;
        if constexpr (std::is_copy_constructible_v<In>)
          return spawn(index, Carried<In>(*worker.item));
      }
      value = carried_error(core_.failed(std::move(*value.error()), worker.attempts));
    }
    {
      std::lock_guard lock(done_mutex_);
      done_.push_back(Done{index, std::move(value)});
      done_size_.fetch_add(1);
    }
    queued_items_->fetch_add(1, std::memory_order_release);
    in_flight_.fetch_sub(1);
    scheduler_->notify_work();
  }

  // On a scheduler thread, worker seat held: count the result and send it on.
  void pass_on(std::uint32_t index, Carried<Out>&& value) {
    Worker& worker = *workers_[index];
    Lease lease(&lane_, index);
    if (value) {
      ++worker.counters.processed;
      return core_.downstream.accept(Envelope<Out>{std::move(value)}, lease);
    }
    if (core_.context.stopped()) return;  // abandoned by the cancel, not failed
    ++worker.counters.failed;
    if (core_.settle(*value.error(), worker.item ? &*worker.item : nullptr))
      core_.downstream.accept(Envelope<Out>{std::move(value)}, lease);
  }

  void forward(std::uint32_t index, Carried<In>&& error) {
    Lease lease(&lane_, index);
    core_.downstream.accept(Envelope<Out>{std::unexpected(std::move(error.error()))}, lease);
  }

  void abort() {
    lane_.abort();
    loop_.stop();
  }

  const StageCore<In, Out> core_;
  const bool keep_item_;
  AsioLoop& loop_;
  Scheduler* scheduler_ = nullptr;
  std::atomic<std::size_t>* queued_items_ = nullptr;
  Lane<In> lane_;  // items waiting for a worker, and the workers' seats
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<std::size_t> in_flight_{0};

  std::atomic<bool> carrying_{false};  // a thread is carrying a result on

  std::mutex done_mutex_;
  std::deque<Done> done_;  // guarded by done_mutex_: finished coroutines
  std::atomic<std::size_t> done_size_{0};
};

template <class F>
struct coroutine_handlers_need_tendril_task_hpp : std::true_type {};

template <class In, class Out, class F>
AsyncNodeFactory<In, Out> async_node_factory(F handler) {
  return [handler = erase_async_handler(std::move(handler))](
             const PoolOptions<In, Out>& options, std::string name, InletBase& downstream,
             RunContext& context) {
    auto node = std::make_unique<AsyncStageNode<In, Out>>(
        options, handler, handler_traits<F>::accepts_errors, std::move(name),
        static_cast<Inlet<Out>&>(downstream), context);
    InletBase* inlet = static_cast<Inlet<In>*>(node.get());
    return BuiltNode{std::move(node), inlet};
  };
}

}  // namespace tendril::detail
