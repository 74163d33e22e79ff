// src/state/wake_word.hpp — one thread sleeps (with a timeout) until another says there is
// work, and the one that says so never blocks and is never missed.
//
// A condition variable notified without its mutex can lose the notification: the sleeper
// checks its condition, the other thread changes it and notifies, and only then does the
// sleeper start waiting. Here the sleeper reads the word's epoch before it checks, and the
// kernel sleeps only while the epoch is still what it read (a futex): a notify in between makes
// the wait return at once. notify() is an atomic increment and, when the sleeper may be asleep,
// one FUTEX_WAKE.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace tendril::state {

class WakeWord {
 public:
  // Before checking for work: the value to hand to sleep().
  std::uint32_t epoch() const noexcept { return epoch_.load(std::memory_order_seq_cst); }

  // Sleeps up to `timeout`, unless notify() was called since `seen` was read.
  void sleep(std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept {
    if (timeout <= std::chrono::nanoseconds::zero()) return;
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    timespec relative{static_cast<time_t>(seconds.count()),
                      static_cast<long>((timeout - seconds).count())};
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&epoch_), FUTEX_WAIT_PRIVATE, seen,
              &relative, nullptr, 0);
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
  }

  // There is work: wakes the sleeper, or makes its next sleep() return at once. Never blocks.
  void notify() noexcept {
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0)
      ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&epoch_), FUTEX_WAKE_PRIVATE, 1,
                nullptr, nullptr, 0);
  }

 private:
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<int> sleepers_{0};
};

}  // namespace tendril::state
