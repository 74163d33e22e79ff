// tendril/core/scheduler.hpp — the threads of one run, and how they find work.
//
// Run-to-completion: a thread that takes an item carries it through as many stages as it can
// (a stage's worker seat is taken before the previous one is let go, so one-worker stages keep
// FIFO order), and only queues it when the next stage is busy. Cheap stages therefore run on
// one core with no handoff; more threads are woken only when there is runnable work and the
// handlers are heavy (≥ 1 µs on average) and a core is free, or one has been inside a handler
// for over a tick (0.1-2 ms), or when a thread is about to block. A run has one thread per worker
// seat plus one for the source, so blocking handlers still get `num_workers`-way concurrency.
//
// Threads that find nothing sleep; the last one awake decides whether the run is finished
// (source exhausted, every queue empty). Thread-safe: every member may be called from the
// run's threads; start() and wait() by the owner.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <stop_token>
#include <thread>
#include <utility>
#include <vector>

namespace tendril::detail {

// Something threads can run: a stage's queue(s) or the source.
class Runner {
 public:
  virtual ~Runner() = default;
  // Takes one unit of work and runs it (carrying its item downstream); false when none.
  virtual bool try_run() = 0;
  // Lock-free hint: is there work a free thread could take now?
  virtual bool runnable() const = 0;
  // True when nothing is queued or under way here (checked while no other thread is active).
  virtual bool drained() const = 0;
  // Recent nanoseconds per handler call (0 when unknown).
  virtual std::uint64_t cost_ns() const { return 0; }
};

// A held worker seat. Releasing it lets another thread use that worker. Move-only.
class SeatOwner {
 public:
  virtual ~SeatOwner() = default;
  virtual void release_seat(std::uint32_t seat) = 0;
};

class Lease {
 public:
  Lease() = default;
  Lease(SeatOwner* owner, std::uint32_t seat) : owner_(owner), seat_(seat) {}
  Lease(Lease&& other) noexcept : owner_(other.owner_), seat_(other.seat_) {
    other.owner_ = nullptr;
  }
  Lease& operator=(Lease&&) = delete;
  ~Lease() { release(); }
  void release() {
    if (owner_) std::exchange(owner_, nullptr)->release_seat(seat_);
  }

 private:
  SeatOwner* owner_ = nullptr;
  std::uint32_t seat_ = 0;
};

class Scheduler {
 public:
  // `threads` run the work; once `stop` is requested they finish what they hold and end. A
  // thread that runs out of work looks again for `idle_spin` (yielding the core to anyone who
  // wants it) before it sleeps, so that work arriving soon after needs no wake-up; 0: a few
  // hundred looks, a few microseconds. 0 threads: start() starts none (not even the monitor),
  // and the owner runs the work on its own threads.
  Scheduler(std::size_t threads, std::stop_token stop = {},
            std::chrono::nanoseconds idle_spin = std::chrono::nanoseconds(0));
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Before start(): stage runners in the order threads look at them (last stage first), and
  // the source, looked at after them.
  void add_runner(Runner* runner) { runners_.push_back(runner); }
  void set_source(Runner* source) { source_ = source; }
  // Before start(): called once, by the thread that sees the run finish or stop.
  void on_finished(std::function<void()> hook) { finished_hook_ = std::move(hook); }

  void start();
  void wait();  // joins every thread

  // A thread is about to block (on a full queue, a reorder window): wake a sleeper so that
  // work the blocked thread would have done is not left waiting.
  void before_blocking();
  // Work arrived from outside the run's threads (a coroutine finished on the event loop):
  // wake a sleeper to take it.
  void notify_work() { before_blocking(); }
  // Wakes every thread so that they see the run was stopped.
  void stop();

  // Handler bracketing, for stuck-handler detection: a relaxed load and store each, into the
  // calling thread's own tick (a run's monitor reads those of its threads; any other thread's
  // is written and never read).
  static void enter_handler() noexcept {
    handler_tick_.store(global_tick_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  static void leave_handler() noexcept { handler_tick_.store(kIdle, std::memory_order_relaxed); }

  // Items waiting in some queue of the run; threads skip scanning the stages while it is 0.
  std::atomic<std::size_t>& queued_items() noexcept { return queued_items_; }

  // Times a thread went to sleep for want of work since start(): how well idle_spin fits the
  // gaps between arrivals.
  std::uint64_t sleeps() const noexcept { return sleeps_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::uint64_t kIdle = std::numeric_limits<std::uint64_t>::max();
  static inline std::atomic<std::uint64_t> global_tick_{0};  // advanced by every run's monitor
  // The global tick when this thread entered the handler it is in, else kIdle.
  static inline thread_local std::atomic<std::uint64_t> handler_tick_{kIdle};

  void thread_main(std::size_t index);
  void look_for_work();  // until none is found for a while
  void monitor_main();
  bool find_and_run();
  std::size_t threads_worth_waking() const;  // with mutex_ held
  void finish_locked();

  std::stop_token stop_;
  const std::chrono::nanoseconds idle_spin_;
  std::vector<Runner*> runners_;
  Runner* source_ = nullptr;
  alignas(64) std::atomic<std::size_t> queued_items_{0};
  // Each thread's handler_tick_ while it runs, else nullptr; guarded by mutex_.
  std::vector<const std::atomic<std::uint64_t>*> handler_ticks_;
  const std::size_t cores_;
  std::vector<std::thread> threads_;
  std::thread monitor_;
  std::function<void()> finished_hook_;

  std::mutex mutex_;
  std::condition_variable wake_;          // sleepers wait here
  std::condition_variable monitor_wake_;  // the monitor waits here, so it never eats a wake-up
  std::size_t active_ = 0;                // guarded by mutex_: threads not asleep
  std::size_t sleeping_ = 0;              // guarded by mutex_
  std::size_t wake_tokens_ = 0;           // guarded by mutex_
  bool finished_ = false;                 // guarded by mutex_
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> spinning_{0};  // threads in their idle spin
  std::atomic<std::uint64_t> sleeps_{0};
};

}  // namespace tendril::detail
