// Time as a test input: a ManualClock moves only when told, and wakes exactly the waiters due.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <tendril/core/clock.hpp>
#include <thread>

using namespace std::chrono_literals;

TEST(ManualClock, WakesAWaiterOnlyWhenTimeReachesItsDueTime) {
  tendril::ManualClock clock;
  const auto start = clock.now();
  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    std::unique_lock lock(mutex);
    while (clock.now() < start + 50ms) clock.wait_until(wake, lock, start + 50ms);
    woke = true;
  });
  while (clock.waiters() == 0) std::this_thread::yield();
  clock.advance(49ms);
  EXPECT_FALSE(woke.load());
  EXPECT_EQ(clock.waiters(), 1u);
  EXPECT_EQ(clock.advance_to_next_due(), start + 50ms);
  waiter.join();
  EXPECT_TRUE(woke.load());
  EXPECT_EQ(clock.now(), start + 50ms);
  EXPECT_EQ(clock.waiters(), 0u);
  EXPECT_FALSE(clock.advance_to_next_due());  // nobody waits
}

TEST(ManualClock, AWaiterWhoseTimeHasComeDoesNotWait) {
  tendril::ManualClock clock;
  std::mutex mutex;
  std::condition_variable wake;
  std::unique_lock lock(mutex);
  clock.wait_until(wake, lock, clock.now());  // returns at once
  EXPECT_EQ(clock.waiters(), 0u);
}

TEST(Clock, TheSteadyClockIsSteadyTime) {
  const auto before = std::chrono::steady_clock::now();
  const auto now = tendril::Clock::steady().now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, std::chrono::steady_clock::now());
}

TEST(Clock, TheCostOfAReadIsMeasuredOnceAndIsPlausible) {
  const auto cost = tendril::detail::steady_clock_read_cost();
  EXPECT_EQ(tendril::detail::steady_clock_read_cost(), cost);  // measured once per process
  EXPECT_GE(cost, 0ns);
  EXPECT_LT(cost, 1ms);  // the least of 16 pairs: even a sanitizer build reads in microseconds
}
