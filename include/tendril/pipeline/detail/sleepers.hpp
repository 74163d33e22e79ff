// tendril/pipeline/detail/sleepers.hpp — every tendril::sleep_for on one execution context (the
// run's io_context), waiting on one timer.
//
// A sleep is a small node in a deadline-ordered heap, not a timer and a wait operation of its
// own (a steady_timer is 120 bytes, its wait operation 165, and the coroutine frame that keeps
// the timer alive ~150 more: for 10,000 coroutines asleep at once, that was ~4 MiB). The one
// timer is armed for the earliest deadline; when it fires, every sleeper due is woken through
// its handler's executor.
//
// - Per-operation cancellation (a handler's cancellation slot, as asio's awaitable operators
//   use) completes the sleep at once with operation_aborted, as a steady_timer's wait does; its
//   node stays in the heap, marked, until the heap is compacted (when half its nodes are
//   marked) or its deadline comes.
// - The io_context's shutdown (a cancelled run destroys its suspended coroutines so) destroys
//   every sleeper unwoken, and with it the coroutine frames its handler owns.
//
// Thread-safety: the heap is guarded by a mutex, so an io_context run by several threads may
// sleep on any of them; handlers are invoked with the mutex released.
#pragma once

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution/context.hpp>
#include <asio/execution_context.hpp>
#include <asio/query.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

namespace tendril::detail {

class Sleepers final : public asio::execution_context::service {
 public:
  using Clock = std::chrono::steady_clock;
  static inline asio::execution_context::id id;

  explicit Sleepers(asio::execution_context& context) : service(context) {}

  // Completes `handler` (void(std::error_code)) through its associated executor at `deadline`,
  // or at once with operation_aborted when its cancellation slot is emitted. The first call's
  // executor (one of this context's) is the timer's.
  template <class Handler>
  void add(Clock::time_point deadline, Handler handler) {
    auto owned = std::make_unique<SleeperOf<Handler>>(std::move(handler));
    SleeperOf<Handler>& sleeper = *owned;
    sleeper.deadline = deadline;
    std::vector<Sleeper*> let_go;
    {
      std::lock_guard lock(mutex_);
      if (!timer_) timer_.emplace(asio::get_associated_executor(sleeper.handler));
      heap_.push_back(owned.get());
      owned.release();  // the heap owns it
      std::push_heap(heap_.begin(), heap_.end(), later);
      rearm(let_go);
      // Connected under the lock: a cancel emitted from now on finds the node in the heap.
      auto slot = asio::get_associated_cancellation_slot(sleeper.handler);
      if (slot.is_connected()) slot.template emplace<Cancel>(this, &sleeper);
    }
    for (Sleeper* s : let_go) delete s;
  }

  // Nodes in the heap, woken or cancelled ones not yet let go included; for tests.
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return heap_.size();
  }

 private:
  struct Sleeper {
    virtual ~Sleeper() = default;
    // Completes the handler with `error` (the mutex not held); once.
    virtual void complete(std::error_code error) = 0;
    Clock::time_point deadline;
    // waiting in the heap; taken from it to be woken (a cancel then comes too late and is
    // ignored); or cancelled, and left in the heap until it is let go.
    enum class State : unsigned char { waiting, waking, cancelled } state = State::waiting;
  };

  template <class Handler>
  struct SleeperOf final : Sleeper {
    explicit SleeperOf(Handler h) : handler(std::move(h)) {}
    ~SleeperOf() override {
      if (!completed) disconnect();  // destroyed unwoken: the slot must not call into it
    }
    void complete(std::error_code error) override {
      disconnect();
      completed = true;
      auto executor = asio::get_associated_executor(handler);
      asio::dispatch(
          executor, [handler = std::move(handler), error]() mutable { std::move(handler)(error); });
    }
    void disconnect() {
      auto slot = asio::get_associated_cancellation_slot(handler);
      if (slot.is_connected()) slot.clear();
    }
    Handler handler;
    bool completed = false;  // the handler has been moved out
  };

  struct Cancel {
    Sleepers* service;
    Sleeper* sleeper;
    void operator()(asio::cancellation_type type) {
      if (type != asio::cancellation_type::none) service->cancel(sleeper);
    }
  };

  static bool later(const Sleeper* a, const Sleeper* b) { return a->deadline > b->deadline; }

  // The mutex held: after the heap changed. Lets go of the marked nodes (into `let_go`, for
  // the caller to delete without the lock) once they are half the heap or all of it, then sets
  // the timer for the earliest deadline, or cancels it when no sleeper waits: a cancelled sleep
  // must not keep its context's run() going.
  void rearm(std::vector<Sleeper*>& let_go) {
    if (marked_ > 0 && marked_ * 2 >= heap_.size()) {
      const auto kept = std::partition(heap_.begin(), heap_.end(), [](const Sleeper* s) {
        return s->state != Sleeper::State::cancelled;
      });
      let_go.insert(let_go.end(), kept, heap_.end());
      heap_.erase(kept, heap_.end());
      std::make_heap(heap_.begin(), heap_.end(), later);
      marked_ = 0;
    }
    if (heap_.empty()) {
      timer_->cancel();
      armed_ = Clock::time_point::max();
      return;
    }
    if (heap_.front()->deadline == armed_) return;
    armed_ = heap_.front()->deadline;
    timer_->expires_at(armed_);  // cancels the wait for the later deadline
    timer_->async_wait([this](std::error_code error) {
      if (error != asio::error::operation_aborted) wake_due();
    });
  }

  void wake_due() {
    std::vector<Sleeper*> due;
    std::vector<Sleeper*> let_go;
    {
      std::lock_guard lock(mutex_);
      armed_ = Clock::time_point::max();
      const auto now = Clock::now();
      while (!heap_.empty() && heap_.front()->deadline <= now) {
        std::pop_heap(heap_.begin(), heap_.end(), later);
        Sleeper* sleeper = heap_.back();
        heap_.pop_back();
        if (sleeper->state == Sleeper::State::cancelled) {
          --marked_;
          let_go.push_back(sleeper);
        } else {
          sleeper->state = Sleeper::State::waking;
          due.push_back(sleeper);
        }
      }
      rearm(let_go);
    }
    for (Sleeper* sleeper : let_go) delete sleeper;
    for (Sleeper* sleeper : due) {
      std::unique_ptr<Sleeper> owned(sleeper);
      owned->complete({});
    }
  }

  void cancel(Sleeper* sleeper) {
    std::vector<Sleeper*> let_go;
    {
      std::lock_guard lock(mutex_);
      if (sleeper->state != Sleeper::State::waiting) return;  // ended, or being woken
      sleeper->state = Sleeper::State::cancelled;  // stays in the heap, owned there, until let go
      ++marked_;
    }
    sleeper->complete(asio::error::operation_aborted);
    {
      std::lock_guard lock(mutex_);
      rearm(let_go);
    }
    for (Sleeper* s : let_go) delete s;
  }

  // Destroys every sleeper, unwoken: with it go the coroutine frames its handler owns.
  void shutdown() override {
    std::vector<Sleeper*> all;
    {
      std::lock_guard lock(mutex_);
      all.swap(heap_);
      marked_ = 0;
    }
    for (Sleeper* sleeper : all) delete sleeper;
    timer_.reset();
  }

  std::mutex mutex_;
  std::vector<Sleeper*> heap_;               // guarded by mutex_; owned; a min-heap by deadline
  std::size_t marked_ = 0;                   // guarded by mutex_: cancelled nodes in heap_
  std::optional<asio::steady_timer> timer_;  // guarded by mutex_
  Clock::time_point armed_ = Clock::time_point::max();  // guarded by mutex_: the timer's wait
};

// sleep_for's operation, started when the coroutine awaits it, on the Sleepers of the awaiting
// coroutine's execution context.
struct SleepFor {
  Sleepers::Clock::duration duration;
  template <class Handler>
  void operator()(Handler&& handler) const {
    asio::execution_context& context =
        asio::query(asio::get_associated_executor(handler), asio::execution::context);
    asio::use_service<Sleepers>(context).add(Sleepers::Clock::now() + duration,
                                             std::forward<Handler>(handler));
  }
};

}  // namespace tendril::detail
