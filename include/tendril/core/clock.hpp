// tendril/core/clock.hpp — time as an input: the steady clock, or a manual one for tests.
//
// Whatever waits for a time (a flow's retry delays and `time_interval` timers) reads `now()`
// and waits with `wait_until()` on its own condition variable, so a `ManualClock` can stand in
// for the steady clock and a test moves time with `advance()` instead of sleeping.
//
// Thread-safe: every member may be called from any thread. A clock must outlive everything that
// uses it (a Runtime given one in its options).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <vector>

namespace tendril {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  virtual time_point now() const noexcept = 0;
  // With `lock` held (the mutex `wake` is used with): blocks until `due` by this clock or until
  // `wake` is notified; may return early (callers loop on their condition).
  virtual void wait_until(std::condition_variable& wake, std::unique_lock<std::mutex>& lock,
                          time_point due) = 0;

  // The steady clock (std::chrono::steady_clock), shared.
  static Clock& steady() noexcept;
};

// Time that moves only when a test says so. Starts at an arbitrary fixed point.
class ManualClock final : public Clock {
 public:
  time_point now() const noexcept override;
  void wait_until(std::condition_variable& wake, std::unique_lock<std::mutex>& lock,
                  time_point due) override;

  // Moves time forward by `by` and wakes every waiter whose due time has come.
  void advance(duration by);
  // Moves time to the earliest time a waiter waits for, if any is waiting; returns it.
  std::optional<time_point> advance_to_next_due();
  // How many threads wait in wait_until() now.
  std::size_t waiters() const;

 private:
  struct Waiter {
    std::condition_variable* wake;
    std::mutex* mutex;
    time_point due;
    std::size_t ticket;
  };
  // With lock on mutex_: sets the time and wakes (after unlocking) the waiters now due.
  void move_to(std::unique_lock<std::mutex>& lock, time_point to);

  mutable std::mutex mutex_;
  time_point now_{std::chrono::hours(1)};  // guarded by mutex_
  std::vector<Waiter> waiters_;            // guarded by mutex_
  std::size_t next_ticket_ = 0;            // guarded by mutex_
};

namespace detail {

// What one read of std::chrono::steady_clock costs on this machine (the least of a few
// back-to-back pairs, measured once per process): 20-60 ns on a VM, microseconds under a
// binary instrumenter. Callers that time work decide from it whether timing is worth its cost.
std::chrono::nanoseconds steady_clock_read_cost() noexcept;

}  // namespace detail

}  // namespace tendril
