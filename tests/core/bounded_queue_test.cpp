#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <tendril/core/bounded_queue.hpp>
#include <thread>
#include <vector>

#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using tendril::BoundedQueue;

TEST(BoundedQueue, RejectsZeroCapacity) {
  EXPECT_THROW(BoundedQueue<int>(0), std::invalid_argument);
}

TEST(BoundedQueue, TryPushFailsWhenFullAndLeavesTheItem) {
  BoundedQueue<std::string> queue(1);
  std::string a = "a", b = "b";
  EXPECT_TRUE(queue.try_push(a));
  EXPECT_FALSE(queue.try_push(b));
  EXPECT_EQ(b, "b");
  EXPECT_EQ(queue.size(), 1u);
}

TEST(BoundedQueue, CloseLetsConsumersDrainThenEnds) {
  BoundedQueue<int> queue(4);
  queue.push(1);
  queue.push(2);
  queue.close();
  EXPECT_FALSE(queue.push(3));
  EXPECT_EQ(queue.pop(), 1);
  EXPECT_EQ(queue.pop(), 2);
  EXPECT_EQ(queue.pop(), std::nullopt);
}

TEST(BoundedQueue, PopForTellsATimeoutFromTheEnd) {
  BoundedQueue<int> queue(2);
  bool timed_out = false;
  EXPECT_EQ(queue.pop_for(1ms, timed_out), std::nullopt);
  EXPECT_TRUE(timed_out);
  queue.push(7);
  EXPECT_EQ(queue.pop_for(1ms, timed_out), 7);
  EXPECT_FALSE(timed_out);
  queue.close();
  EXPECT_EQ(queue.pop_for(1ms, timed_out), std::nullopt);
  EXPECT_FALSE(timed_out);  // closed and drained: the end, not a timeout
}

TEST(BoundedQueue, AbortDropsItemsAndWakesABlockedProducer) {
  tendril::testing::Watchdog watchdog(10s, "abort wakes producer");
  BoundedQueue<int> queue(1);
  queue.push(1);
  std::atomic<bool> returned{false};
  bool pushed = true;
  std::thread producer([&] {
    pushed = queue.push(2);  // blocks: the queue is full
    returned = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(returned);
  queue.abort();
  producer.join();
  EXPECT_FALSE(pushed);
  EXPECT_EQ(queue.pop(), std::nullopt);
}

TEST(BoundedQueue, TicketsNumberItemsInPushOrder) {
  BoundedQueue<char> queue(3);
  queue.push('a');
  queue.push('b');
  std::uint64_t ticket = 99;
  queue.pop(&ticket);
  EXPECT_EQ(ticket, 0u);
  queue.pop(&ticket);
  EXPECT_EQ(ticket, 1u);
}

TEST(BoundedQueue, ManyProducersAndConsumersLoseAndDuplicateNothing) {
  tendril::testing::Watchdog watchdog(30s, "queue stress");
  constexpr int kProducers = 4, kConsumers = 3, kEach = 20000;
  BoundedQueue<int> queue(8);
  std::vector<std::thread> producers, consumers;
  std::vector<std::vector<int>> seen(kConsumers);
  for (int p = 0; p < kProducers; ++p)
    producers.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) queue.push(p * kEach + i);
    });
  for (int c = 0; c < kConsumers; ++c)
    consumers.emplace_back([&, c] {
      while (auto item = queue.pop()) seen[c].push_back(*item);
    });
  for (auto& t : producers) t.join();
  queue.close();
  for (auto& t : consumers) t.join();
  std::vector<int> all;
  for (auto& s : seen) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  std::vector<int> expected(kProducers * kEach);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(all, expected);
  EXPECT_LE(queue.high_water(), 8u);
}
