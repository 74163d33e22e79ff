#include "tendril/core/scheduler.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>

namespace tendril::detail {

namespace {

using namespace std::chrono_literals;
// The monitor's period: short while waking threads is useful, doubling up to the longest
// while it is not, so that a busy machine is not interrupted for nothing.
constexpr std::chrono::microseconds kShortestTick = 100us;
constexpr std::chrono::microseconds kLongestTick = 2000us;
constexpr std::uint64_t kHeavyHandlerNs = 1000;  // worth a second core
constexpr int kSpinsBeforeSleep = 256;           // a few microseconds

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

Scheduler::Scheduler(std::size_t threads, std::stop_token stop, std::chrono::nanoseconds idle_spin)
    : stop_(std::move(stop)),
      idle_spin_(idle_spin),
      handler_ticks_(threads, nullptr),
      cores_(std::max(1u, std::thread::hardware_concurrency())) {}

Scheduler::~Scheduler() {
  stop();
  wait();
}

void Scheduler::start() {
  if (handler_ticks_.empty()) return;  // no threads: the owner runs the work itself
  {
    std::lock_guard lock(mutex_);
    active_ = 1;  // one thread starts awake; the rest are woken when there is use for them
    sleeping_ = 0;
  }
  for (std::size_t i = 0; i < handler_ticks_.size(); ++i)
    threads_.emplace_back([this, i] { thread_main(i); });
  monitor_ = std::thread([this] { monitor_main(); });
}

void Scheduler::wait() {
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  wake_.notify_all();
  monitor_wake_.notify_all();
  if (monitor_.joinable()) monitor_.join();
}

void Scheduler::stop() {
  stopping_.store(true);
  { std::lock_guard lock(mutex_); }
  wake_.notify_all();
  monitor_wake_.notify_all();
}

void Scheduler::before_blocking() {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // the work pushed, then the look
  if (spinning_.load(std::memory_order_relaxed) > 0) return;
  std::lock_guard lock(mutex_);
  if (sleeping_ > wake_tokens_) {
    ++wake_tokens_;
    wake_.notify_one();
  }
}

bool Scheduler::find_and_run() {
  if (queued_items_.load(std::memory_order_acquire) != 0)
    for (Runner* runner : runners_)
      if (runner->try_run()) return true;
  return source_->try_run();
}

void Scheduler::finish_locked() {
  finished_ = true;
  wake_.notify_all();
  monitor_wake_.notify_all();
  if (finished_hook_) finished_hook_();
}

// Work, and when there is none, look again a few hundred times before sleeping (another thread
// often holds the source for just a moment), then for idle_spin_ more, yielding between looks.
void Scheduler::look_for_work() {
  for (;;) {
    for (int misses = 0;
         misses < kSpinsBeforeSleep && !stopping_.load(std::memory_order_relaxed);) {
      if (find_and_run()) {
        misses = 0;
      } else {
        ++misses;
        cpu_relax();
      }
    }
    if (idle_spin_.count() == 0 || stopping_.load(std::memory_order_relaxed)) return;
    // While spinning_ counts this thread, before_blocking() wakes no sleeper: this thread
    // takes what arrives. The look after leaving pairs with before_blocking()'s fence, so
    // that work pushed while it still counted is seen here or a sleeper is woken for it.
    spinning_.fetch_add(1);
    const auto until = std::chrono::steady_clock::now() + idle_spin_;
    bool found = false;
    while (!found && !stopping_.load(std::memory_order_relaxed) &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::yield();
      found = find_and_run();
    }
    spinning_.fetch_sub(1);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!found && !find_and_run()) return;
  }
}

void Scheduler::thread_main(std::size_t index) {
  ::pthread_setname_np(::pthread_self(), "tendril-worker");  // as top -H and gdb show it
  std::unique_lock lock(mutex_);
  // The monitor reads this thread's tick only while it is registered; every return below
  // holds the lock, so the registration ends under it, before the tick goes with the thread.
  struct TickRegistration {
    const std::atomic<std::uint64_t>*& slot;
    ~TickRegistration() { slot = nullptr; }
  };
  handler_ticks_[index] = &handler_tick_;
  TickRegistration registration{handler_ticks_[index]};
  if (index > 0) {  // all but the first start asleep
    ++sleeping_;
    wake_.wait(lock, [&] { return wake_tokens_ > 0 || finished_ || stopping_; });
    --sleeping_;
    if (finished_ || stopping_) return;
    --wake_tokens_;
    if (++active_ == 1) monitor_wake_.notify_one();  // the monitor rests while all sleep
  }
  for (;;) {
    lock.unlock();
    look_for_work();
    lock.lock();
    if (finished_) return;
    if (stopping_ || stop_.stop_requested()) {
      if (--active_ == 0) finish_locked();
      return;
    }
    if (active_ == 1) {
      // The last thread awake: no other thread can add work, so if everything is drained the
      // run is over. Work it could not take yet (a racing release) means look again; work
      // under way elsewhere (coroutines on the event loop) means sleep until it reports.
      bool drained = source_->drained();
      for (Runner* runner : runners_) drained = drained && runner->drained();
      if (drained) {
        active_ = 0;
        finish_locked();
        return;
      }
      bool runnable = source_->runnable();
      for (Runner* runner : runners_) runnable = runnable || runner->runnable();
      if (runnable) continue;
    }
    --active_;
    ++sleeping_;
    sleeps_.fetch_add(1, std::memory_order_relaxed);
    wake_.wait(lock, [&] { return wake_tokens_ > 0 || finished_ || stopping_; });
    --sleeping_;
    if (finished_) return;
    if (stopping_) {
      if (active_ == 0) finish_locked();
      return;
    }
    --wake_tokens_;
    if (++active_ == 1) monitor_wake_.notify_one();
  }
}

std::size_t Scheduler::threads_worth_waking() const {
  bool runnable = source_->runnable(), heavy = false;
  for (Runner* runner : runners_) {
    runnable = runnable || runner->runnable();
    heavy = heavy || runner->cost_ns() >= kHeavyHandlerNs;
  }
  if (!runnable) return 0;
  // Each thread stuck in one handler call for over a tick (blocked, most likely) is worth a
  // replacement, so blocking stages ramp up exponentially; heavy handlers are worth one more
  // thread while a core is free for it.
  const std::uint64_t now = global_tick_.load(std::memory_order_relaxed);
  std::size_t stuck = 0;
  for (const auto* tick : handler_ticks_) {
    if (!tick) continue;
    const std::uint64_t since = tick->load(std::memory_order_relaxed);
    if (since != kIdle && since + 2 <= now) ++stuck;
  }
  if (stuck) return stuck;
  return heavy && active_ < cores_ ? 1 : 0;
}

void Scheduler::monitor_main() {
  ::pthread_setname_np(::pthread_self(), "tendril-monitor");
  std::unique_lock lock(mutex_);
  auto tick = kShortestTick;
  while (!finished_ && !stopping_) {
    if (active_ == 0) {
      // Every thread sleeps: nothing can be stuck or worth a helper until one is woken (by
      // work arriving), and that wakes the monitor too. An idle flow Runtime costs no ticks.
      monitor_wake_.wait(lock);
      tick = kShortestTick;
      continue;
    }
    monitor_wake_.wait_for(lock, tick);
    global_tick_.fetch_add(1, std::memory_order_relaxed);
    if (finished_ || stopping_) break;
    const std::size_t asleep = sleeping_ - std::min(sleeping_, wake_tokens_);
    if (const std::size_t wanted = asleep ? std::min(asleep, threads_worth_waking()) : 0) {
      wake_tokens_ += wanted;
      for (std::size_t i = 0; i < wanted; ++i) wake_.notify_one();
      tick = kShortestTick;
    } else {
      tick = std::min(tick * 2, kLongestTick);
    }
  }
}

}  // namespace tendril::detail
