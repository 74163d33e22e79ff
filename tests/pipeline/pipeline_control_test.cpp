// Backpressure, run outcomes, cancellation, early exit and metrics (issue points 4, 10, 11).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <latch>
#include <ranges>
#include <string>
#include <tendril/tendril.hpp>
#include <thread>
#include <vector>

#include "support/watchdog.hpp"

namespace td = tendril;
using namespace std::chrono_literals;

namespace {

// A source that yields `count` items (or forever, for 0) and records how many are in flight:
// yielded but not yet finished by the last stage.
struct FlightRecorder {
  std::atomic<long> produced{0};
  std::atomic<long> finished{0};
  std::atomic<long> peak{0};

  auto source(long count) {
    return [this, count, next = 0L]() mutable -> std::optional<long> {
      if (count && next == count) return std::nullopt;
      const long in_flight = ++produced - finished.load();
      long seen = peak.load();
      while (in_flight > seen && !peak.compare_exchange_weak(seen, in_flight)) {
      }
      return next++;
    };
  }
};

// Runs `pipe` on this thread and cancels it from another once `started` opens.
template <class P>
td::Result<td::Metrics> run_cancelling_once(P& pipe, std::latch& started) {
  std::thread canceller([&] {
    started.wait();
    pipe.cancel();
  });
  auto result = pipe.run();
  canceller.join();
  return result;
}

long stress_items() {
  const char* env = std::getenv("TENDRIL_STRESS_ITEMS");
  return env ? std::atol(env) : 1'000'000;
}

}  // namespace

TEST(Backpressure, AFastSourceIntoASlowStageHoldsNoMoreThanTheBuffersAllow) {
  tendril::testing::Watchdog watchdog(60s, "backpressure");
  FlightRecorder flight;
  auto fast =
      td::work_pool({.buffer = 2, .num_workers = 2}, [](long x, td::WorkerState&) { return x; });
  auto slow = td::work_pool({.buffer = 3}, [&](long x, td::WorkerState&) {
    std::this_thread::sleep_for(200us);
    ++flight.finished;
    return x;
  });
  auto result = (td::Pipeline(flight.source(400)) >> fast >> slow).run();
  ASSERT_TRUE(result);
  // In hand at the source 1, fast: queue 2 + workers 2, slow: queue 3 + worker 1.
  const long bound = 1 + (2 + 2) + (3 + 1);
  EXPECT_LE(flight.peak, bound);
  EXPECT_GE(flight.peak, bound - 2) << "the buffers should fill up behind the slow stage";
  EXPECT_EQ(result->stages[1].queue_high_water, 3u);
}

TEST(BackpressureStress, AMillionItemsThroughBufferEightStagesStayBounded) {
  tendril::testing::Watchdog watchdog(240s, "million items");
  FlightRecorder flight;
  const long n = stress_items();
  auto a = td::work_pool({.buffer = 8, .num_workers = 2},
                         [](long x, td::WorkerState&) { return x * 3; });
  auto b = td::work_pool({.buffer = 8}, [](long x, td::WorkerState&) { return x % 1000; });
  auto c = td::work_pool({.buffer = 8}, [&](long x, td::WorkerState&) {
    ++flight.finished;
    return x;
  });
  auto result = (td::Pipeline(flight.source(n)) >> a >> b >> c).run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->processed, static_cast<std::uint64_t>(n));
  EXPECT_LE(flight.peak, 1 + (8 + 2) + (8 + 1) + (8 + 1));
}

TEST(RunOutcome, ASourceThatThrowsFailsTheRunAfterEarlierItemsAreProcessed) {
  int next = 0;
  std::atomic<int> handled{0};
  auto pipe = td::Pipeline([&]() -> std::optional<int> {
                if (next == 5) throw std::runtime_error("disk gone");
                return next++;
              }) >>
              td::work_pool([&](int x, td::WorkerState&) {
                ++handled;
                return x;
              });
  auto result = pipe.run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, td::ErrorKind::source);
  EXPECT_EQ(result.error().describe(), "source failed: disk gone");
  EXPECT_EQ(handled, 5);
  EXPECT_EQ(pipe.last_metrics()->processed, 5u);
}

TEST(RunOutcome, CancelFromAnotherThreadEndsAnEndlessRun) {
  tendril::testing::Watchdog watchdog(30s, "cancel endless run");
  std::latch ten_done(10);
  std::atomic<int> seen{0};
  FlightRecorder flight;
  auto pipe = td::Pipeline(flight.source(0)) >>
              td::work_pool({.num_workers = 2}, [&](long x, td::WorkerState&) {
                if (++seen <= 10) ten_done.count_down();
                return x;
              });
  std::thread canceller([&] {
    ten_done.wait();
    EXPECT_TRUE(pipe.cancel("operator said stop"));
  });
  auto result = pipe.run();
  canceller.join();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, td::ErrorKind::cancelled);
  EXPECT_EQ(result.error().message, "operator said stop");
  EXPECT_FALSE(pipe.cancel()) << "nothing is running any more";
}

TEST(RunOutcome, CancelReachesAHandlerThatWaitsOnItsStopToken) {
  tendril::testing::Watchdog watchdog(30s, "cancel a hanging handler");
  std::latch started(1);
  auto hang = td::work_pool([&](int x, td::WorkerState& state) {
    started.count_down();
    while (!state.stop_requested()) std::this_thread::sleep_for(1ms);
    return x;
  });
  auto pipe = td::Pipeline(std::vector{1, 2, 3}) >> hang;
  auto result = run_cancelling_once(pipe, started);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, td::ErrorKind::cancelled);
}

TEST(RunOutcome, AThrownKillSwitchStopsEverything) {
  tendril::testing::Watchdog watchdog(30s, "kill switch");
  FlightRecorder flight;
  auto guard = td::work_pool({.retries = 5, .name = "guard"}, [](long x, td::WorkerState&) {
    if (x == 50) throw td::KillSwitch("found the needle");
    return x;
  });
  auto result = (td::Pipeline(flight.source(0)) >> guard).run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, td::ErrorKind::kill_switch);
  EXPECT_EQ(result.error().describe(), "kill switch in stage 'guard': found the needle");
  EXPECT_EQ(result.error().attempts, 1) << "a kill switch is never retried";
}

TEST(RunOutcome, AReturnedKillSwitchStopsEverything) {
  auto guard = td::work_pool([](int x, td::WorkerState&) -> td::Result<int> {
    if (x == 3) return td::kill_switch("enough");
    return x;
  });
  auto result = (td::Pipeline(std::views::iota(0, 1'000'000)) >> guard).run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, td::ErrorKind::kill_switch);
  EXPECT_EQ(result.error().message, "enough");
}

TEST(Metrics, CountProcessedFailedRetriedBusyTimeAndQueueHighWater) {
  auto stage = td::work_pool({.buffer = 4, .retries = 2, .num_workers = 2, .name = "sleepy"},
                             [](int x, td::WorkerState&) -> td::Result<int> {
                               std::this_thread::sleep_for(1ms);
                               if (x % 5 == 0) return td::Err("multiple of five");
                               return x;
                             });
  auto result = (td::Pipeline(std::views::iota(0, 20)) >> stage).run();
  ASSERT_TRUE(result);
  const auto& s = result->stages.at(0);
  EXPECT_EQ(s.name, "sleepy");
  EXPECT_EQ(s.workers, 2u);
  EXPECT_EQ(s.processed, 16u);
  EXPECT_EQ(s.failed, 4u);
  EXPECT_EQ(s.retried, 4u);
  EXPECT_GE(s.busy, 24ms);            // 24 handler calls of at least 1 ms each
  EXPECT_LE(s.queue_high_water, 4u);  // the Backpressure tests fill queues on purpose
  EXPECT_EQ(result->produced, 20u);
  EXPECT_GE(result->duration, 12ms);
  EXPECT_NE(result->table().find("sleepy"), std::string::npos);
}

TEST(Iter, StreamsResultsAsTheyCome) {
  auto pipe = td::Pipeline(std::views::iota(0, 100)) >>
              td::work_pool([](int x, td::WorkerState&) { return x * x; });
  long sum = 0;
  auto items = pipe.iter(4);
  for (int v : items) sum += v;
  EXPECT_EQ(sum, 328350);
  auto result = items.result();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->processed, 100u);
}

TEST(Iter, LeavingTheLoopEarlyCancelsUpstreamAndJoinsEveryThread) {
  tendril::testing::Watchdog watchdog(30s, "early exit");
  // Each worker holds a guard in its WorkerState; the guard dies with its worker.
  static std::atomic<int> live_guards{0};
  struct Guard {
    Guard() { ++live_guards; }
    ~Guard() { --live_guards; }
  };
  FlightRecorder flight;
  auto a = td::work_pool({.buffer = 4, .num_workers = 3}, [](long x, td::WorkerState& state) {
    state.get_or_create("guard", [] { return std::make_unique<Guard>(); });
    return x;
  });
  auto b = td::work_pool({.buffer = 2, .num_workers = 2}, [](long x, td::WorkerState& state) {
    state.get_or_create("guard", [] { return std::make_unique<Guard>(); });
    std::this_thread::sleep_for(100us);
    return x;
  });
  auto pipe = td::Pipeline(flight.source(0)) >> a >> b;  // endless
  int taken = 0;
  for (long v : pipe.iter(2)) {
    (void)v;
    if (++taken == 25) break;
  }
  EXPECT_EQ(live_guards, 0) << "every worker and its state are gone when the loop is left";
  const long produced_after = flight.produced;
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(flight.produced, produced_after) << "the source stopped";
  auto metrics = pipe.last_metrics();
  ASSERT_TRUE(metrics);
  EXPECT_GE(metrics->processed, 25u);
}

TEST(Iter, ResultAfterAnEarlyStopSaysTheIterationWasCancelled) {
  auto pipe = td::Pipeline(std::views::iota(0, 1000)) >>
              td::work_pool([](int x, td::WorkerState&) { return x; });
  auto items = pipe.iter();
  auto it = items.begin();
  EXPECT_EQ(*it, 0);
  auto result = items.result();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, td::ErrorKind::cancelled);
}

TEST(RunOutcome, AnItemThatFailsBecauseOfTheCancelIsNeitherCountedNorDeadLettered) {
  tendril::testing::Watchdog watchdog(30s, "failure after cancel");
  std::latch started(1);
  std::atomic<int> dead{0};
  auto stage = td::work_pool({.dead_letter = [&](const int&, const td::Error&) { ++dead; }},
                             [&](int, td::WorkerState& state) -> td::Result<int> {
                               started.count_down();
                               while (!state.stop_requested()) std::this_thread::sleep_for(1ms);
                               return td::Err("gave up: cancelled");
                             });
  auto pipe = td::Pipeline(std::vector{1, 2}) >> stage;
  auto result = run_cancelling_once(pipe, started);
  ASSERT_FALSE(result);
  EXPECT_EQ(dead, 0);
  EXPECT_EQ(pipe.last_metrics()->failed, 0u);
}
